"""Margin losses: soft margin, multi-class margin (the SVM loss), cosine embedding;
forward/backward pairs. Targets are constants; 'mean' divides by the number of
losses (elements, rows or pairs), NaN when there are none, as torch.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scratch.functional.loss import legacy_reduction
from scratch.functional.regression_loss import (
    ElementwiseLossCache,
    elementwise_backward,
    reduce_losses,
    same_shape,
    upstream_per_element,
)


def soft_margin_loss_forward(input, target, size_average=None, reduce=None, reduction="mean"):
    """``log(1 + exp(-t x))`` per element (t = +-1), reduced; computed as a softplus that
    stays finite for any finite ``t x`` (torch's overflows to inf past ~88 in float32).
    input, target: the same shape. Slope: ``-t sigmoid(-t x)``."""
    reduction = legacy_reduction(size_average, reduce, reduction, "soft_margin_loss")
    t = same_shape("soft_margin_loss", input, target)
    z = -t * input
    e = np.exp(-np.abs(z))
    losses = np.maximum(z, 0) + np.log1p(e)
    sigmoid_z = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    return reduce_losses(np.asarray(losses, input.dtype), reduction), ElementwiseLossCache(
        np.asarray(-t * sigmoid_z, input.dtype), reduction)


soft_margin_loss_backward = elementwise_backward


# --------------------------------------------------------------------------- multi-class margin
class MultiMarginCache(NamedTuple):
    active: np.ndarray      # (M, C) bool: margin violated, z > 0 (0 at the kink z = 0)
    dz: np.ndarray          # (M, C) d loss_m / d z_mc (0 where inactive)
    target: np.ndarray      # (M,) class indices
    shape: tuple            # the input's shape
    reduction: str


def multi_margin_loss_forward(input, target, p=1, margin=1.0, weight=None, size_average=None,
                              reduce=None, reduction="mean"):
    """The multi-class hinge (CS231n's SVM) loss, torch's ``multi_margin_loss``:

        loss_m = sum_{c != y_m} w_{y_m} max(0, margin - x_{m, y_m} + x_{m, c})**p / C

    input: (N, C) or (C,) scores; target: (N,) (or () for (C,)) integer classes in
    [0, C); p: 1 or 2; weight: (C,) or None. A violation of exactly 0 contributes no
    gradient (torch's ``z > 0``). 'mean' averages over the N rows.
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "multi_margin_loss")
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if input.ndim not in (1, 2) or (input.ndim == 1 and input.size == 0):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(input.shape)}")
    target = np.asarray(target)
    if target.dtype.kind not in "iu":
        raise RuntimeError(f"expected scalar type Long but found {target.dtype}")
    rows = input.reshape(-1, input.shape[-1])                         # (M, C)
    m, c = rows.shape
    if target.size != m or target.ndim > 1:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal "
                           f"to the number of input samples (batch size). Expected target "
                           f"size [{m}], but got {list(target.shape)}. Input has shape "
                           f"{list(input.shape)}.")
    y = target.reshape(-1)
    if ((y < 0) | (y >= c)).any():
        raise RuntimeError("target out of range")
    if weight is not None and np.shape(weight) != (c,):
        raise RuntimeError(f"inconsistent weight size, expected {c} but got "
                           f"{list(np.shape(weight))}")
    dtype, idx = input.dtype, np.arange(m)
    z = dtype.type(margin) - rows[idx, y][:, None] + rows             # (M, C)
    active = (z > 0) & (np.arange(c) != y[:, None])
    w_y = (np.ones(m, dtype) if weight is None
           else np.asarray(weight, dtype)[y])[:, None]                # (M, 1)
    h = np.where(active, z if p == 1 else z * z, dtype.type(0)) * w_y
    dz = np.where(active, 1 if p == 1 else 2 * z, dtype.type(0)) * w_y / dtype.type(c)
    losses = (h.sum(axis=1) / dtype.type(c)).reshape(input.shape[:-1])
    return reduce_losses(np.asarray(losses, dtype), reduction), MultiMarginCache(
        active, np.asarray(dz, dtype), y, input.shape, reduction)


def multi_margin_loss_backward(dloss, cache):
    """``dx_{m,c} = dz_{m,c} g_m`` for c != y_m and ``dx_{m,y_m} = -sum_c dz_{m,c} g_m``."""
    _, dz, y, shape, reduction = cache
    g = upstream_per_element(dloss, reduction, len(y), dz.dtype).reshape(-1, 1)
    drows = dz * g                                                    # (M, C)
    drows[np.arange(len(y)), y] = -drows.sum(axis=1)
    return np.asarray(drows.reshape(shape), dz.dtype)


# --------------------------------------------------------------------------- cosine embedding
_COS_EPSILON = np.float32(1e-12)    # torch adds it to each squared norm (a float constant)


class CosineEmbeddingCache(NamedTuple):
    x1: np.ndarray          # (M, D)
    x2: np.ndarray          # (M, D)
    dot: np.ndarray         # (M, 1) x1 . x2
    sq1: np.ndarray         # (M, 1) |x1|^2 + eps
    sq2: np.ndarray         # (M, 1) |x2|^2 + eps
    dcos: np.ndarray        # (M, 1) d loss_m / d cos_m
    shape: tuple
    reduction: str


def cosine_embedding_loss_forward(input1, input2, target, margin=0.0, size_average=None,
                                  reduce=None, reduction="mean"):
    """``1 - cos(x1, x2)`` where ``y = 1``, ``max(0, cos - margin)`` where ``y = -1``,
    0 for any other target value, as torch's ``cosine_embedding_loss``;
    ``cos = x1.x2 / sqrt((|x1|^2 + eps)(|x2|^2 + eps))``, eps torch's float32 1e-12.

    input1, input2: (N, D) with target (N,), or (D,) with a 0-d target. At
    ``cos = margin`` the clamp passes no gradient (torch's in-place ``clamp_min_``).
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "cosine_embedding_loss")
    target = np.asarray(target)
    if target.ndim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    want = target.ndim + 1
    if input1.ndim != want or np.ndim(input2) != want:
        raise RuntimeError(f"{target.ndim}D target tensor expects {want}D input tensors, but "
                           f"found inputs with sizes {list(input1.shape)} and "
                           f"{list(np.shape(input2))}.")
    input2 = np.asarray(input2)
    if input2.shape != input1.shape or input1.shape[:-1] != target.shape:
        raise RuntimeError(f"cosine_embedding_loss: input1 {list(input1.shape)}, input2 "
                           f"{list(input2.shape)} and target {list(target.shape)} do not "
                           f"match (expected (N, D), (N, D) and (N,))")
    dtype = input1.dtype
    x1 = input1.reshape(-1, input1.shape[-1])
    x2 = input2.astype(dtype, copy=False).reshape(x1.shape)
    y = target.reshape(-1, 1)
    eps = dtype.type(_COS_EPSILON)
    dot = (x1 * x2).sum(axis=1, keepdims=True)
    sq1 = (x1 * x1).sum(axis=1, keepdims=True) + eps
    sq2 = (x2 * x2).sum(axis=1, keepdims=True) + eps
    cos = dot / np.sqrt(sq1 * sq2)
    neg = cos - dtype.type(margin)
    losses = np.where(y == 1, 1 - cos, np.where(y == -1, np.maximum(neg, 0), dtype.type(0)))
    dcos = np.where(y == 1, dtype.type(-1),
                    np.where((y == -1) & (neg > 0), dtype.type(1), dtype.type(0)))
    return (reduce_losses(np.asarray(losses.reshape(target.shape), dtype), reduction),
            CosineEmbeddingCache(x1, x2, dot, sq1, sq2, dcos.astype(dtype), input1.shape,
                                 reduction))


def cosine_embedding_loss_backward(dloss, cache):
    """Returns ``(dinput1, dinput2)``:
    ``dcos/dx1 = x2 / sqrt(a b) - cos x1 / a`` (a, b the squared norms plus eps), and
    symmetrically for x2."""
    x1, x2, dot, sq1, sq2, dcos, shape, reduction = cache
    g = upstream_per_element(dloss, reduction, len(x1), x1.dtype).reshape(-1, 1) * dcos
    root = np.sqrt(sq1 * sq2)
    cos = dot / root
    dx1 = g * (x2 / root - cos * x1 / sq1)
    dx2 = g * (x1 / root - cos * x2 / sq2)
    return (np.asarray(dx1.reshape(shape), x1.dtype), np.asarray(dx2.reshape(shape), x1.dtype))
