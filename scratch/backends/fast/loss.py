"""SmoothL1Loss in a few in-place passes, and its reduced loss without the per-element losses.

Entered from :func:`scratch.functional.smooth_l1_loss_forward` (its ``FAST PATH``
line) with ``d = input - target`` already checked and computed; it returns the plain
:class:`ElementwiseLossCache`, so the plain backward (``slope * g``) follows.

With ``z = |d|`` and ``m = min(z, beta)``, the loss of every element is
``0.5 m**2 / beta + (z - m)`` (inside ``|d| < beta`` the second term is 0, outside
the first is ``0.5 beta``), and the slope is ``clip(d, -beta, beta) / beta`` (``d /
beta`` inside, ``sign(d)`` outside). For 'mean' and 'sum' the loss is
``0.5 / beta * sum(m**2) + sum(z - m)``, the first sum by ``np.dot`` (no array of
squares, no array of losses). Against the plain pair: the slope, so the gradient, is
the same bit for bit; a loss is within a few roundings (outside, ``0.5 beta**2 / beta
+ (z - beta)`` against ``z - 0.5 beta``), and a reduced loss sums in another order.
"""
from __future__ import annotations

import numpy as np

from scratch.backends import fast
from scratch.functional import regression_loss as plain  # for its cache class

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def smooth_l1_loss(d, beta, reduction):
    """``(loss, ElementwiseLossCache)`` from ``d = input - target`` and ``beta > 0``, or
    None when the switch is off or ``d`` is 0-d or not float32/float64."""
    if not fast.is_enabled() or d.dtype not in _FLOATS or not d.ndim:
        return None
    b = d.dtype.type(beta)
    slope = np.clip(d, -b, b)
    np.divide(slope, b, out=slope)
    np.add(slope, 0, out=slope)                            # -0.0 to 0.0, as the plain sum
    beyond = np.abs(d)                                     # z, then z - m
    m = np.minimum(beyond, b)
    np.subtract(beyond, m, out=beyond)
    cache = plain.ElementwiseLossCache(slope, reduction)
    if reduction == "none":
        losses = np.multiply(m, 0.5)
        np.multiply(losses, m, out=losses)
        np.divide(losses, b, out=losses)
        np.add(losses, beyond, out=losses)
        return losses, cache
    flat = m.reshape(-1)                                   # m is a fresh contiguous array
    total = (np.dot(flat, flat) * d.dtype.type(0.5) / b
             + beyond.sum(dtype=d.dtype))
    if reduction == "mean":
        with np.errstate(invalid="ignore"):                # 0 / 0 for an empty input
            total = total / d.dtype.type(d.size)
    return np.asarray(total, d.dtype), cache
