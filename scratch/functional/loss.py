"""Softmax cross-entropy and the L2 penalty: forward/backward pairs."""
from __future__ import annotations

import numpy as np


def cross_entropy_forward(logits, target, reduction="mean"):
    """Softmax cross-entropy from logits, through a stable log-softmax.

    logits: (N, K) float; target: (N,) integer class indices in [0, K).
    reduction: 'mean' (default), 'sum' or 'none'. Finite for any finite logits.
    Cache: ``(log_probs, target, reduction)``.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    losses = -log_probs[np.arange(len(target)), target]
    if reduction == "mean":
        loss = losses.mean(dtype=logits.dtype)
    elif reduction == "sum":
        loss = losses.sum(dtype=logits.dtype)
    else:
        loss = losses
    return np.asarray(loss, dtype=logits.dtype), (log_probs, target, reduction)


def cross_entropy_backward(dloss, cache):
    """``dlogits = (softmax - onehot) * dloss`` (divided by N for 'mean')."""
    log_probs, target, reduction = cache
    n = len(target)
    grad = np.exp(log_probs)
    grad[np.arange(n), target] -= 1
    dloss = np.asarray(dloss, dtype=grad.dtype)
    if reduction == "none":
        return grad * dloss[:, None]
    scale = dloss / n if reduction == "mean" else dloss
    return grad * scale


def l2_penalty(arrays, lam):
    """``0.5 * lam * sum(w**2)`` over the given arrays, in their dtype."""
    arrays = list(arrays)
    dtype = arrays[0].dtype if arrays else np.float64
    total = sum((np.vdot(a, a) for a in arrays), start=np.zeros((), dtype))
    return np.asarray(0.5 * lam * total, dtype=dtype)


def l2_penalty_backward(arrays, lam, dout=1.0):
    """Gradient of :func:`l2_penalty`: ``dout * lam * w`` for each array."""
    return [a * a.dtype.type(lam * dout) for a in arrays]
