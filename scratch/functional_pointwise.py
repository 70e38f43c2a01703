"""Activations, batch normalisation, softmax cross-entropy and the L2 penalty.

Forward/backward pairs with the same contract as :mod:`scratch.functional`
(import them from there): ``*_forward -> (out, cache)``,
``*_backward(dout, cache) -> gradients``.
"""
from __future__ import annotations

import numpy as np


def _zero(like):
    return np.zeros((), like.dtype)


# --------------------------------------------------------------------------- activations
def relu_forward(x):
    """``max(x, 0)``; the cache is the mask ``x > 0`` (torch's gradient at 0 is 0)."""
    return np.maximum(x, 0), x > 0


def relu_backward(dout, mask):
    return dout * mask


def leaky_relu_forward(x, negative_slope=0.01):
    """``x`` where ``x > 0`` else ``negative_slope * x``; at 0 the slope side is used."""
    mask = x > 0
    return np.where(mask, x, x * x.dtype.type(negative_slope)), (mask, negative_slope)


def leaky_relu_backward(dout, cache):
    mask, slope = cache
    return np.where(mask, dout, dout * dout.dtype.type(slope))


def _channel_view(weight, ndim):
    """Broadcast a per-channel weight (P,) against (N, C, ...)."""
    if ndim == 0:
        return weight.reshape(())
    return weight.reshape((1, -1) + (1,) * (ndim - 2)) if ndim > 1 else weight


def prelu_forward(x, weight):
    """PReLU with a learned slope: ``weight`` is (1,) or (C,) for input (N, C, ...)."""
    mask = x > 0
    a = _channel_view(weight, x.ndim)
    return np.where(mask, x, a * x), (x, mask, weight)


def prelu_backward(dout, cache):
    """Returns ``(dx, dweight)``."""
    x, mask, weight = cache
    a = _channel_view(weight, x.ndim)
    dx = np.where(mask, dout, a * dout)
    contrib = np.where(mask, _zero(x), x * dout)
    if weight.size == 1:
        dweight = contrib.sum().reshape(1)
    else:
        axes = (0,) + tuple(range(2, x.ndim))
        dweight = contrib.sum(axis=axes)
    return dx, dweight


def sigmoid_forward(x):
    """``1 / (1 + exp(-x))`` without overflow for large ``|x|``; cache is the output."""
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out, out


def sigmoid_backward(dout, out):
    return dout * out * (1 - out)


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, out):
    return dout * (1 - out * out)


# --------------------------------------------------------------------------- batch norm
def batch_norm_forward(x, weight, bias, running_mean, running_var, training,
                       momentum=0.1, eps=1e-5):
    """Batch normalisation over every axis but the channel axis 1.

    x: (N, C) or (N, C, L) or (N, C, H, W); weight, bias: (C,) or None.
    In training, normalises with the batch mean and biased variance and, when
    running buffers are given, updates them in place:
    ``running = (1 - momentum) * running + momentum * batch_stat`` with the
    unbiased variance, as torch does. In eval, uses the running statistics.
    Cache: ``(xhat, inv_std, weight, axes, training)``.
    """
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        if running_mean is not None:
            count = x.size // x.shape[1]
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += momentum * var * (count / max(count - 1, 1))
    else:
        mean, var = running_mean, running_var
    inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
    xhat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
    out = xhat
    if weight is not None:
        out = xhat * weight.reshape(shape) + bias.reshape(shape)
    return out, (xhat, inv_std, weight, axes, training)


def batch_norm_backward(dout, cache):
    """Returns ``(dx, dweight, dbias)`` (the last two None without affine)."""
    xhat, inv_std, weight, axes, training = cache
    shape = (1, -1) + (1,) * (xhat.ndim - 2)
    dxhat = dout * weight.reshape(shape) if weight is not None else dout
    if training:
        count = xhat.size // xhat.shape[1]
        sum_d = dxhat.sum(axis=axes).reshape(shape)
        sum_dx = (dxhat * xhat).sum(axis=axes).reshape(shape)
        dx = (inv_std.reshape(shape) / count) * (count * dxhat - sum_d - xhat * sum_dx)
    else:
        dx = dxhat * inv_std.reshape(shape)
    if weight is None:
        return dx, None, None
    return dx, (dout * xhat).sum(axis=axes), dout.sum(axis=axes)


# --------------------------------------------------------------------------- losses
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


# --------------------------------------------------------------------------- L2
def l2_penalty(arrays, lam):
    """``0.5 * lam * sum(w**2)`` over the given arrays, in their dtype."""
    arrays = list(arrays)
    dtype = arrays[0].dtype if arrays else np.float64
    total = sum((np.vdot(a, a) for a in arrays), start=np.zeros((), dtype))
    return np.asarray(0.5 * lam * total, dtype=dtype)


def l2_penalty_backward(arrays, lam, dout=1.0):
    """Gradient of :func:`l2_penalty`: ``dout * lam * w`` for each array."""
    return [a * a.dtype.type(lam * dout) for a in arrays]
