"""The element-wise fast paths of :mod:`scratch.backends.fast` (SmoothL1Loss in
``loss.py``; SiLU's forward and Hardswish in ``activation.py``) equal the plain pairs they stand in
for, and torch.

How equal:

- SmoothL1Loss: the slope ``clip(d, -beta, beta) / beta`` is the plain path's,
  bit for bit, and so is the input gradient (the plain backward runs on it). A loss
  element is ``0.5 m**2 / beta + (z - m)`` (``z = |d|``, ``m = min(z, beta)``),
  within a few roundings of the plain ``z - 0.5 beta`` outside (within twice the
  suite's budget for one term); the reduced loss sums the squares with ``np.dot``
  and the rest with ``sum``, in another order than the plain sum of the losses
  (within twice the budget for ``K`` terms, ``K`` the element count). NaN,
  infinities and signed zeros are drawn into the input, every shape of
  ``loss_cases`` (0-d, empty, unbatched 1-d) and every reduction.
- SiLU: the sigmoid as ``1 / (1 + exp(-x))`` against the plain ``1`` or
  ``exp(-|x|)`` over ``1 + exp(-|x|)``: the sigmoid, the output and the input
  gradient (the plain backward, on the fast cache) within twice the suite's budget
  for one term, as numbers (NaN and infinities at the same places; far below 0 the
  fast sigmoid is 0 where the plain one is subnormal, inside the absolute budget).
  Inputs as for ReLU's fast path: 2 to 4 dims, unbatched (one sample less), NaN,
  infinities, signed zeros and values far out (+-100, +-1000) drawn in. On the same
  cache the fast backward equals the plain one bit for bit (the same operations in
  the same order, in one buffer).
- Hardswish: the same operations on the same values (the slope from ``clip(x, -3,
  3)``, its kinks found by ``trunc``): bit for bit, output and input gradient, with
  the kinks -3 and 3, their neighbouring floats on both sides, NaN, infinities and
  signed zeros drawn into the input and the upstream gradient.
- GELU (exact, float32): ``Phi`` by Abramowitz and Stegun's 7.1.26 in float32, whose
  error in ``erf`` is below 1.5e-7, against the plain path's float64 ``erf`` rounded
  once: the output, ``Phi`` and the input gradient within twice the suite's budget
  for one term (1e-5 absolute and relative: the formula's error and a few float32
  roundings are below 1e-6 on inputs up to 1000, where a wrong coefficient, sign or
  scale moves them by 1e-3 or more), NaN and infinities at the same places, exactly
  1/2 at both zeros. Inputs as for SiLU's, with values where ``exp(-x^2 / 2)``
  underflows (+-13.5, +-20) drawn in as well; float64 stays on the plain path.
- ELU: the same operations on the same values (``exp(min(x, 0))`` taken in the
  forward and kept): bit for bit, output and input gradient, for the default
  ``alpha = 1`` (one multiplication in the backward) and drawn others (negative and
  0 included), with NaN, infinities, signed zeros and values far out drawn in.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import loss_cases as L
from parity_tests import strategies as S
from parity_tests.fast_path_helpers import (
    assert_bitwise_equal,
    assert_within_twice_the_budget,
    plain,
    with_specials,
)
from parity_tests.helpers import assert_parity, dtypes, torch_run, upstream
from scratch import functional as F
from scratch.backends import fast
from scratch.backends.fast import activation as fast_activation
from scratch.backends.fast import loss as fast_loss


@pytest.fixture(autouse=True)
def fast_on():
    """The fast paths on for every test here, also in a run with SCRATCH_FAST_PATHS=0."""
    with fast.flags(enabled=True):
        yield


# --------------------------------------------------------------------------- SmoothL1Loss
def _smooth_l1(case, dtype):
    x, target = case.inputs["input"].astype(dtype), case.consts["target"].astype(dtype)
    return x, target, case.options["reduction"], case.options["beta"]


@dtypes
def test_smooth_l1_fast_path_matches_the_plain_path(dtype):
    @given(case=L.elementwise_cases("smooth_l1_loss"), data=st.data())
    def check(case, data):
        x, target, reduction, beta = _smooth_l1(case, dtype)
        x = with_specials(data, x)
        with np.errstate(invalid="ignore", over="ignore"):
            loss, cache = F.smooth_l1_loss_forward(x, target, reduction=reduction, beta=beta)
            p_loss, p_cache = plain(F.smooth_l1_loss_forward, x, target, reduction=reduction,
                                    beta=beta)
            dloss = upstream(case.seed, loss.shape, dtype)
            dx = F.smooth_l1_loss_backward(dloss, cache)
            p_dx = plain(F.smooth_l1_loss_backward, dloss, p_cache)
        assert loss.dtype == np.dtype(dtype) and loss.shape == p_loss.shape
        k = 1 if reduction == "none" else max(x.size, 1)
        assert_within_twice_the_budget(loss, p_loss, dtype, k, "loss")
        assert_bitwise_equal(dx, p_dx, "dinput")
    check()


@dtypes
@given(case=L.elementwise_cases("smooth_l1_loss"))
def test_smooth_l1_fast_path_matches_torch(case, dtype):
    x, target, reduction, beta = _smooth_l1(case, dtype)
    if beta > 0 and x.ndim:
        assert fast_loss.smooth_l1_loss(x - target, beta, reduction) is not None
    with np.errstate(invalid="ignore"):
        loss, cache = F.smooth_l1_loss_forward(x, target, reduction=reduction, beta=beta)
        dloss = upstream(case.seed, loss.shape, dtype)
        dx = F.smooth_l1_loss_backward(dloss, cache)
    t_loss, grads = torch_run(TF.smooth_l1_loss, dict(input=x), dloss, dtype,
                              target=torch.from_numpy(target), reduction=reduction, beta=beta)
    if reduction == "mean" and not x.size:                 # 0 / 0: NaN on both sides
        assert np.isnan(loss) and torch.isnan(t_loss) and dx.shape == x.shape
        return
    k = 1 if reduction == "none" else max(x.size, 1)
    assert_parity(dict(loss=loss, dinput=dx), dict(loss=t_loss, dinput=grads["input"]), dtype,
                  dict(loss=k))


# --------------------------------------------------------------------------- SiLU
FAR = st.sampled_from([np.nan, np.inf, -np.inf, -0.0, 0.0, 100.0, -100.0, 1000.0, -1000.0])


@dtypes
def test_silu_fast_path_matches_the_plain_path(dtype):
    @given(case=S.pointwise_inputs(), unbatched=st.booleans(), data=st.data())
    def check(case, unbatched, data):
        x = with_specials(data, case[0].astype(dtype), FAR)
        x = np.ascontiguousarray(x[0]) if unbatched else x
        with np.errstate(invalid="ignore", over="ignore"):
            out, cache = F.silu_forward(x)
            p_out, p_cache = plain(F.silu_forward, x)
            assert fast_activation.silu_forward(x) is not None
            dout = upstream(case[1], x.shape, dtype)
            dx, p_dx = F.silu_backward(dout, cache), plain(F.silu_backward, dout, p_cache)
        for name, a, e in (("out", out, p_out), ("sigmoid", cache.sigmoid, p_cache.sigmoid),
                           ("dx", dx, p_dx)):
            assert a.dtype == np.dtype(dtype) and a.shape == x.shape, name
            assert_within_twice_the_budget(a, e, dtype, 1, name)
    check()


@dtypes
@given(case=S.pointwise_inputs(), unbatched=st.booleans(), data=st.data())
def test_silu_fast_backward_equals_the_plain_backward_bit_for_bit(case, unbatched, dtype,
                                                                   data):
    x = with_specials(data, case[0].astype(dtype), FAR)
    x = np.ascontiguousarray(x[0]) if unbatched else x
    with np.errstate(invalid="ignore", over="ignore"):
        _, cache = plain(F.silu_forward, x)
        dout = with_specials(data, upstream(case[1], x.shape, dtype))
        assert fast_activation.silu_backward(dout, cache) is not None
        dx, p_dx = F.silu_backward(dout, cache), plain(F.silu_backward, dout, cache)
    assert_bitwise_equal(dx, p_dx, "dx")


@dtypes
@given(case=S.pointwise_inputs())
def test_silu_fast_path_matches_torch(case, dtype):
    x = case[0].astype(dtype)
    out, cache = F.silu_forward(x)
    assert fast_activation.silu_forward(x) is not None
    dout = upstream(case[1], x.shape, dtype)
    t_out, grads = torch_run(TF.silu, dict(input=x), dout, dtype)
    assert_parity(dict(out=out, dx=F.silu_backward(dout, cache)),
                  dict(out=t_out, dx=grads["input"]), dtype)


def assert_pair_bit_for_bit(forward, backward, fast_cache, x, dout, *args):
    """The fast forward (its cache of type ``fast_cache``) and backward against the plain
    pair, bit for bit: output and input gradient. The backward follows its cache, so a
    fast cache runs the fast backward even with the switch off, and a plain one the
    plain backward even with it on."""
    with np.errstate(invalid="ignore", over="ignore"):
        out, cache = forward(x, *args)
        p_out, p_cache = plain(forward, x, *args)
        assert isinstance(cache, fast_cache)
        dx = plain(backward, dout, cache)
        p_dx = backward(dout, p_cache)
    assert_bitwise_equal(out, p_out, "out")
    assert_bitwise_equal(dx, p_dx, "dx")


# --------------------------------------------------------------------------- Hardswish
def _kinks(dtype):
    """-3 and 3 and the floats on either side of each, in ``dtype``."""
    kinks = [dtype(-3), dtype(3)]
    return [float(v) for k in kinks for v in (np.nextafter(k, dtype(-4)), k,
                                              np.nextafter(k, dtype(4)))]


@dtypes
def test_hardswish_fast_path_equals_the_plain_path_bit_for_bit(dtype):
    values = st.sampled_from(_kinks(dtype) + [np.nan, np.inf, -np.inf, -0.0, 0.0])

    @given(case=S.pointwise_inputs(), unbatched=st.booleans(), data=st.data())
    def check(case, unbatched, data):
        x = with_specials(data, case[0].astype(dtype), values, max_size=8)
        x = np.ascontiguousarray(x[0]) if unbatched else x
        dout = with_specials(data, upstream(case[1], x.shape, dtype))
        assert_pair_bit_for_bit(F.hardswish_forward, F.hardswish_backward,
                                fast_activation.HardswishFastCache, x, dout)
    check()


@dtypes
@given(case=S.pointwise_inputs(), data=st.data())
def test_hardswish_fast_path_matches_torch(case, dtype, data):
    x = with_specials(data, case[0].astype(dtype), st.sampled_from(_kinks(dtype)), max_size=8)
    out, cache = F.hardswish_forward(x)
    assert isinstance(cache, fast_activation.HardswishFastCache)
    dout = upstream(case[1], x.shape, dtype)
    t_out, grads = torch_run(TF.hardswish, dict(input=x), dout, dtype)
    assert_parity(dict(out=out, dx=F.hardswish_backward(dout, cache)),
                  dict(out=t_out, dx=grads["input"]), dtype)


# --------------------------------------------------------------------------- GELU
GELU_FAR = st.sampled_from([np.nan, np.inf, -np.inf, -0.0, 0.0, 13.5, -13.5, 20.0, -20.0,
                            1000.0, -1000.0])


def test_gelu_fast_path_matches_the_plain_path():
    dtype = np.float32

    @given(case=S.pointwise_inputs(), unbatched=st.booleans(), data=st.data())
    def check(case, unbatched, data):
        x = with_specials(data, case[0].astype(dtype), GELU_FAR)
        x = np.ascontiguousarray(x[0]) if unbatched else x
        with np.errstate(invalid="ignore"):
            out, cache = F.gelu_forward(x)
            p_out, p_cache = plain(F.gelu_forward, x)
            assert isinstance(cache, fast_activation.GELUFastCache)
            dout = upstream(case[1], x.shape, dtype)
            dx = plain(F.gelu_backward, dout, cache)              # a fast cache: fast backward
            p_dx = F.gelu_backward(dout, p_cache)                 # a plain cache: plain backward
        for name, a, e in (("out", out, p_out), ("cdf", cache.cdf, p_cache.cdf),
                           ("dx", dx, p_dx)):
            assert a.dtype == np.dtype(dtype) and a.shape == x.shape, name
            assert_within_twice_the_budget(a, e.astype(dtype), dtype, 1, name)
    check()


def test_gelu_fast_path_is_one_half_at_zero_and_float32_only():
    x = np.array([0.0, -0.0, 1.0, 1e20, -1e20], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # x * x overflows: no warning
        out, cache = F.gelu_forward(x)
    assert out[3] == x[3] and out[4] == 0
    assert cache.cdf[0] == cache.cdf[1] == np.float32(0.5)
    assert np.signbit(out[1]) and out[0] == 0
    assert fast_activation.gelu_forward(x.astype(np.float64)) is None
    assert fast_activation.gelu_forward(np.float32(1.0).reshape(())) is None


@given(case=S.pointwise_inputs())
def test_gelu_fast_path_matches_torch(case):
    x = case[0].astype(np.float32)
    out, cache = F.gelu_forward(x)
    assert isinstance(cache, fast_activation.GELUFastCache)
    dout = upstream(case[1], x.shape, np.float32)
    t_out, grads = torch_run(TF.gelu, dict(input=x), dout, np.float32)
    assert_parity(dict(out=out, dx=F.gelu_backward(dout, cache)),
                  dict(out=t_out, dx=grads["input"]), np.float32)


# --------------------------------------------------------------------------- ELU
ALPHAS = st.one_of(st.just(1.0), st.floats(-3, 3, allow_subnormal=False))


@dtypes
def test_elu_fast_path_equals_the_plain_path_bit_for_bit(dtype):
    @given(case=S.pointwise_inputs(), alpha=ALPHAS, unbatched=st.booleans(), data=st.data())
    def check(case, alpha, unbatched, data):
        x = with_specials(data, case[0].astype(dtype), FAR)
        x = np.ascontiguousarray(x[0]) if unbatched else x
        dout = with_specials(data, upstream(case[1], x.shape, dtype))
        assert_pair_bit_for_bit(F.elu_forward, F.elu_backward, fast_activation.ELUFastCache,
                                x, dout, alpha)
    check()


@dtypes
@given(case=S.pointwise_inputs(), alpha=ALPHAS)
def test_elu_fast_path_matches_torch(case, alpha, dtype):
    x = case[0].astype(dtype)
    out, cache = F.elu_forward(x, alpha)
    assert isinstance(cache, fast_activation.ELUFastCache)
    dout = upstream(case[1], x.shape, dtype)
    t_out, grads = torch_run(TF.elu, dict(input=x), dout, dtype, alpha=alpha)
    assert_parity(dict(out=out, dx=F.elu_backward(dout, cache)),
                  dict(out=t_out, dx=grads["input"]), dtype)
