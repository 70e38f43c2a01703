"""GroupNorm's fast path (:mod:`scratch.backends.fast.normalization`) equals the plain
pair of :mod:`scratch.functional.normalization`, and torch.

How equal: the fast path sums each group with products (BLAS)
and multiplies the textbook input gradient out into ``dout (r w) + x b + c``,
so each of its results, like the plain path's, is within the suite's budget
``tolerance(dtype, K)`` of the exact value (``K`` the group size times the input's
conditioning, as in ``layers/test_normalization.py``; the batch times that for the
weight gradient): the two are within twice that budget of each other, with NaN and
infinities at the same places. GroupNorm has no unbatched form (torch asks for
(N, C, *)); the smallest input, (N, C), is drawn.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.fast_path_helpers import (
    assert_fast_backward_of_another_dout_dtype_is_plain,
    assert_within_twice_the_budget,
    plain,
    with_specials,
)
from parity_tests.helpers import assert_pair_matches_torch, dtypes, upstream
from scratch import functional as F
from scratch import nn
from scratch.backends import fast
from scratch.backends.fast import normalization as fast_norm
from scratch.functional.normalization import GroupNormCache


@pytest.fixture(autouse=True)
def fast_on():
    """The fast paths on for every test here, also in a run with SCRATCH_FAST_PATHS=0."""
    with fast.flags(enabled=True):
        yield


def conditioning(x, groups, eps):
    """``max(1, max|x| / sqrt(min group variance + eps))`` over the finite groups."""
    g = np.asarray(x, np.float64).reshape(x.shape[0], groups, -1)
    g = g[np.isfinite(g).all(axis=2)]
    if not g.size:
        return 1.0
    return max(1.0, float(np.abs(g).max(initial=0) / np.sqrt(g.var(axis=1).min() + eps)))


@st.composite
def group_norm_cases(draw):
    """x (N, C, *) with 0 to 2 spatial axes, the group count, weight and bias (each
    present or not), eps and a seed."""
    groups = draw(st.integers(1, 3), label="groups")
    c = groups * draw(st.integers(1, 3))
    spatial = tuple(draw(st.lists(st.integers(1, 4), max_size=2), label="spatial"))
    n = draw(st.integers(1 if int(np.prod(spatial)) > 1 else 2, 4))   # torch: > 1 per channel
    x = draw(S.array((n, c) + spatial))
    weight = draw(st.none() | S.array((c,), S.WEIGHT_VALUES), label="weight")
    bias = draw(st.none() | S.array((c,), S.WEIGHT_VALUES), label="bias")
    eps = draw(st.sampled_from([1e-5, 1e-3, 0.5]), label="eps")
    return x, groups, weight, bias, eps, draw(S.SEEDS)


def _cast(dtype, *arrays):
    return [None if a is None else a.astype(dtype) for a in arrays]


@dtypes
def test_group_norm_fast_path_matches_the_plain_path(dtype):
    """Forward and every gradient, NaN, infinities and signed zeros drawn into x and dout."""
    @given(case=group_norm_cases(), data=st.data())
    def check(case, data):
        x, groups, weight, bias, eps, seed = case
        x, weight, bias = _cast(dtype, with_specials(data, x), weight, bias)
        with np.errstate(invalid="ignore", over="ignore"):
            out, cache = F.group_norm_forward(x, groups, weight, bias, eps)
            p_out, p_cache = plain(F.group_norm_forward, x, groups, weight, bias, eps)
            assert isinstance(cache, fast_norm.GroupNormFastCache)
            assert isinstance(p_cache, GroupNormCache)
            dout = with_specials(data, upstream(seed, x.shape, dtype))
            grads = F.group_norm_backward(dout, cache)
            p_grads = plain(F.group_norm_backward, dout, p_cache)
        k = x.size // (x.shape[0] * groups) * conditioning(x, groups, eps)
        for name, a, e, size in zip(("out", "dx", "dw", "db"), (out, *grads),
                                    (p_out, *p_grads), (k, k, k * x.shape[0], x.size)):
            assert (a is None) == (e is None), name
            if a is not None:
                assert a.dtype == np.dtype(dtype) and a.shape == e.shape, name
                assert_within_twice_the_budget(a, e, dtype, size, name)
    check()


@st.composite
def offset_group_norm_cases(draw):
    """As :func:`group_norm_cases`, x with a per-channel offset and spread
    (``S.offset_channels``): groups whose mean is far beyond their spread, where the
    fast path must centre before it sums squares."""
    groups = draw(st.integers(1, 3), label="groups")
    c = groups * draw(st.integers(1, 2))
    spatial = tuple(draw(st.lists(st.integers(2, 4), min_size=1, max_size=2), label="spatial"))
    x = draw(S.offset_channels((draw(st.integers(1, 3)), c) + spatial), label="x")
    weight = draw(st.none() | S.array((c,), S.WEIGHT_VALUES), label="weight")
    bias = draw(st.none() | S.array((c,), S.WEIGHT_VALUES), label="bias")
    return x, groups, weight, bias, draw(st.sampled_from([1e-5, 1e-3])), draw(S.SEEDS)


@dtypes
@given(case=group_norm_cases())
def test_group_norm_fast_path_matches_torch(case, dtype):
    x, groups, weight, bias, eps, seed = case
    x, weight, bias = _cast(dtype, x, weight, bias)
    k = x.size // (x.shape[0] * groups) * conditioning(x, groups, eps)
    _, cache = assert_pair_matches_torch(
        lambda x, w, b: F.group_norm_forward(x, groups, w, b, eps), F.group_norm_backward,
        lambda x, w, b: TF.group_norm(x, groups, w, b, eps), dict(x=x, w=weight, b=bias),
        dtype, seed, dict(out=k, dx=k, dw=k * x.shape[0], db=x.size // x.shape[1]))
    assert isinstance(cache, fast_norm.GroupNormFastCache)


@dtypes
@given(case=offset_group_norm_cases())
def test_group_norm_fast_path_with_offset_channels_matches_the_plain_path(case, dtype):
    """Near-constant and far-offset groups: the fast path's mean and variance from the
    centred groups, as the plain path's, within twice the budget (``conditioning``
    grows with the offset). The reference is the plain path, not torch: torch's
    CPU backward sums ``dout * x`` and subtracts ``mean * sum(dout)``, which cancels for
    such groups in float32 (on a constant group at -6e4 it is off by hundreds)."""
    x, groups, weight, bias, eps, seed = case
    x, weight, bias = _cast(dtype, x, weight, bias)
    dout = upstream(seed, x.shape, dtype)
    out, cache = F.group_norm_forward(x, groups, weight, bias, eps)
    grads = F.group_norm_backward(dout, cache)
    p_out, p_cache = plain(F.group_norm_forward, x, groups, weight, bias, eps)
    p_grads = plain(F.group_norm_backward, dout, p_cache)
    assert isinstance(cache, fast_norm.GroupNormFastCache)
    k = x.size // (x.shape[0] * groups) * conditioning(x, groups, eps)
    for name, a, e, size in zip(("out", "dx", "dw", "db"), (out, *grads),
                                (p_out, *p_grads), (k, k, k * x.shape[0], x.size)):
        assert (a is None) == (e is None), name
        if a is not None:
            assert_within_twice_the_budget(a, e, dtype, size, name)


def test_group_norm_backward_follows_its_forward_cache():
    """A fast cache goes to the fast backward with the switch off, a plain one to the
    plain backward with it on; the module's gradients equal the plain module's."""
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    w, b = np.linspace(-1, 1, 4), np.linspace(0, 1, 4)
    out, cache = F.group_norm_forward(x, 2, w, b)
    p_out, p_cache = plain(F.group_norm_forward, x, 2, w, b)
    dout = upstream(0, x.shape, np.float64)
    fast_grads = plain(F.group_norm_backward, dout, cache)
    plain_grads = F.group_norm_backward(dout, p_cache)
    for a, e in zip((out, *fast_grads), (p_out, *plain_grads)):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
    layer, p_layer = (nn.GroupNorm(2, 4, dtype=np.float64) for _ in range(2))
    layer.forward(x)
    dx = layer.backward(dout)
    plain(p_layer.forward, x)
    p_dx = plain(p_layer.backward, dout)
    np.testing.assert_allclose(dx, p_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, p_layer.weight.grad, rtol=1e-12, atol=1e-12)


def test_group_norm_fast_path_keeps_float32():
    x = np.random.default_rng(1).standard_normal((2, 4, 3, 3)).astype(np.float32)
    out, cache = F.group_norm_forward(x, 2)
    assert out.dtype == np.float32 and cache.x.dtype == np.float32
    assert all(g is None or g.dtype == np.float32
               for g in F.group_norm_backward(np.ones_like(x) * 0.5, cache))


@pytest.mark.parametrize("x_dtype, dout_dtype", [(np.float32, np.float64),
                                                 (np.float64, np.float32)])
def test_group_norm_fast_backward_of_another_dout_dtype_is_the_plain_one(x_dtype, dout_dtype):
    """A ``dout`` whose dtype is not the forward's: each gradient has the plain path's
    dtype (``dx`` dout's, ``dweight`` the promotion of both, ``dbias`` dout's) and value."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 5)).astype(x_dtype)
    w, b = (rng.standard_normal(4).astype(x_dtype) for _ in range(2))
    assert_fast_backward_of_another_dout_dtype_is_plain(
        F.group_norm_forward, F.group_norm_backward, fast_norm.GroupNormFastCache, x, (2, w, b),
        upstream(0, x.shape, dout_dtype))


def test_group_norm_fast_path_restores_numpy_buffer_size():
    """The ufunc buffer is shortened only inside the fast pair (rows of 256 values)."""
    before = np.getbufsize()
    x = np.random.default_rng(3).standard_normal((2, 2, 16, 16)).astype(np.float32)
    _, cache = F.group_norm_forward(x, 1)
    assert np.getbufsize() == before
    F.group_norm_backward(upstream(0, x.shape, np.float32), cache)
    assert np.getbufsize() == before


def test_group_norm_fast_backward_of_an_infinite_dout_is_the_plain_one():
    """An inf in ``dout`` on groups far from 0 (so centred first): the infinities and
    NaN of the plain backward, where the multiplied-out form gives ``0 * inf`` across
    the group."""
    rng = np.random.default_rng(0)
    x, dout = rng.standard_normal((2, 4, 3)) + 10, rng.standard_normal((2, 4, 3))
    w = rng.standard_normal(4)
    dout[0, 1, 2] = np.inf
    _, cache = F.group_norm_forward(x, 2, w, None)
    _, p_cache = plain(F.group_norm_forward, x, 2, w, None)
    with np.errstate(invalid="ignore"):
        grads = F.group_norm_backward(dout, cache)
        p_grads = plain(F.group_norm_backward, dout, p_cache)
    for name, a, e in zip(("dx", "dw"), grads, p_grads):
        assert_within_twice_the_budget(a, e, np.float64, 10, name)
