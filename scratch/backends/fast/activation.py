"""ReLU on contiguous arrays, the batch split over scratch's threads; SiLU's forward in
four in-place passes.

Entered from :func:`scratch.functional.relu_forward` and ``relu_backward``
(their ``FAST PATH`` lines). The same element-wise operations as the plain
pair (``maximum``, ``greater``, ``multiply``), written into preallocated
outputs chunk by chunk, so the results are the same, bit for bit.

:func:`silu_forward` (entered from :func:`scratch.functional.silu_forward`) takes
the sigmoid as ``1 / (1 + exp(-x))`` in one buffer, where the plain
:func:`scratch.functional.sigmoid_forward` picks ``1`` or ``exp(-|x|)`` as the
numerator to keep ``exp`` from overflowing (an overflow here gives ``exp(-x) =
inf`` and the right limit, 0). It returns the plain :class:`SiLUCache`, so the
plain backward follows. Against the plain path the sigmoid is within a few
roundings (and below about ``-88`` in float32, ``-709`` in float64, 0 against a
subnormal); so are the output and the input gradient.

:func:`hardswish_forward` and :func:`hardswish_backward` (entered from
:func:`scratch.functional.hardswish_forward` and ``hardswish_backward``) cache
``c = clip(x, -3, 3)`` instead of ``x``: the output is ``x * (c + 3) / 6`` (``c + 3``
is the plain ``clip(x + 3, 0, 6)``, bit for bit), and with ``q = c / 3`` the slope
is ``q + 0.5 - 0.5 trunc(q)``: ``trunc(q)`` is 0 strictly between the kinks (``|q|
< 1`` there, also just below 3, where ``q + 0.5`` rounds to 1.5 as in the plain
code), -1 at and below -3 (slope 0), 1 at and above 3 (slope 1). Six passes of
float arithmetic where the plain pair makes ten, three of them mixing booleans into
floats; the same operations on the same values, so the results are the same, bit
for bit.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scratch import parallel
from scratch.backends import fast
from scratch.functional import activation as plain  # for its cache class

_zeros = {}


def _zeros_flat(size, dtype):
    """A read-only run of ``size`` zeros, kept from call to call: NumPy's ``maximum``
    is three times faster against an array of zeros than against the scalar 0."""
    have = _zeros.get(dtype)
    if have is None or have.size < size:
        have = _zeros[dtype] = np.zeros(size, dtype)
        have.flags.writeable = False
    return have[:size]


def relu_forward(x):
    """``(max(x, 0), x > 0)``; None when the switch is off or ``x`` is 0-d or not
    C-contiguous."""
    if not fast.is_enabled() or not x.ndim or not x.flags.c_contiguous:
        return None
    out, mask = np.empty_like(x), np.empty(x.shape, bool)
    zeros = _zeros_flat(x.size, x.dtype) if x.dtype.kind == "f" else None

    def chunk(sl):
        xs = x[sl].reshape(-1)
        np.greater(xs, 0, out=mask[sl].reshape(-1))
        np.maximum(xs, 0 if zeros is None else zeros[:xs.size], out=out[sl].reshape(-1))

    parallel.run(chunk, x.shape[0], x.size)
    return out, mask


def relu_backward(dout, mask):
    """``dout * mask``; None when the switch is off, either array is 0-d or not
    C-contiguous, or they differ in shape (the plain path broadcasts)."""
    if (not fast.is_enabled() or not dout.ndim or not dout.flags.c_contiguous
            or not mask.flags.c_contiguous or dout.shape != mask.shape):
        return None
    dx = np.empty(dout.shape, np.result_type(dout, mask))

    def chunk(sl):
        np.multiply(dout[sl], mask[sl], out=dx[sl])

    parallel.run(chunk, dout.shape[0], dout.size)
    return dx


def silu_forward(x):
    """``(x * sigmoid(x), SiLUCache(x, sigmoid(x)))``; None when the switch is off or ``x``
    is 0-d or not float32/float64."""
    if not fast.is_enabled() or not x.ndim or x.dtype not in (np.float32, np.float64):
        return None
    sig = np.negative(x)
    with np.errstate(over="ignore"):                   # exp(-x) = inf: sigmoid 0, right
        np.exp(sig, out=sig)
    np.add(sig, 1, out=sig)
    np.divide(1, sig, out=sig)
    return np.multiply(x, sig), plain.SiLUCache(x, sig)


class HardswishFastCache(NamedTuple):
    clipped: np.ndarray      # clip(x, -3, 3)


def hardswish_forward(x):
    """``(x * clip(x + 3, 0, 6) / 6, HardswishFastCache)``; None when the switch is off
    or ``x`` is 0-d or not float32/float64."""
    if not fast.is_enabled() or not x.ndim or x.dtype not in (np.float32, np.float64):
        return None
    clipped = np.clip(x, -3, 3)
    out = np.add(clipped, 3)                           # clip(x + 3, 0, 6)
    np.multiply(x, out, out=out)
    np.divide(out, 6, out=out)
    return out, HardswishFastCache(clipped)


def hardswish_backward(dout, cache):
    """``dout * slope``, the slope from the clipped input (see above)."""
    q = np.divide(cache.clipped, 3)
    kink = np.trunc(q)                                 # -1 at and below -3, 1 at and above 3
    np.add(q, 0.5, out=q)
    np.multiply(kink, 0.5, out=kink)
    np.subtract(q, kink, out=q)
    if dout.shape == q.shape and dout.dtype == q.dtype:
        return np.multiply(dout, q, out=q)
    return np.asarray(dout * q, dout.dtype)
