"""Activations: forward/backward pairs (element-wise, then the softmax family).

Each ``*_forward(x, ...)`` returns ``(out, cache)`` with ``out`` of ``x``'s shape
and dtype; the ``*_backward(dout, cache)`` under it returns ``dx``. ReLU (threads),
SiLU, ELU and exact GELU on float32 have fast paths in
:mod:`scratch.backends.fast.activation`, entered through the lines marked ``FAST
PATH``; ``scratch.backends.fast.enabled = False`` leaves only the code below.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scratch.backends.fast import activation as fast_activation
from scratch.special import erf


def relu_forward(x):
    """``max(x, 0)``, any shape; the cache is the boolean mask ``x > 0`` (torch's
    gradient at 0 is 0)."""
    if (fast := fast_activation.relu_forward(x)) is not None:
        return fast                                              # FAST PATH (threads)
    return np.maximum(x, 0), x > 0


def relu_backward(dout, mask):
    """``dout`` where the input was positive, else 0."""
    if (fast := fast_activation.relu_backward(dout, mask)) is not None:
        return fast                                              # FAST PATH (threads)
    return dout * mask


class LeakyReLUCache(NamedTuple):
    mask: np.ndarray         # x > 0
    negative_slope: float


def leaky_relu_forward(x, negative_slope=0.01):
    """``x`` where ``x > 0`` else ``negative_slope * x``; at 0 the slope side is used.
    Cache: :class:`LeakyReLUCache`."""
    mask = x > 0
    out = np.where(mask, x, x * x.dtype.type(negative_slope))
    return out, LeakyReLUCache(mask, negative_slope)


def leaky_relu_backward(dout, cache):
    mask, slope = cache
    return np.where(mask, dout, dout * dout.dtype.type(slope))


def _zero(like):
    return np.zeros((), like.dtype)


def _channel_view(weight, ndim):
    """Broadcast a per-channel weight (P,) against (N, C, ...)."""
    if ndim == 0:
        return weight.reshape(())
    return weight.reshape((1, -1) + (1,) * (ndim - 2)) if ndim > 1 else weight


class PReLUCache(NamedTuple):
    x: np.ndarray
    mask: np.ndarray         # x > 0
    weight: np.ndarray       # (1,) or (C,): the slopes


def prelu_forward(x, weight):
    """PReLU with a learned slope: ``weight`` is (1,) or (C,) for input (N, C, ...).
    Cache: :class:`PReLUCache`."""
    mask = x > 0
    a = _channel_view(weight, x.ndim)
    return np.where(mask, x, a * x), PReLUCache(x, mask, weight)


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
    """``1 / (1 + exp(-x))`` without overflow for large ``|x|``: with ``e = exp(-|x|)``,
    ``1 / (1 + e)`` for ``x >= 0`` and ``e / (1 + e)`` below. The numerator is picked
    by a sum of which one term is 0, not by ``np.where``, which on an unpredictable
    condition took 4 ms on 800K float32 (the rest: 1 ms). The cache is the output."""
    e = np.exp(-np.abs(x))
    negative = x < 0
    out = (~negative + negative * e) / (1 + e)
    return out, out


def sigmoid_backward(dout, out):
    return dout * out * (1 - out)


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, out):
    return dout * (1 - out * out)


# --------------------------------------------------------------------------- smooth activations
_SQRT_HALF = 0.7071067811865476        # 1 / sqrt(2)
_INV_SQRT_2PI = 0.3989422804014327     # 1 / sqrt(2 pi)
_TANH_K = 0.7978845608028654           # sqrt(2 / pi), torch's constant for approximate='tanh'


def _normal_cdf(x):
    """``Phi(x) = (1 + erf(x / sqrt(2))) / 2`` in float64, any shape (0-d included);
    ``erf`` is :func:`scratch.special.erf` (NumPy has none)."""
    x64 = np.asarray(x, np.float64)
    return 0.5 * (1 + erf(x64 * _SQRT_HALF))


class GELUCache(NamedTuple):
    x: np.ndarray
    approximate: str         # 'none' or 'tanh'
    cdf: np.ndarray | None   # Phi(x) in float64 ('none'), for the backward; None for 'tanh'


def gelu_forward(x, approximate="none"):
    """GELU, ``x * Phi(x)``; ``approximate='tanh'`` uses torch's tanh formula
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.

    Any shape; the output keeps ``x``'s shape and dtype. Cache: :class:`GELUCache`.
    """
    cdf = None
    if approximate == "tanh":
        t = np.tanh(x.dtype.type(_TANH_K) * (x + x.dtype.type(0.044715) * x * x * x))
        out = 0.5 * x * (1 + t)
    elif approximate == "none":
        if (fast := fast_activation.gelu_forward(x)) is not None:
            return fast                                          # FAST PATH (float32 erf)
        cdf = _normal_cdf(x)
        out = (x * cdf).astype(x.dtype)
    else:
        raise ValueError(f"approximate argument must be either none or tanh, got "
                         f"{approximate!r}")
    return np.asarray(out, x.dtype), GELUCache(x, approximate, cdf)


def gelu_backward(dout, cache):
    """``Phi(x) + x phi(x)`` (exact) or the derivative of the tanh formula."""
    if isinstance(cache, fast_activation.GELUFastCache):
        return fast_activation.gelu_backward(dout, cache)        # FAST PATH (float32 erf)
    x, approximate, cdf = cache
    if approximate == "tanh":
        k, a = x.dtype.type(_TANH_K), x.dtype.type(0.044715)
        t = np.tanh(k * (x + a * x * x * x))
        grad = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * a * x * x)
    else:
        x64 = np.asarray(x, np.float64)
        grad = cdf + x64 * _INV_SQRT_2PI * np.exp(-0.5 * x64 * x64)
        grad = grad.astype(x.dtype)
    return np.asarray(dout * grad, dout.dtype)


class ELUCache(NamedTuple):
    x: np.ndarray
    alpha: float


def elu_forward(x, alpha=1.0):
    """``x`` where ``x > 0`` else ``alpha * (exp(x) - 1)``, as the sum
    ``max(x, 0) + alpha * expm1(min(x, 0))``, of which one term is 0 (no
    ``np.where``, slow on an unpredictable condition). Cache: :class:`ELUCache`."""
    if (fast := fast_activation.elu_forward(x, alpha)) is not None:
        return fast                                              # FAST PATH (fewer passes)
    neg = x.dtype.type(alpha) * np.expm1(np.minimum(x, 0))
    return np.asarray(np.maximum(x, 0) + neg, x.dtype), ELUCache(x, alpha)


def elu_backward(dout, cache):
    """1 where ``x > 0``, else ``alpha * exp(x)`` (torch's choice at 0: ``alpha``)."""
    if isinstance(cache, fast_activation.ELUFastCache):
        return fast_activation.elu_backward(dout, cache)         # FAST PATH (fewer passes)
    x, alpha = cache
    positive = x > 0
    slope = positive + ~positive * (x.dtype.type(alpha) * np.exp(np.minimum(x, 0)))
    return np.asarray(dout * slope, dout.dtype)


class SiLUCache(NamedTuple):
    x: np.ndarray
    sigmoid: np.ndarray      # sigmoid(x)


def silu_forward(x):
    """SiLU (swish), ``x * sigmoid(x)``. Cache: :class:`SiLUCache`."""
    if (fast := fast_activation.silu_forward(x)) is not None:
        return fast                                              # FAST PATH (fewer passes)
    s, _ = sigmoid_forward(x)
    return np.asarray(x * s, x.dtype), SiLUCache(x, s)


def silu_backward(dout, cache):
    if (fast := fast_activation.silu_backward(dout, cache)) is not None:
        return fast                                              # FAST PATH (one buffer)
    x, s = cache
    return np.asarray(dout * (s * (1 + x * (1 - s))), dout.dtype)


# --------------------------------------------------------------------------- softmax family
def softmax_dim(dim, ndim, name="Softmax"):
    """``dim`` as a non-negative axis of an ``ndim``-dim input, torch's range check.

    A 0-d input has one valid axis, as in torch (``dim`` in [-1, 0]).
    """
    low, high = -max(ndim, 1), max(ndim, 1) - 1
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}")
    if not low <= dim <= high:
        raise ValueError(f"{name}: dim out of range for input with {ndim} dims (expected "
                         f"to be in range of [{low}, {high}], but got {dim})")
    return int(dim) % max(ndim, 1)


def _axis(x, dim):
    return None if x.ndim == 0 else softmax_dim(dim, x.ndim)


class SoftmaxCache(NamedTuple):
    out: np.ndarray          # the forward's output
    axis: int | None         # the softmax axis; None for a 0-d input


def log_softmax_forward(x, dim):
    """``x - logsumexp(x, dim)``, stable for any finite ``x``. Cache:
    :class:`SoftmaxCache`."""
    axis = _axis(x, dim)
    if axis is None:
        out = np.zeros_like(x)
    else:
        shifted = x - x.max(axis=axis, keepdims=True, initial=-np.inf)   # initial: empty
        with np.errstate(divide="ignore"):          # log(0) only for an empty softmax axis
            out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return np.asarray(out, x.dtype), SoftmaxCache(out, axis)


def log_softmax_backward(dout, cache):
    """``dout - softmax * sum(dout, dim)``."""
    out, axis = cache
    if axis is None:
        return np.zeros_like(dout)
    return dout - np.exp(out) * dout.sum(axis=axis, keepdims=True)


def softmax_forward(x, dim):
    """``exp(x) / sum(exp(x), dim)``, shifted by the maximum. Cache: :class:`SoftmaxCache`."""
    axis = _axis(x, dim)
    if axis is None:
        out = np.ones_like(x)
    else:
        e = np.exp(x - x.max(axis=axis, keepdims=True, initial=-np.inf))
        out = e / e.sum(axis=axis, keepdims=True)
    return np.asarray(out, x.dtype), SoftmaxCache(out, axis)


def softmax_backward(dout, cache):
    """``softmax * (dout - sum(dout * softmax, dim))``."""
    out, axis = cache
    if axis is None:
        return np.zeros_like(dout)
    return out * (dout - (dout * out).sum(axis=axis, keepdims=True))
