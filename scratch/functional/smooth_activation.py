"""Smooth activations: softplus, mish, log-sigmoid, SELU, CELU, softsign,
tanhshrink, GLU, softmin, softmax2d; forward/backward pairs.

Outputs keep the input's shape and dtype (0-d included). Where torch has a bend
(SELU and CELU at 0; softplus at its linear threshold) the gradient there is
torch's choice, named in the docstring.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scratch.functional.activation import softmax_backward, softmax_dim, softmax_forward

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _stable_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


class SoftplusCache(NamedTuple):
    bx: np.ndarray          # beta * x
    linear: np.ndarray      # beta * x > threshold: the identity is used there


def softplus_forward(x, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``
    (exactly at the threshold the log form is used), as torch."""
    bx = x * x.dtype.type(beta)
    linear = bx > threshold
    with np.errstate(over="ignore"):        # overflow only where the identity is taken
        out = np.where(linear, x, np.log1p(np.exp(bx)) / x.dtype.type(beta))
    return np.asarray(out, x.dtype), SoftplusCache(bx, linear)


def softplus_backward(dout, cache):
    """Slope ``sigmoid(beta x)``, computed as torch's ``z / (z + 1)``, ``z = exp(beta x)``;
    1 on the linear part."""
    bx, linear = cache
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.exp(bx)
        slope = np.where(linear, bx.dtype.type(1), z / (z + 1))
    return np.asarray(dout * slope, dout.dtype)


def mish_forward(x):
    """``x tanh(softplus(x))``. Cache: ``x``."""
    with np.errstate(over="ignore"):
        t = np.tanh(np.log1p(np.exp(x)))
    return np.asarray(x * t, x.dtype), x


def mish_backward(dout, x):
    """``tanh(sp) + x sigmoid(x) (1 - tanh(sp)**2)``, ``sp = softplus(x)``."""
    with np.errstate(over="ignore"):
        t = np.tanh(np.log1p(np.exp(x)))
    return np.asarray(dout * (t + x * _stable_sigmoid(x) * (1 - t * t)), dout.dtype)


def log_sigmoid_forward(x):
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``, finite for any finite x."""
    return np.asarray(np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))), x.dtype), x


def log_sigmoid_backward(dout, x):
    """``1 - sigmoid(x) = sigmoid(-x)``."""
    return np.asarray(dout * _stable_sigmoid(-x), dout.dtype)


def selu_forward(x):
    """``scale * (x if x > 0 else alpha (exp(x) - 1))`` with torch's constants."""
    s, a = x.dtype.type(SELU_SCALE), x.dtype.type(SELU_ALPHA)
    return np.asarray(s * np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))), x.dtype), x


def selu_backward(dout, x):
    """``scale`` where ``x > 0``, else ``scale alpha exp(x)`` (at 0: ``scale alpha``)."""
    s, a = x.dtype.type(SELU_SCALE), x.dtype.type(SELU_ALPHA)
    return np.asarray(dout * np.where(x > 0, s, s * a * np.exp(np.minimum(x, 0))), dout.dtype)


class CeluCache(NamedTuple):
    x: np.ndarray
    alpha: float


def celu_forward(x, alpha=1.0):
    """``x`` where ``x > 0``, else ``alpha (exp(x / alpha) - 1)``; ``alpha`` may not be 0."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    a = x.dtype.type(alpha)
    out = np.where(x > 0, x, a * np.expm1(np.minimum(x, 0) / a))
    return np.asarray(out, x.dtype), CeluCache(x, alpha)


def celu_backward(dout, cache):
    """1 where ``x > 0``, else ``exp(x / alpha)`` (1 at 0)."""
    x, alpha = cache
    a = x.dtype.type(alpha)
    return np.asarray(dout * np.where(x > 0, 1, np.exp(np.minimum(x, 0) / a)), dout.dtype)


def softsign_forward(x):
    """``x / (1 + |x|)``. Cache: ``x``."""
    return np.asarray(x / (1 + np.abs(x)), x.dtype), x


def softsign_backward(dout, x):
    """``1 / (1 + |x|)**2``."""
    d = 1 + np.abs(x)
    return np.asarray(dout / (d * d), dout.dtype)


def tanhshrink_forward(x):
    """``x - tanh(x)``. Cache: ``tanh(x)``."""
    t = np.tanh(x)
    return np.asarray(x - t, x.dtype), t


def tanhshrink_backward(dout, t):
    """``tanh(x)**2``."""
    return np.asarray(dout * t * t, dout.dtype)


class GluCache(NamedTuple):
    a: np.ndarray           # the first half along ``axis``
    sig: np.ndarray         # sigmoid of the second half
    axis: int


def glu_forward(x, dim=-1):
    """Gated linear unit: split ``x`` in halves ``a, b`` along ``dim``, ``a * sigmoid(b)``.

    x: any shape with an even size along ``dim``; out: that size halved.
    """
    if x.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    if not -x.ndim <= dim < x.ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-x.ndim}, {x.ndim - 1}], but got {dim})")
    axis = dim % x.ndim
    if x.shape[axis] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {axis} is size "
                           f"{x.shape[axis]}")
    a, b = np.split(x, 2, axis=axis)
    sig = _stable_sigmoid(b)
    return np.asarray(a * sig, x.dtype), GluCache(a, sig, axis)


def glu_backward(dout, cache):
    """``da = dout sigmoid(b)``, ``db = dout a sigmoid(b) (1 - sigmoid(b))``, joined."""
    a, sig, axis = cache
    da, db = dout * sig, dout * a * sig * (1 - sig)
    return np.asarray(np.concatenate([da, db], axis=axis), dout.dtype)


def softmin_forward(x, dim):
    """``softmax(-x, dim)``. Cache: softmax's."""
    return softmax_forward(-x, dim)


def softmin_backward(dout, cache):
    """Softmax's backward, negated (the chain rule through ``-x``)."""
    return -softmax_backward(dout, cache)


def softmax2d_forward(x):
    """Softmax over the channels of (C, H, W) or (N, C, H, W): axis -3."""
    if x.ndim not in (3, 4):
        raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {x.ndim}D instead")
    softmax_dim(-3, x.ndim, "Softmax2d")
    return softmax_forward(x, -3)


softmax2d_backward = softmax_backward
