"""LayerNorm's fast path (:mod:`scratch.backends.fast.normalization`) equals the plain
pair of :mod:`scratch.functional.normalization`, and torch.

How equal: the fast path takes each row's sums of ``x`` and ``x**2`` as products (the
variance from them where the mean is at most the spread, else from the centred row)
and multiplies the textbook input gradient out into ``dout * rstd * w + x p + q``, so
each of its results, like the plain path's, is within the suite's budget
``tolerance(dtype, K)`` of the exact value, with ``test_layernorm.py``'s ``K`` (the row
length times the row's conditioning, times ``rstd`` for the input gradient; the rows
times that for the parameter gradients), here the largest over the rows: the two are
within twice that budget of each other, with NaN and infinities at the same places.
Every form is drawn: normalized_shape of one or two axes, zero to three leading axes
(none: an unbatched sample), weight and bias each present or not; through the module,
normalized_shape as an int or a tuple and each elementwise_affine/bias setting.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import sequence_strategies as Q
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
from scratch.functional.normalization import GroupNormCache, LayerNormCache


@pytest.fixture(autouse=True)
def fast_on():
    """The fast paths on for every test here, also in a run with SCRATCH_FAST_PATHS=0."""
    with fast.flags(enabled=True):
        yield


def budgets(x, k, eps):
    """``K`` of out and dx, and of the parameter gradients: the largest row's over the
    finite rows, as in ``test_layernorm.py`` (1 for a row of only NaN and infinities)."""
    m = int(np.prod(x.shape[x.ndim - k:]))
    rows = np.asarray(x, np.float64).reshape(-1, m)
    rows = rows[np.isfinite(rows).all(axis=1)]
    if not rows.size:
        return m, m
    std = np.sqrt(rows.var(axis=1) + eps)
    cond = np.maximum(1.0, np.abs(rows).max(axis=1) / std).max()
    rstd = np.maximum(1.0, 1 / std).max()
    return m * cond * rstd, len(x.reshape(-1, m)) * m * cond


def _cast(dtype, *arrays):
    return [None if a is None else a.astype(dtype) for a in arrays]


@dtypes
def test_layer_norm_fast_path_matches_the_plain_path(dtype):
    """Forward and every gradient, NaN, infinities and signed zeros drawn into x and dout."""
    @given(case=Q.layer_norm_cases(), data=st.data())
    def check(case, data):
        x, w, b = _cast(dtype, with_specials(data, case.x), case.weight, case.bias)
        shape, eps = case.shape, case.eps
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            out, cache = F.layer_norm_forward(x, shape, w, b, eps)
            p_out, p_cache = plain(F.layer_norm_forward, x, shape, w, b, eps)
            assert isinstance(cache, fast_norm.LayerNormFastCache)
            assert isinstance(p_cache, LayerNormCache)
            dout = with_specials(data, upstream(case.seed, x.shape, dtype))
            grads = F.layer_norm_backward(dout, cache)
            p_grads = plain(F.layer_norm_backward, dout, p_cache)
        k, k_params = budgets(x, len(shape), eps)
        for name, a, e, size in zip(("out", "dx", "dw", "db"), (out, *grads),
                                    (p_out, *p_grads), (k, k, k_params, k_params)):
            assert (a is None) == (e is None), name
            if a is not None:
                assert a.dtype == np.dtype(dtype) and a.shape == e.shape, name
                assert_within_twice_the_budget(a, e, dtype, size, name)
    check()


@dtypes
@given(case=Q.layer_norm_cases())
def test_layer_norm_fast_path_matches_torch(case, dtype):
    x, w, b = _cast(dtype, case.x, case.weight, case.bias)
    k, k_params = budgets(x, len(case.shape), case.eps)
    _, cache = assert_pair_matches_torch(
        lambda x, w, b: F.layer_norm_forward(x, case.shape, w, b, case.eps),
        F.layer_norm_backward,
        lambda x, w, b: TF.layer_norm(x, case.shape, w, b, case.eps),
        dict(x=x, w=w, b=b), dtype, case.seed, dict(out=k, dx=k, dw=k_params, db=k_params))
    assert isinstance(cache, fast_norm.LayerNormFastCache)


@dtypes
@given(case=Q.layer_norm_cases(), data=st.data())
def test_layer_norm_fast_path_with_offset_rows_matches_the_plain_path(case, data, dtype):
    """Near-constant and far-offset rows (``S.offset_channels`` over the leading axes):
    the fast path's mean and variance from the centred rows, as the plain path's,
    within twice the budget (the conditioning grows with the offset). The reference is
    the plain path: torch's CPU backward subtracts ``mean * sum(dout w)`` from
    ``sum(dout w x)``, which cancels for such rows."""
    lead = case.x.shape[:case.x.ndim - len(case.shape)]
    flat = data.draw(S.offset_channels((1, int(np.prod(lead)), int(np.prod(case.shape)))),
                     label="x")
    x, w, b = _cast(dtype, flat.reshape(case.x.shape), case.weight, case.bias)
    dout = upstream(case.seed, x.shape, dtype)
    out, cache = F.layer_norm_forward(x, case.shape, w, b, case.eps)
    grads = F.layer_norm_backward(dout, cache)
    p_out, p_cache = plain(F.layer_norm_forward, x, case.shape, w, b, case.eps)
    p_grads = plain(F.layer_norm_backward, dout, p_cache)
    assert isinstance(cache, fast_norm.LayerNormFastCache)
    k, k_params = budgets(x, len(case.shape), case.eps)
    for name, a, e, size in zip(("out", "dx", "dw", "db"), (out, *grads),
                                (p_out, *p_grads), (k, k, k_params, k_params)):
        assert (a is None) == (e is None), name
        if a is not None:
            assert_within_twice_the_budget(a, e, dtype, size, name)


@dtypes
@given(case=Q.layer_norm_cases(), affine=st.booleans(), bias=st.booleans(),
       as_int=st.booleans())
def test_layer_norm_module_fast_and_plain_agree(case, affine, bias, as_int, dtype):
    """The module with the switch on and off: output, input and parameter gradients."""
    shape = case.shape[0] if as_int and len(case.shape) == 1 else case.shape
    x = case.x.astype(dtype)
    dout = upstream(case.seed, x.shape, dtype)
    layers = [nn.LayerNorm(shape, case.eps, affine, bias, dtype=dtype) for _ in range(2)]
    if affine:
        for layer in layers:
            layer.weight.data[...] = case.weight if case.weight is not None else 0.5
            if bias:
                layer.bias.data[...] = case.bias if case.bias is not None else -0.25
    out, p_out = layers[0].forward(x), plain(layers[1].forward, x)
    dx, p_dx = layers[0].backward(dout), plain(layers[1].backward, dout)
    k, k_params = budgets(x, len(case.shape), case.eps)
    for name, a, e, size in [("out", out, p_out, k), ("dx", dx, p_dx, k)] + [
            (n, getattr(layers[0], n).grad, getattr(layers[1], n).grad, k_params)
            for n in ("weight", "bias") if getattr(layers[0], n) is not None]:
        assert a.dtype == np.dtype(dtype) and a.shape == e.shape, name
        assert_within_twice_the_budget(a, e, dtype, size, name)


def test_layer_norm_backward_follows_its_forward_cache():
    """A fast cache goes to the fast backward with the switch off, a plain one to the
    plain backward with it on."""
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    w, b = np.linspace(-1, 1, 5), np.linspace(0, 1, 5)
    out, cache = F.layer_norm_forward(x, (5,), w, b)
    p_out, p_cache = plain(F.layer_norm_forward, x, (5,), w, b)
    assert isinstance(cache, fast_norm.LayerNormFastCache)
    dout = upstream(0, x.shape, np.float64)
    fast_grads = plain(F.layer_norm_backward, dout, cache)
    plain_grads = F.layer_norm_backward(dout, p_cache)
    for a, e in zip((out, *fast_grads), (p_out, *plain_grads)):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_dtype, dout_dtype", [(np.float32, np.float64),
                                                 (np.float64, np.float32)])
def test_layer_norm_fast_backward_of_another_dout_dtype_is_the_plain_one(x_dtype, dout_dtype):
    """A ``dout`` whose dtype is not the forward's: each gradient has the plain path's
    dtype (``dx`` dout's, ``dweight`` the promotion of both, ``dbias`` dout's) and value."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 5)).astype(x_dtype)
    w, b = (rng.standard_normal(5).astype(x_dtype) for _ in range(2))
    assert_fast_backward_of_another_dout_dtype_is_plain(
        F.layer_norm_forward, F.layer_norm_backward, fast_norm.LayerNormFastCache, x, ((5,), w, b),
        upstream(0, x.shape, dout_dtype))


def test_layer_norm_fast_path_keeps_float32_and_leaves_other_weights_to_the_plain_path():
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    out, cache = F.layer_norm_forward(x, (4,))
    assert out.dtype == np.float32 and isinstance(cache, fast_norm.LayerNormFastCache)
    assert all(g is None or g.dtype == np.float32
               for g in F.layer_norm_backward(np.full_like(x, 0.5), cache))
    _, cache = F.layer_norm_forward(x, (4,), np.ones(4))             # float64 weight
    assert isinstance(cache, LayerNormCache)


def test_layer_norm_fast_backward_of_an_infinite_dout_is_the_plain_one():
    """An inf in ``dout`` on rows far from 0 (so centred first): the infinities and NaN
    of the plain backward, where the multiplied-out form gives ``0 * inf`` across the
    row and in the weight gradient."""
    rng = np.random.default_rng(0)
    x, dout = rng.standard_normal((2, 5)) + 10, rng.standard_normal((2, 5))
    w = rng.standard_normal(5)
    dout[0, 1] = np.inf
    _, cache = F.layer_norm_forward(x, (5,), w, None)
    _, p_cache = plain(F.layer_norm_forward, x, (5,), w, None)
    with np.errstate(invalid="ignore"):
        grads = F.layer_norm_backward(dout, cache)
        p_grads = plain(F.layer_norm_backward, dout, p_cache)
    for name, a, e in zip(("dx", "dw"), grads, p_grads):
        assert_within_twice_the_budget(a, e, np.float64, 10, name)


def test_long_float32_rows_and_non_finite_parameters_take_the_plain_path():
    """float32 rows longer than ``MAX_FLOAT32_ROW`` (BLAS's float32 sums lose accuracy
    with the row's length) and an infinite or NaN weight or bias (``x * scale + shift``
    would give ``inf - inf``): the plain path's caches and results, for layer norm and
    group norm; a float64 row of that length, and a float32 row at the limit, stay fast."""
    rng = np.random.default_rng(0)
    limit = fast_norm.MAX_FLOAT32_ROW
    long32 = rng.standard_normal((2, limit + 1)).astype(np.float32)
    assert isinstance(F.layer_norm_forward(long32, (limit + 1,))[1], LayerNormCache)
    assert isinstance(F.group_norm_forward(long32.reshape(2, 1, -1), 1)[1], GroupNormCache)
    at_limit = long32[:, :limit]
    assert isinstance(F.layer_norm_forward(at_limit, (limit,))[1], fast_norm.LayerNormFastCache)
    assert isinstance(F.layer_norm_forward(long32.astype(np.float64), (limit + 1,))[1],
                      fast_norm.LayerNormFastCache)
    x = rng.standard_normal((3, 4, 5))
    for bad in (np.inf, -np.inf, np.nan):
        w = np.ones(5)
        w[1] = bad
        with np.errstate(invalid="ignore"):
            for params in ((w, None), (None, w)):
                out, cache = F.layer_norm_forward(x, (5,), *params)
                p_out, _ = plain(F.layer_norm_forward, x, (5,), *params)
                assert isinstance(cache, LayerNormCache)
                np.testing.assert_array_equal(out, p_out)
            out, cache = F.group_norm_forward(x, 2, w[:4], None)
            assert isinstance(cache, GroupNormCache)


@dtypes
def test_layer_norm_fast_path_on_rows_of_hundreds_matches_the_plain_path(dtype):
    """Rows of 300 values, where the fast path's per-row passes run inside
    ``whole_rows`` (a ufunc buffer of one row)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 2, 300)).astype(dtype)
    w, b = (rng.standard_normal(300).astype(dtype) for _ in range(2))
    dout = upstream(7, x.shape, dtype)
    out, cache = F.layer_norm_forward(x, (300,), w, b)
    p_out, p_cache = plain(F.layer_norm_forward, x, (300,), w, b)
    assert isinstance(cache, fast_norm.LayerNormFastCache)
    k_out, k_params = budgets(x, 1, 1e-5)
    assert_within_twice_the_budget(out, p_out, dtype, k_out, "out")
    for name, a, e, k in zip(("dx", "dw", "db"), F.layer_norm_backward(dout, cache),
                             F.layer_norm_backward(dout, p_cache), (k_out, k_params, k_params)):
        assert_within_twice_the_budget(a, e, dtype, k, name)
