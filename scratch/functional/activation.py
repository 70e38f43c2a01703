"""Element-wise activations: forward/backward pairs."""
from __future__ import annotations

import numpy as np


def _zero(like):
    return np.zeros((), like.dtype)


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
