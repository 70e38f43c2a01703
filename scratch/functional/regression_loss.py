"""Regression losses: MSE, L1, smooth L1, Huber, Gaussian NLL; forward/backward pairs.

Each loss is element-wise: ``losses = f(input - target)`` has the input's shape and
is then reduced, as torch reduces it: 'none' keeps it, 'sum' adds it up, 'mean'
divides the sum by the number of elements (NaN for an empty input). Each backward
is ``f'(input - target) * g``, ``g`` the upstream gradient (over the element count
for 'mean'). Targets are constants here: their gradient, ``-dinput`` for the first
four losses, is not returned. ``input`` and ``target`` must have the same shape
(torch broadcasts a different target shape with a warning; scratch refuses it).
Smooth L1 has a fast path in :mod:`scratch.backends.fast.loss`, entered through the
line marked ``FAST PATH``; ``scratch.backends.fast.enabled = False`` leaves only the
code below.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from scratch.backends.fast import loss as fast_loss
from scratch.functional.loss import legacy_reduction


class ElementwiseLossCache(NamedTuple):
    slope: np.ndarray     # d loss_i / d input_i, the input's shape
    reduction: str        # 'none', 'mean' or 'sum'


def same_shape(name, input, target, what="target"):
    """``target`` as an array of ``input``'s dtype; its shape must equal ``input``'s."""
    target = np.asarray(target)
    if target.shape != input.shape:
        raise ValueError(f"{name}: {what} shape {target.shape} differs from input shape "
                         f"{input.shape}; torch would broadcast them with a warning ('This "
                         f"will likely lead to incorrect results'), scratch asks for equal "
                         f"shapes: reshape the {what}")
    return target.astype(input.dtype, copy=False)


def reduce_losses(losses, reduction):
    """'none': ``losses``; 'sum': their sum; 'mean': sum over count (NaN when empty)."""
    dtype = losses.dtype
    if reduction == "none":
        return np.asarray(losses, dtype)
    total = losses.sum(dtype=dtype)
    if reduction == "sum":
        return np.asarray(total, dtype)
    with np.errstate(invalid="ignore"):          # 0 / 0 for an empty input: NaN, as torch
        return np.asarray(total / dtype.type(losses.size), dtype)


def upstream_per_element(dloss, reduction, count, dtype):
    """The upstream gradient each element's loss receives: ``dloss`` ('none', 'sum')
    or ``dloss / count`` ('mean')."""
    g = np.asarray(dloss, dtype)
    if reduction == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):   # count 0: no elements
            g = g / dtype.type(count)
    return g


def elementwise_backward(dloss, cache):
    """``dinput = slope * g``, shared by every element-wise loss."""
    slope, reduction = cache
    g = upstream_per_element(dloss, reduction, slope.size, slope.dtype)
    return np.asarray(slope * g, slope.dtype)


def _finish(losses, slope, reduction):
    return reduce_losses(losses, reduction), ElementwiseLossCache(slope, reduction)


# --------------------------------------------------------------------------- MSE, L1
def mse_loss_forward(input, target, size_average=None, reduce=None, reduction="mean"):
    """``(input - target)**2``, reduced. input, target: any shape, the same.
    Returns ``(loss, cache)``: loss 0-d, or the input's shape for 'none'."""
    reduction = legacy_reduction(size_average, reduce, reduction, "mse_loss")
    d = input - same_shape("mse_loss", input, target)
    return _finish(d * d, 2 * d, reduction)


mse_loss_backward = elementwise_backward     # slope 2 (input - target)


def l1_loss_forward(input, target, size_average=None, reduce=None, reduction="mean"):
    """``|input - target|``, reduced; the slope at a zero difference is 0 (sign(0))."""
    reduction = legacy_reduction(size_average, reduce, reduction, "l1_loss")
    d = input - same_shape("l1_loss", input, target)
    return _finish(np.abs(d), np.sign(d), reduction)


l1_loss_backward = elementwise_backward       # slope sign(input - target)


# --------------------------------------------------------------------------- smooth L1, Huber
def smooth_l1_loss_forward(input, target, size_average=None, reduce=None, reduction="mean",
                           beta=1.0):
    """``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``d = input -
    target``); ``beta=0`` is the L1 loss, as torch. Slope ``d / beta`` inside, ``sign(d)``
    outside (the two agree at ``|d| = beta``)."""
    reduction = legacy_reduction(size_average, reduce, reduction, "smooth_l1_loss")
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return l1_loss_forward(input, target, reduction=reduction)
    d = input - same_shape("smooth_l1_loss", input, target)
    if (fast := fast_loss.smooth_l1_loss(d, beta, reduction)) is not None:
        return fast                                              # FAST PATH (fewer passes)
    z, b = np.abs(d), input.dtype.type(beta)
    inside, outside = z < b, ~(z < b)
    # each a sum of which one term is 0 (np.where is slow on an unpredictable
    # condition); the inside term on |d| clipped at beta, so that it stays finite
    m = np.minimum(z, b)
    losses = inside * (0.5 * m * m / b) + outside * (z - 0.5 * b)
    slope = inside * (np.clip(d, -b, b) / b) + outside * np.sign(d)
    return _finish(losses.astype(input.dtype), slope, reduction)


smooth_l1_loss_backward = elementwise_backward


def huber_loss_forward(input, target, reduction="mean", delta=1.0):
    """``0.5 d**2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``; slope ``d``
    inside, ``delta sign(d)`` outside. torch's argument order (no legacy flags)."""
    reduction = legacy_reduction(None, None, reduction, "huber_loss")
    if not delta > 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    d = input - same_shape("huber_loss", input, target)
    z, k = np.abs(d), input.dtype.type(delta)
    inside = z < k
    losses = np.where(inside, 0.5 * d * d, k * (z - 0.5 * k))
    return _finish(losses.astype(input.dtype), np.where(inside, d, k * np.sign(d)), reduction)


huber_loss_backward = elementwise_backward


# --------------------------------------------------------------------------- Gaussian NLL
class GaussianNLLCache(NamedTuple):
    dinput: np.ndarray      # d loss / d input per element: (input - target) / var
    dvar: np.ndarray        # d loss / d var per element (broadcast to the input's shape)
    var_shape: tuple | None  # the shape var was given in (None: a Python number)
    reduction: str


def gaussian_var(input, var, eps):
    """``var`` clamped to at least ``eps`` and shaped to broadcast against ``input``, as
    torch's rules allow: the input's shape; the input's shape less its last dim; or the
    input's shape with exactly one dim of size 1. Negative entries are refused."""
    if isinstance(var, (float, np.floating)) and np.ndim(var) == 0:
        if var < 0:
            raise ValueError("var has negative entry/entries")
        return np.full(input.shape, var, input.dtype).clip(min=eps), None
    var = np.asarray(var)
    if var.dtype.kind != "f":
        raise TypeError(f"gaussian_nll_loss: var must be a float or a floating-point array, "
                        f"got {var.dtype}")
    if (var < 0).any():
        raise ValueError("var has negative entry/entries")
    given = var.shape
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:
            var = var[..., None]
        elif not (var.ndim == input.ndim and sum(
                v for i, v in zip(input.shape, var.shape) if i != v) == 1):
            raise ValueError("var is of incorrect size")
    # torch clamps under no_grad: the gradient flows on as if var had not been clamped
    return np.maximum(var.astype(input.dtype), input.dtype.type(eps)), given


def gaussian_nll_loss_forward(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """``0.5 (log v + (input - target)**2 / v)`` (plus ``0.5 log(2 pi)`` when ``full``),
    ``v = max(var, eps)``, reduced.

    input, target: the same shape; var: a Python float, or an array of the input's
    shape, of its shape less the last dim, or with one dim of size 1 (homoscedastic).
    The cache holds the per-element slopes for :func:`gaussian_nll_loss_backward`.
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not valid")
    target = same_shape("gaussian_nll_loss", input, target)
    v, given = gaussian_var(input, var, eps)
    d = input - target
    losses = 0.5 * (np.log(v) + d * d / v)
    if full:
        losses = losses + input.dtype.type(0.5 * math.log(2 * math.pi))
    losses = np.broadcast_to(losses, input.shape).astype(input.dtype)
    dvar = np.broadcast_to(0.5 * (1 / v - d * d / (v * v)), input.shape)
    return reduce_losses(losses, reduction), GaussianNLLCache(
        np.asarray(d / v, input.dtype), dvar, given, reduction)


def gaussian_nll_loss_backward(dloss, cache):
    """Returns ``(dinput, dvar)``: ``dvar`` summed over the axes var was broadcast
    along, in var's own shape, or None when var was a number."""
    dinput, dvar, var_shape, reduction = cache
    g = upstream_per_element(dloss, reduction, dinput.size, dinput.dtype)
    dx = np.asarray(dinput * g, dinput.dtype)
    if var_shape is None:
        return dx, None
    dv = dvar * g
    if len(var_shape) < dv.ndim:                     # var lacked the last dim
        dv = dv.sum(axis=-1)
    axes = tuple(i for i, n in enumerate(var_shape) if n == 1 and dv.shape[i] != 1)
    return dx, np.asarray(dv.sum(axis=axes, keepdims=True).reshape(var_shape), dinput.dtype)
