"""The transposed-convolution forward of :mod:`scratch.backends.fast.conv_transpose` equals
the plain multiply-then-fold and torch.

The general tests (test_conv_transpose.py) run both forwards through the functional
pairs and the modules; here the fast path is drawn with larger kernels, inputs and
batches, NaN, infinities and signed zeros in the input and weight, and checked to be
entered, to step aside when the switch is off or the weight is not finite, and to
leave the plain cache.

How equal: the same products, and each output element adds its taps in the same
order, but BLAS may group a product's sum differently for a matrix of another size
(the phase planes hold a few more columns). Each path is within the suite's budget
``tolerance(dtype, K)`` of the exact value (``K = C/groups * kh * kw`` products per
output element), so the two are within twice that of each other; non-finite values
sit at the same places. The backward is the plain one on an equal cache.
"""
from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.fast_path_helpers import (
    assert_bitwise_equal,
    assert_within_twice_the_budget,
    plain,
    with_specials,
)
from parity_tests.helpers import assert_close, assert_pair_matches_torch, dtypes
from scratch import functional as F
from scratch.backends import fast
from scratch.backends.fast import conv_transpose as fast_transpose

BIGGER = dict(max_kernel=5, max_size=5, max_batch=3)


@pytest.fixture(autouse=True)
def fast_on():
    """The fast paths on for every test here, also in a run with SCRATCH_FAST_PATHS=0."""
    with fast.flags(enabled=True):
        yield


def _cast(case, dtype):
    x, w, b, geometry, groups, seed = case
    return (x.astype(dtype), w.astype(dtype), None if b is None else b.astype(dtype),
            geometry, groups, seed)


@dtypes
@given(case=S.transposed_cases(2, **BIGGER), data=st.data())
def test_conv_transpose2d_fast_forward_matches_the_plain_path(case, data, dtype):
    """Special values in x and w (a non-finite weight hands the call to the plain path,
    and only that: the fast forward is seen to run otherwise): outputs within twice the
    budget, the caches equal, so the backward is the same."""
    x, w, b, (s, p, op, d), groups, _ = _cast(case, dtype)
    x, w = with_specials(data, x), with_specials(data, w, max_size=2)
    args = (x, w, b, s, p, op, groups, d)
    returned, original = [], fast_transpose.conv_transpose2d_forward

    def spy(*fast_args):
        returned.append(original(*fast_args))
        return returned[-1]
    with np.errstate(invalid="ignore", over="ignore"):
        with mock.patch.object(fast_transpose, "conv_transpose2d_forward", spy):
            out, cache = F.conv_transpose2d_forward(*args)
        p_out, p_cache = plain(F.conv_transpose2d_forward, *args)
    assert (returned[0] is not None) == bool(np.isfinite(w).all())   # fast unless w is not
    assert out.dtype == np.dtype(dtype) and out.flags.c_contiguous
    k = x.shape[1] // groups * w.shape[2] * w.shape[3]
    assert_within_twice_the_budget(out, p_out, dtype, k, "out")
    assert_bitwise_equal(cache.x_m, p_cache.x_m, "cache.x_m")
    assert cache.w is p_cache.w and cache[2:] == p_cache[2:]


@dtypes
@pytest.mark.parametrize("spatial", [1, 2])
@given(data=st.data())
def test_conv_transpose_fast_forward_matches_torch(spatial, data, dtype):
    x, w, b, (s, p, op, d), groups, seed = _cast(
        data.draw(S.transposed_cases(spatial, **BIGGER), label="case"), dtype)
    forward = F.conv_transpose2d_forward if spatial == 2 else F.conv_transpose1d_forward
    backward = F.conv_transpose2d_backward if spatial == 2 else F.conv_transpose1d_backward
    torch_fn = TF.conv_transpose2d if spatial == 2 else TF.conv_transpose1d
    k = x.shape[1] // groups * int(np.prod(w.shape[2:]))
    per_channel = lambda out: out.size // out.shape[1]  # noqa: E731
    assert_pair_matches_torch(
        lambda x, w, b: forward(x, w, b, s, p, op, groups, d), backward,
        lambda x, w, b: torch_fn(x, w, b, s, p, op, groups, d), dict(x=x, w=w, b=b), dtype,
        seed, lambda out: dict(out=k, dx=w.shape[1] * k, dw=per_channel(out),
                               db=per_channel(out)))


def _spy(monkeypatch):
    """Record what the fast forward returns each time the plain function calls it."""
    returned, original = [], fast_transpose.conv_transpose2d_forward

    def spy(*args):
        returned.append(original(*args))
        return returned[-1]
    monkeypatch.setattr(fast_transpose, "conv_transpose2d_forward", spy)
    return returned


@pytest.mark.parametrize("spatial", [1, 2])
def test_the_fast_forward_is_entered_and_its_output_returned(spatial, monkeypatch):
    returned = _spy(monkeypatch)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, *(5,) * spatial))
    w = rng.standard_normal((4, 3, *(4,) * spatial))
    forward = F.conv_transpose2d_forward if spatial == 2 else F.conv_transpose1d_forward
    out, _ = forward(x, w, None, 2, 1, 1, 2)
    assert len(returned) == 1 and returned[0] is not None
    assert np.shares_memory(out, returned[0][0])


@pytest.mark.parametrize("switch, weight", [(False, 1.0), (True, np.inf), (True, np.nan)])
def test_the_fast_forward_steps_aside(switch, weight, monkeypatch):
    """Off with the switch, and for a weight that is not finite (the zeros between the
    phase planes' rows would meet it as inf * 0 = NaN)."""
    returned = _spy(monkeypatch)
    x = np.ones((1, 1, 3, 3))
    w = np.ones((1, 1, 4, 4))
    w[0, 0, 0, 0] = weight
    with fast.flags(enabled=switch), np.errstate(invalid="ignore"):
        F.conv_transpose2d_forward(x, w, None, 2, 1)
    assert returned == [None]


def test_an_infinite_weight_spreads_only_where_torch_spreads_it():
    """Tap (0, 0) infinite: torch's output is infinite where that tap lands and finite
    elsewhere (the last column and row are reached by other taps only)."""
    x = np.arange(1, 2 * 2 * 3 * 3 + 1, dtype=np.float64).reshape(2, 2, 3, 3) / 10
    w = np.full((2, 3, 4, 4), 0.5)
    w[0, 0, 0, 0] = np.inf
    with np.errstate(invalid="ignore"):
        out, _ = F.conv_transpose2d_forward(x, w, None, 2, 1)
    t_out = TF.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), None, 2, 1).numpy()
    assert np.isfinite(t_out).any() and not np.isfinite(t_out).all()
    assert_close(out, t_out, 1e-12, name="out", equal_nan=True)
