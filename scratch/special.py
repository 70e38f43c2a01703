"""Special functions NumPy lacks, the twin of ``torch.special``: the error function.

``erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt``, element-wise, by
W. J. Cody's rational Chebyshev approximations ("Rational Chebyshev
approximations for the error function", Math. Comp. 23 (1969) 631-638; the
coefficients of his SPECFUN routine CALERF), one per interval of ``y = |x|``:

* ``y <= 0.5`` (the interval Cody fitted ``erf`` on; CALERF switches to ``erfc``
  at 0.46875, which serves ``erfc`` but costs ``erf`` up to 4 units in the last
  place between there and 0.5, where ``erfc`` is about as large as ``erf``):
  ``erf(x) = x * A(y^2) / B(y^2)``, ``A`` of degree 4, ``B`` of 4,
  evaluated as ``x + x * (A - B) / B`` with ``A`` and ``B`` divided by ``B``'s
  constant term in exact arithmetic first (each coefficient then rounded once):
  ``A / B`` is about 1.13 and its value at 0 must be ``2/sqrt(pi)`` to the last
  bit, and the rounding of ``(A - B) / B`` (about 0.13) costs the sum an eighth
  as much;
* ``0.5 < y <= 4``: ``erfc(y) = exp(-y^2) * C(y) / D(y)``, degree 8 over 8;
* ``y > 4``: ``erfc(y) = exp(-y^2) / y * (1/sqrt(pi) - z P(z) / Q(z))``,
  ``z = 1 / y^2``, degree 5 over 5;

and in the two outer intervals ``erf(x) = sign(x) * (1 - erfc(y))``. ``exp(-y^2)``
is computed as ``exp(-s^2) * exp(-(y - s)(y + s))`` with ``s`` = ``y`` rounded down
to a sixteenth, so that ``s^2`` is exact and the rounding error of ``y^2`` is not
magnified by the exponential. From ``y = 6`` on ``erfc(y) < 2^-54`` and
``erf(x)`` rounds to ``sign(x)`` in float64, so larger ``y`` (infinity included)
are evaluated at 6. Measured against 100-bit values: within 1 unit in the last
place of the exact value for ``y <= 0.5`` and ``y >= 1``, within 2 for
``0.5 < y < 1`` (where ``1 - erfc`` subtracts an ``erfc`` of 0.16 to 0.48 and
carries its rounding); ``parity_tests/layers/test_special.py`` checks these bounds against
``math.erf`` and ``torch.erf``. ``erf(-0.0) = -0.0``, ``erf(nan) = nan``.

The arithmetic is float64 whatever the input: the coefficients are fitted for
float64, and a float32 evaluation would round at each of the middle interval's
16 multiply-adds and in the exponentials, while the float64 result rounded once
to float32 is the float32 nearest ``erf(x)`` except where that rounding meets a
tie. The output keeps the input's dtype (the cast back is the last step).
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

_THRESH = 0.5                          # erf's interval, then erfc's
_SQRPI = 5.6418958354775628695e-1      # 1 / sqrt(pi)
_ERF_IS_ONE = 6.0                      # erfc(6) = 2.2e-17 < 2^-54: erf rounds to 1

# Cody's coefficients as published (CALERF's A, B; C, D; P, Q), in his order: a
# numerator's leading coefficient last, a denominator monic (leading 1 omitted).
_A = ("3.16112374387056560e00", "1.13864154151050156e02", "3.77485237685302021e02",
      "3.20937758913846947e03", "1.85777706184603153e-1")
_B = ("2.36012909523441209e01", "2.44024637934444173e02", "1.28261652607737228e03",
      "2.84423683343917062e03")
_C = ("5.64188496988670089e-1", "8.88314979438837594e00", "6.61191906371416295e01",
      "2.98635138197400131e02", "8.81952221241769090e02", "1.71204761263407058e03",
      "2.05107837782607147e03", "1.23033935479799725e03", "2.15311535474403846e-8")
_D = ("1.57449261107098347e01", "1.17693950891312499e02", "5.37181101862009858e02",
      "1.62138957456669019e03", "3.29079923573345963e03", "4.36261909014324716e03",
      "3.43936767414372164e03", "1.23033935480374942e03")
_P = ("3.05326634961232344e-1", "3.60344899949804439e-1", "1.25781726111229246e-1",
      "1.60837851487422766e-2", "6.58749161529837803e-4", "1.63153871373020978e-2")
_Q = ("2.56852019228982242e00", "1.87295284992346047e00", "5.27905102951428412e-1",
      "6.05183413124413191e-2", "2.33520497626869185e-3")


def _polynomials(num, den):
    """Cody's numerator and monic denominator as exact coefficient lists, highest
    degree first."""
    num, den = [Fraction(c) for c in num], [Fraction(c) for c in den]
    return [num[-1], *num[:-1]], [Fraction(1), *den]


def _floats(coeffs):
    return tuple(float(c) for c in coeffs)


_num, _den = _polynomials(_A, _B)
_INNER_DEN = _floats(d / _den[-1] for d in _den)                     # constant term 1
_INNER_NUM = _floats((n - d) / _den[-1] for n, d in zip(_num, _den))  # A/B - 1 on top
_MID_NUM, _MID_DEN = map(_floats, _polynomials(_C, _D))
_OUTER_NUM, _OUTER_DEN = map(_floats, _polynomials(_P, _Q))


def _horner(t, coeffs):
    """``coeffs[0] t^n + ... + coeffs[n]``, element-wise (``coeffs`` highest first)."""
    out = np.full_like(t, coeffs[0])
    for c in coeffs[1:]:
        out *= t
        out += c
    return out


def _exp_minus_square(y):
    """``exp(-y^2)`` as ``exp(-s^2) exp(-(y - s)(y + s))``, ``s = floor(16 y) / 16``."""
    s = np.trunc(y * 16) / 16
    return np.exp(-s * s) * np.exp(-(y - s) * (y + s))


def erf(x):
    """The error function of ``x``, element-wise, any shape (0-d included); the
    output has ``x``'s shape and floating dtype (float64 arithmetic, see the module
    doc). Integers and bools are taken as float64.

    Each interval's formula runs on the whole array of ``|x|`` clipped into that
    interval, and the right one is kept per element as a sum of which one term is
    0 (both are finite for any input but NaN), then the sign of ``x`` is put back
    (erf is odd): no gathering and scattering of the elements by interval, nor
    ``np.where``, which on an unpredictable condition took longer than the
    arithmetic."""
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    x64 = np.asarray(x, np.float64)
    y = np.abs(x64)
    yi = np.minimum(y, _THRESH)                           # |x| <= 0.5
    t = yi * yi
    inner = yi + yi * (_horner(t, _INNER_NUM) / _horner(t, _INNER_DEN))
    ym = np.clip(y, _THRESH, 4.0)                         # 0.5 < |x| <= 4
    erfc = _horner(ym, _MID_NUM) / _horner(ym, _MID_DEN)
    big = y > 4
    if big.any():                                         # |x| > 4, evaluated at <= 6
        yb = np.clip(y, 4.0, _ERF_IS_ONE)
        z = 1 / (yb * yb)
        erfc_big = (_SQRPI - z * _horner(z, _OUTER_NUM) / _horner(z, _OUTER_DEN)) / yb
        erfc, ym = np.where(big, erfc_big, erfc), np.where(big, yb, ym)
    erfc *= _exp_minus_square(ym)
    outer = (0.5 - erfc) + 0.5                            # 1 - erfc, Cody's order
    is_outer = y > _THRESH                                # False for NaN: inner, NaN too
    out = np.copysign(~is_outer * inner + is_outer * outer, x64)
    return out.astype(dtype, copy=False)
