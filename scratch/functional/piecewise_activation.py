"""Piecewise-linear activations: hardtanh, ReLU6, threshold, hardshrink, softshrink,
hardsigmoid, hardswish; forward/backward pairs.

Each bends at fixed points. Exactly at a bend the gradient is torch's choice,
written out in each docstring: the flat side for hardtanh/ReLU6, threshold,
hardshrink, softshrink and hardsigmoid (0 at the bend); for hardswish 0 at -3
and 1 at 3. Outputs keep the input's shape and dtype (0-d included). Hardswish has a
fast path in :mod:`scratch.backends.fast.activation`, entered through the lines marked
``FAST PATH``; ``scratch.backends.fast.enabled = False`` leaves only the code below.
"""
from __future__ import annotations

import numpy as np

from scratch.backends.fast import activation as fast_activation

_ONE_SIXTH = np.float32(1.0 / 6.0)   # torch's hardsigmoid slope: a float constant


def masked_backward(dout, mask):
    """``dout`` where the forward passed its input on (slope 1), 0 elsewhere."""
    return np.asarray(dout * mask, dout.dtype)


def hardtanh_forward(x, min_val=-1.0, max_val=1.0):
    """``clip(x, min_val, max_val)``; cache: the mask ``min_val < x < max_val`` (the
    gradient at either bend is 0)."""
    lo, hi = x.dtype.type(min_val), x.dtype.type(max_val)
    return np.asarray(np.clip(x, lo, hi), x.dtype), (x > lo) & (x < hi)


hardtanh_backward = masked_backward


def relu6_forward(x):
    """``min(max(x, 0), 6)``: hardtanh on [0, 6] (gradient 0 at 0 and at 6)."""
    return hardtanh_forward(x, 0.0, 6.0)


relu6_backward = masked_backward


def threshold_forward(x, threshold, value):
    """``x`` where ``x > threshold``, else ``value``; gradient 0 at the threshold."""
    mask = x > x.dtype.type(threshold)
    return np.asarray(np.where(mask, x, x.dtype.type(value)), x.dtype), mask


threshold_backward = masked_backward


def hardshrink_forward(x, lambd=0.5):
    """``x`` where ``|x| > lambd``, else 0 (0 and its gradient at ``|x| = lambd``)."""
    lam = x.dtype.type(lambd)
    mask = ~((x >= -lam) & (x <= lam))
    return np.asarray(np.where(mask, x, x.dtype.type(0)), x.dtype), mask


hardshrink_backward = masked_backward


def softshrink_forward(x, lambd=0.5):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0; gradient
    1 outside, 0 inside and at the bends. ``lambd`` must be >= 0, as torch requires."""
    if not lambd >= 0:
        raise RuntimeError(f"lambda must be in range [0, {float(np.finfo(np.float32).max):g}] "
                           f"for input dtype {x.dtype}, but found {lambd}")
    lam = x.dtype.type(lambd)
    out = np.where(x > lam, x - lam, np.where(x < -lam, x + lam, x.dtype.type(0)))
    return np.asarray(out, x.dtype), (x > lam) | (x < -lam)


softshrink_backward = masked_backward


def hardsigmoid_forward(x):
    """``clip(x + 3, 0, 6) / 6``; slope torch's float 1/6 strictly inside (-3, 3), 0
    outside and at the bends. Cache: the mask."""
    out = np.clip(x + 3, 0, 6) / x.dtype.type(6)
    return np.asarray(out, x.dtype), (x > -3) & (x < 3)


def hardsigmoid_backward(dout, mask):
    return np.asarray(dout * mask * dout.dtype.type(_ONE_SIXTH), dout.dtype)


def hardswish_forward(x):
    """``x * clip(x + 3, 0, 6) / 6``. Cache: ``x``."""
    if (fast := fast_activation.hardswish_forward(x)) is not None:
        return fast                                              # FAST PATH (fewer passes)
    return np.asarray(x * np.clip(x + 3, 0, 6) / x.dtype.type(6), x.dtype), x


def hardswish_backward(dout, x):
    """Slope 0 up to and at -3, ``x / 3 + 1/2`` strictly between, 1 from 3 on."""
    if isinstance(x, fast_activation.HardswishFastCache):
        return fast_activation.hardswish_backward(dout, x)       # FAST PATH (its cache)
    inside = (x > -3) & (x < 3)                     # a sum, not np.where: one term is 0
    slope = inside * (np.clip(x, -3, 3) / x.dtype.type(3) + x.dtype.type(0.5)) + (x >= 3)
    return np.asarray(dout * slope, dout.dtype)
