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
inf`` and the right limit, 0). It returns the plain :class:`SiLUCache`.
:func:`silu_backward` (entered from :func:`scratch.functional.silu_backward`) makes
the plain backward's operations in one buffer, in the same order: one new array
where the plain expression makes five (on a large map each new array costs a
pass's time in page faults). Against the plain path the sigmoid is within a few
roundings (and below about ``-88`` in float32, ``-709`` in float64, 0 against a
subnormal); so are the output and the input gradient (the backward on the same
sigmoid: bit for bit).

:func:`hardswish_forward` and :func:`hardswish_backward` (entered from
:func:`scratch.functional.hardswish_forward` and ``hardswish_backward``) cache
``c = clip(x, -3, 3)`` instead of ``x``: the output is ``x * (c + 3) / 6`` (``c + 3``
is the plain ``clip(x + 3, 0, 6)``, bit for bit), and with ``q = c / 3`` the slope
is ``q + 0.5 - 0.5 trunc(q)``: ``trunc(q)`` is 0 strictly between the kinks (``|q|
< 1`` there, also just below 3, where ``q + 0.5`` rounds to 1.5 as in the plain
code), -1 at and below -3 (slope 0), 1 at and above 3 (slope 1). Six passes of
float arithmetic where the plain pair makes ten, three of them mixing booleans into
floats; the same operations on the same values, so the results are the same, bit
for bit. Clipping ``x`` again in the backward instead of keeping ``c``, with the kinks
as an int8 cast, was slower: 0.86 to 1.04 ms against 0.67 to 0.81 ms for the pair on
the bench's 64x16x28x28 float32 input, three runs each of ``python -m scripts.bench
--threads 1 --no-load --no-memory --no-model-layers --rounds 1 --steps 1
--layer-rounds 10 --layer-rows hardswish`` (2026-12-08); its pass mixing int8 and
floats costs two.

:func:`gelu_forward` and :func:`gelu_backward` (entered from
:func:`scratch.functional.gelu_forward` and ``gelu_backward``, exact GELU, float32
only) compute ``Phi(x) = (1 + erf(x / sqrt 2)) / 2`` in float32 by the formula
torch's own float32 CPU kernel uses, Abramowitz and Stegun's 7.1.26 (Handbook of
Mathematical Functions, 1964): ``erf(u) = 1 - t (a1 + a2 t + ... + a5 t^4)
exp(-u^2)``, ``t = 1 / (1 + p u)`` for ``u >= 0``, with an error below 1.5e-7 (about
one float32 unit at 1), in 15 passes where the plain path's float64 ``erf`` makes
about 90. ``exp(-x^2 / 2)`` is kept for the backward, whose ``phi(x)`` it is up to a
constant: ``dx = dout (Phi(x) + x phi(x))`` in four passes. The sign of ``x`` is put
on ``erf(|u|)`` by setting the sign bit (NumPy's ``copysign`` and ``sign`` are
each as slow as ``exp``). Against the plain path: within the suite's float32 budget
for one term; exactly 1/2 at 0; NaN and infinities as the plain path. float64
returns None: the formula is a float32 one (the plain ``erf`` is within 2 units of
float64).

:func:`elu_forward` and :func:`elu_backward` (entered from
:func:`scratch.functional.elu_forward` and ``elu_backward``) take ``exp(min(x, 0))``
in the forward, beside the ``expm1`` of the output, and keep it for the backward:
it is the slope ``exp(x)`` where ``x <= 0`` and exactly 1 where ``x > 0``, so for the
default ``alpha = 1`` the backward is one multiplication where the plain one makes
seven passes; for another ``alpha`` the slope is ``alpha exp(min(x, 0))`` with the
positive side set to 1 by two passes with the mask ``x > 0``, as the plain path does.
(``neg + alpha`` from the output's ``neg = alpha expm1(x)`` would save the ``exp`` but
lose the slope's relative precision far below 0, where ``expm1(x)`` is about -1.) The
zeros of ``min`` and ``max`` are an array (see :func:`_zeros_flat`). The same
operations on the same values as the plain pair: bit for bit.
"""
from __future__ import annotations

import math
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


def _times_dout(dout, grad):
    """``dout * grad`` in ``dout``'s dtype: written into ``grad`` (an array this call
    made) where shape and dtype match, else a new array (broadcast or cast)."""
    if dout.shape == grad.shape and dout.dtype == grad.dtype:
        return np.multiply(dout, grad, out=grad)
    return np.asarray(dout * grad, dout.dtype)


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


def silu_backward(dout, cache):
    """The plain ``dout * (s * (1 + x * (1 - s)))`` in one buffer; None when the switch
    is off or ``dout`` is 0-d or differs from the cache in shape or dtype."""
    x, s = cache
    if (not fast.is_enabled() or not dout.ndim or dout.shape != s.shape
            or dout.dtype != s.dtype or x.dtype != s.dtype):
        return None
    grad = np.subtract(1, s)
    grad *= x
    grad += 1
    grad *= s
    return np.multiply(dout, grad, out=grad)


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
    return _times_dout(dout, q)


class ELUFastCache(NamedTuple):
    x: np.ndarray
    alpha: float
    exp_neg: np.ndarray      # exp(min(x, 0)), in x's dtype


def elu_forward(x, alpha):
    """``(max(x, 0) + alpha expm1(min(x, 0)), ELUFastCache)``; None when the switch is
    off or ``x`` is 0-d or not float32/float64."""
    if not fast.is_enabled() or not x.ndim or x.dtype not in (np.float32, np.float64):
        return None
    zeros = _zeros_flat(x.size, x.dtype).reshape(x.shape)
    neg = np.minimum(x, zeros)
    exp_neg = np.exp(neg)
    np.expm1(neg, out=neg)
    neg *= x.dtype.type(alpha)
    out = np.maximum(x, zeros)
    out += neg
    return out, ELUFastCache(x, alpha, exp_neg)


def elu_backward(dout, cache):
    """``dout * slope``: ``alpha exp(x)`` where ``x <= 0``, 1 where ``x > 0``."""
    x, alpha, slope = cache
    if alpha == 1:                                     # the cache's own array: not into it
        return np.asarray(dout * slope, dout.dtype)
    slope = np.multiply(slope, x.dtype.type(alpha))
    positive = x > 0
    np.multiply(slope, ~positive, out=slope)
    np.add(slope, positive, out=slope)
    return _times_dout(dout, slope)


class GELUFastCache(NamedTuple):
    x: np.ndarray
    cdf: np.ndarray          # Phi(x), float32
    gauss: np.ndarray        # exp(-x^2 / 2) = sqrt(2 pi) phi(x), float32


_AS_P = 0.3275911 / math.sqrt(2)     # A&S 7.1.26's p, for u = x / sqrt(2)
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)  # a1 ... a5
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SIGN_BIT = np.int32(-2**31)


def gelu_forward(x):
    """``(x Phi(x), GELUFastCache)`` for exact GELU; None when the switch is off or ``x``
    is 0-d or not float32 (see the module doc)."""
    if not fast.is_enabled() or not x.ndim or x.dtype != np.float32:
        return None
    f = np.float32
    t = np.abs(x)
    t *= f(_AS_P)
    t += f(1)
    np.divide(f(1), t, out=t)                          # t = 1 / (1 + p |x| / sqrt 2)
    half = [f(-0.5 * a) for a in _AS_A]                # -(a1 t + ... + a5 t^5) / 2
    q = np.multiply(t, half[4])
    for a in half[3::-1]:
        q += a
        q *= t
    with np.errstate(over="ignore"):                   # x^2 = inf: exp(-inf) = 0, right
        gauss = np.multiply(x, x)
    gauss *= f(-0.5)
    np.exp(gauss, out=gauss)                           # exp(-x^2 / 2)
    q *= gauss
    q += f(0.5)                                        # erf(|x| / sqrt 2) / 2
    bits = q.view(np.int32)
    np.bitwise_or(bits, np.bitwise_and(x.view(np.int32), _SIGN_BIT), out=bits)  # sign of x
    q += f(0.5)                                        # Phi(x)
    return np.multiply(x, q), GELUFastCache(x, q, gauss)


def gelu_backward(dout, cache):
    """``dout (Phi(x) + x phi(x))`` from the cache of :func:`gelu_forward`."""
    x, cdf, gauss = cache
    grad = np.multiply(x, gauss)
    grad *= np.float32(_INV_SQRT_2PI)
    grad += cdf
    return _times_dout(dout, grad)
