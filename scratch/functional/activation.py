"""Element-wise activations: forward/backward pairs."""
from __future__ import annotations

import math

import numpy as np

from scratch import parallel


def _zero(like):
    return np.zeros((), like.dtype)


def relu_forward(x):
    """``max(x, 0)``; the cache is the mask ``x > 0`` (torch's gradient at 0 is 0)."""
    if x.ndim and x.flags.c_contiguous:
        return _relu_forward_split(x)
    return np.maximum(x, 0), x > 0


def relu_backward(dout, mask):
    if dout.ndim and dout.flags.c_contiguous:
        return _relu_backward_split(dout, mask)
    return dout * mask


_zeros = {}


def _zeros_flat(size, dtype):
    """A read-only run of ``size`` zeros, kept from call to call: NumPy's ``maximum``
    is three times faster against an array of zeros than against the scalar 0."""
    have = _zeros.get(dtype)
    if have is None or have.size < size:
        have = _zeros[dtype] = np.zeros(size, dtype)
        have.flags.writeable = False
    return have[:size]


def _relu_forward_split(x):
    """ReLU on a contiguous array, its batch split over threads."""
    out, mask = np.empty_like(x), np.empty(x.shape, bool)
    zeros = _zeros_flat(x.size, x.dtype) if x.dtype.kind == "f" else None

    def chunk(sl):
        xs = x[sl].reshape(-1)
        np.greater(xs, 0, out=mask[sl].reshape(-1))
        np.maximum(xs, 0 if zeros is None else zeros[:xs.size], out=out[sl].reshape(-1))

    parallel.run(chunk, x.shape[0], x.size)
    return out, mask


def _relu_backward_split(dout, mask):
    dx = np.empty(np.broadcast_shapes(dout.shape, mask.shape), np.result_type(dout, mask))
    if dx.shape != dout.shape or not mask.flags.c_contiguous:
        return dout * mask

    def chunk(sl):
        np.multiply(dout[sl], mask[sl], out=dx[sl])

    parallel.run(chunk, dout.shape[0], dout.size)
    return dx


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


# --------------------------------------------------------------------------- smooth activations
_SQRT_HALF = 0.7071067811865476        # 1 / sqrt(2)
_INV_SQRT_2PI = 0.3989422804014327     # 1 / sqrt(2 pi)
_TANH_K = 0.7978845608028654           # sqrt(2 / pi), torch's constant for approximate='tanh'
_erf_object = np.frompyfunc(math.erf, 1, 1)   # NumPy has no erf: math.erf per element


def _normal_cdf(x):
    """``Phi(x) = (1 + erf(x / sqrt(2))) / 2`` in float64, any shape (0-d included)."""
    x64 = np.asarray(x, np.float64)
    return 0.5 * (1 + np.asarray(_erf_object(x64 * _SQRT_HALF), np.float64))


def gelu_forward(x, approximate="none"):
    """GELU, ``x * Phi(x)``; ``approximate='tanh'`` uses torch's tanh formula
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.

    Any shape; the output keeps ``x``'s shape and dtype. Cache: ``(x, approximate)``.
    """
    if approximate == "tanh":
        t = np.tanh(x.dtype.type(_TANH_K) * (x + x.dtype.type(0.044715) * x * x * x))
        out = 0.5 * x * (1 + t)
    elif approximate == "none":
        out = (x * _normal_cdf(x)).astype(x.dtype)
    else:
        raise ValueError(f"approximate argument must be either none or tanh, got "
                         f"{approximate!r}")
    return np.asarray(out, x.dtype), (x, approximate)


def gelu_backward(dout, cache):
    """``Phi(x) + x phi(x)`` (exact) or the derivative of the tanh formula."""
    x, approximate = cache
    if approximate == "tanh":
        k, a = x.dtype.type(_TANH_K), x.dtype.type(0.044715)
        t = np.tanh(k * (x + a * x * x * x))
        grad = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * a * x * x)
    else:
        x64 = np.asarray(x, np.float64)
        grad = (_normal_cdf(x64) + x64 * _INV_SQRT_2PI * np.exp(-0.5 * x64 * x64))
        grad = grad.astype(x.dtype)
    return np.asarray(dout * grad, dout.dtype)


def elu_forward(x, alpha=1.0):
    """``x`` where ``x > 0`` else ``alpha * (exp(x) - 1)``. Cache: ``(x, alpha)``."""
    neg = x.dtype.type(alpha) * np.expm1(np.minimum(x, 0))
    return np.asarray(np.where(x > 0, x, neg), x.dtype), (x, alpha)


def elu_backward(dout, cache):
    """1 where ``x > 0``, else ``alpha * exp(x)`` (torch's choice at 0: ``alpha``)."""
    x, alpha = cache
    slope = np.where(x > 0, 1, x.dtype.type(alpha) * np.exp(np.minimum(x, 0)))
    return np.asarray(dout * slope, dout.dtype)


def silu_forward(x):
    """SiLU (swish), ``x * sigmoid(x)``. Cache: ``(x, sigmoid(x))``."""
    s, _ = sigmoid_forward(x)
    return np.asarray(x * s, x.dtype), (x, s)


def silu_backward(dout, cache):
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


def log_softmax_forward(x, dim):
    """``x - logsumexp(x, dim)``, stable for any finite ``x``. Cache: the output."""
    axis = _axis(x, dim)
    if axis is None:
        out = np.zeros_like(x)
    else:
        shifted = x - x.max(axis=axis, keepdims=True, initial=-np.inf)   # initial: empty
        with np.errstate(divide="ignore"):          # log(0) only for an empty softmax axis
            out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return np.asarray(out, x.dtype), (out, axis)


def log_softmax_backward(dout, cache):
    """``dout - softmax * sum(dout, dim)``."""
    out, axis = cache
    if axis is None:
        return np.zeros_like(dout)
    return dout - np.exp(out) * dout.sum(axis=axis, keepdims=True)


def softmax_forward(x, dim):
    """``exp(x) / sum(exp(x), dim)``, shifted by the maximum. Cache: the output."""
    axis = _axis(x, dim)
    if axis is None:
        out = np.ones_like(x)
    else:
        e = np.exp(x - x.max(axis=axis, keepdims=True, initial=-np.inf))
        out = e / e.sum(axis=axis, keepdims=True)
    return np.asarray(out, x.dtype), (out, axis)


def softmax_backward(dout, cache):
    """``softmax * (dout - sum(dout * softmax, dim))``."""
    out, axis = cache
    if axis is None:
        return np.zeros_like(dout)
    return out * (dout - (dout * out).sum(axis=axis, keepdims=True))
