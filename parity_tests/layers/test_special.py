"""``scratch.special.erf`` against ``math.erf`` and ``torch.erf``.

The bounds, in units in the last place (ulp) of the reference's value: scratch's
erf is within 1 ulp of the exact value for ``|x| <= 0.5`` and ``|x| >= 1`` and
within 2 for ``0.5 < |x| < 1`` (measured against 100-bit mpmath values, see
:mod:`scratch.special`); ``math.erf`` (the C library's) and torch's float64
erf are within 1 ulp of the exact value, so the two may differ by the sum: 2
and 3 ulp. In float32 scratch rounds its float64 value once and torch's
float32 erf is within 1 float32 ulp: they differ by at most 1 float32 ulp.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scratch.special import erf

# every float64: subnormals, huge values, signed zeros, infinities and NaN
any_float = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)
# the interval where the two approximations meet, drawn densely
near_one = st.floats(0.4, 1.1) | st.floats(-1.1, -0.4)
finite32 = st.floats(-10, 10, width=32, allow_subnormal=True)


def ulps(value: float, reference: float) -> float:
    """``|value - reference|`` in units of the spacing of floats at ``reference``."""
    if value == reference:
        return 0.0
    return abs(value - reference) / math.ulp(reference)


def bound(x: float) -> int:
    """scratch's bound plus the reference's 1 ulp (see the module doc)."""
    return 3 if 0.5 < abs(x) < 1 else 2


@given(st.one_of(any_float, near_one))
def test_erf_is_within_its_ulp_bound_of_math_erf(x):
    got = float(erf(np.float64(x)))
    want = math.erf(x)
    if math.isnan(want):
        assert math.isnan(got)
    else:
        assert ulps(got, want) <= bound(x), (x, got, want)


@given(st.sampled_from([0.0, -0.0, math.inf, -math.inf, 5e-324, -5e-324, 1e308, -1e308]))
def test_erf_keeps_signed_zeros_and_limits_exactly(x):
    got, want = erf(np.float64(x)), math.erf(x)
    assert got == want and np.signbit(got) == (math.copysign(1, want) < 0)


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
                  elements=any_float | near_one))
def test_erf_array_is_within_its_ulp_bound_of_torch_erf(x):
    got = erf(x)
    want = torch.erf(torch.from_numpy(x)).numpy()
    assert got.shape == x.shape and got.dtype == np.float64
    assert np.array_equal(np.isnan(got), np.isnan(want))
    for g, w, v in zip(got.ravel(), want.ravel(), x.ravel()):
        if not math.isnan(w):
            assert ulps(float(g), float(w)) <= bound(float(v)), (v, g, w)


@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=3, max_side=6),
                  elements=finite32))
def test_erf_float32_keeps_dtype_and_is_within_one_ulp_of_torch(x):
    got = erf(x)
    want = torch.erf(torch.from_numpy(x)).numpy()
    assert got.dtype == np.float32 and got.shape == x.shape
    gap = np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want))
    assert np.all(gap <= 1), (x, got, want)


def test_erf_keeps_its_bound_on_a_grid_across_the_interval_boundaries():
    """Every float64 on a fine grid around 0.5 and 1, where the approximations meet and
    where ``1 - erfc`` loses most (drawn values seldom land there)."""
    x = np.concatenate([np.linspace(0.40, 0.60, 4001), np.linspace(0.95, 1.05, 2001)])
    x = np.concatenate([x, -x])
    got = erf(x)
    for g, v in zip(got, x):
        assert ulps(float(g), math.erf(v)) <= bound(float(v)), (v, g, math.erf(v))
