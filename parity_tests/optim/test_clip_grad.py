"""scratch.nn.utils.clip_grad_norm_ / clip_grad_value_ against torch.nn.utils: the clipped
gradients and the returned total norm, for every norm type (inf included), gradients of
several shapes (0-d included) with some None, in float64 and float32.

Tolerance: the total norm sums ``K`` terms (every element of every gradient), each
rounded, so it is compared with the helper's budget for a reduction of ``K``; the
clipped gradients are the gradients times a factor computed from that norm, so they
get the same budget. float32 norms differ more than float64 ones only by the unit
roundoff. ``clip_grad_value_`` is a clamp: exact.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from parity_tests import strategies as S
from parity_tests.helpers import TORCH_DTYPE, assert_parity, dtypes
from scratch.nn import Parameter
from scratch.nn.utils import clip_grad_norm_, clip_grad_value_

NORM_TYPES = st.sampled_from([2.0, 1.0, math.inf, 3.0, 0.5, 0.0, -math.inf, "inf"])


@st.composite
def grad_sets(draw):
    """1-4 parameters of small shapes (0-d included); about one gradient in four None;
    values of a drawn scale, with repeats and zeros."""
    shapes = draw(st.lists(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
                           min_size=1, max_size=4))
    scale = draw(st.sampled_from([1e-3, 1.0, 100.0]))
    grads = [draw(S.array(shape, S.WEIGHT_VALUES)) * scale for shape in shapes]
    present = [draw(st.sampled_from([True, True, True, False])) for _ in shapes]
    return [g if keep else None for g, keep in zip(grads, present)]


def _pair(grads, dtype):
    params, t_params = [], []
    for g in grads:
        shape = np.shape(g) if g is not None else (2,)
        p = Parameter(np.zeros(shape, dtype))
        t = torch.zeros(shape, dtype=TORCH_DTYPE[np.dtype(dtype)], requires_grad=True)
        if g is not None:
            p.grad = np.asarray(g, dtype)
            t.grad = torch.from_numpy(np.array(g, dtype))
        params.append(p)
        t_params.append(t)
    return params, t_params


# torch's foreach: None (its choice), False (one tensor at a time) or True (its grouped
# kernels); the values must not depend on it
FOREACH = st.sampled_from([None, False, True])


@dtypes
@given(grads=grad_sets(), norm_type=NORM_TYPES, max_norm=st.floats(1e-3, 10.0),
       single=st.booleans(), foreach=FOREACH)
def test_clip_grad_norm_matches_torch(grads, norm_type, max_norm, single, foreach, dtype):
    """Same total norm (0-d, the gradients' dtype) and same clipped gradients; a
    parameter given alone (not in a list) works as in torch; None gradients stay None."""
    params, t_params = _pair(grads, dtype)
    if single:
        params, t_params, grads = params[:1], t_params[:1], grads[:1]
    total = clip_grad_norm_(params[0] if single else params, max_norm, norm_type,
                            foreach=foreach)
    t_total = torch.nn.utils.clip_grad_norm_(t_params[0] if single else t_params, max_norm,
                                             norm_type, foreach=foreach)
    assert isinstance(total, np.ndarray) and total.shape == ()
    k = sum(np.size(g) for g in grads if g is not None)
    expected_dtype = dtype if k else np.float32
    assert_parity({"total_norm": total}, {"total_norm": t_total}, expected_dtype,
                  reductions={"total_norm": k})
    assert_parity({f"grad{i}": p.grad for i, p in enumerate(params)},
                  {f"grad{i}": t.grad for i, t in enumerate(t_params)}, dtype,
                  reductions={f"grad{i}": max(k, 1) for i in range(len(params))})


@dtypes
@given(grads=grad_sets(), clip_value=st.floats(0.0, 5.0), foreach=FOREACH)
def test_clip_grad_value_matches_torch_exactly(grads, clip_value, foreach, dtype):
    """Elementwise clamp, exact. Where every gradient is None, torch fails inside its
    grouping helper (an internal RuntimeError) and scratch does nothing, on purpose."""
    params, t_params = _pair(grads, dtype)
    assert clip_grad_value_(params, clip_value, foreach=foreach) is None
    if all(g is None for g in grads):
        assert all(p.grad is None for p in params)
        with pytest.raises(RuntimeError):
            torch.nn.utils.clip_grad_value_(t_params, clip_value, foreach=foreach)
        return
    torch.nn.utils.clip_grad_value_(t_params, clip_value, foreach=foreach)
    for p, t in zip(params, t_params):
        if t.grad is None:
            assert p.grad is None
        else:
            assert p.grad.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(p.grad, t.grad.numpy())


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("norm_type", [2.0, math.inf])
def test_nonfinite_total_norm_errors_only_when_asked(bad, norm_type):
    """``error_if_nonfinite=True`` raises RuntimeError as torch; without it both scale by
    the non-finite norm and return it."""
    grads = [np.array([1.0, bad]), np.array([2.0])]
    params, t_params = _pair(grads, np.float64)
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(params, 1.0, norm_type, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(t_params, 1.0, norm_type, error_if_nonfinite=True)
    total = clip_grad_norm_(params, 1.0, norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(t_params, 1.0, norm_type)
    np.testing.assert_array_equal(total, t_total.numpy())
    for p, t in zip(params, t_params):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())


def test_coefficient_is_capped_at_one_and_uses_eps_1e_6():
    """A norm below max_norm leaves gradients untouched (factor 1, never scaled up); at
    the boundary the factor is ``max_norm / (norm + 1e-6)``, slightly below 1."""
    p = Parameter(np.array([3.0, 4.0]))
    p.grad = np.array([3.0, 4.0])
    assert float(clip_grad_norm_([p], 10.0)) == 5.0
    np.testing.assert_array_equal(p.grad, [3.0, 4.0])
    clip_grad_norm_([p], 5.0)
    np.testing.assert_array_equal(p.grad, np.array([3.0, 4.0]) * (5.0 / (5.0 + 1e-6)))


def test_no_gradients_give_a_float32_zero_norm_like_torch():
    p = Parameter(np.zeros(3))
    total = clip_grad_norm_([p], 1.0)
    t_total = torch.nn.utils.clip_grad_norm_([torch.zeros(3, requires_grad=True)], 1.0)
    assert total.dtype == np.float32 and float(total) == 0.0
    assert t_total.dtype == torch.float32 and float(t_total) == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((q for q in []), 1.0)


def test_importable_like_torch():
    import scratch.nn.utils
    from scratch.nn.utils.clip_grad import clip_grad_norm_ as direct
    assert scratch.nn.utils.clip_grad_norm_ is direct


@dtypes
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)], ids=str)
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_single_parameter_and_single_array_forms_match_torch(shape, norm_type, dtype):
    """torch's helpers take one tensor as well as an iterable: ``get_total_norm`` of one
    array (0-d included), ``clip_grads_with_norm_`` and ``clip_grad_value_`` of one
    Parameter give torch's numbers."""
    from scratch.nn.utils import clip_grads_with_norm_, get_total_norm
    grad = np.random.default_rng(len(shape)).uniform(-3, 3, shape).astype(dtype)
    total = get_total_norm(grad.copy(), norm_type)
    t_total = torch.nn.utils.get_total_norm(torch.from_numpy(grad.copy()), norm_type)
    assert_parity(dict(total=total), dict(total=t_total), dtype, dict(total=max(grad.size, 1)))
    for ours_fn, torch_fn in (
            (lambda p: clip_grads_with_norm_(p, 1.0, total),
             lambda t: torch.nn.utils.clip_grads_with_norm_(t, 1.0, t_total)),
            (lambda p: clip_grad_value_(p, 1.0),
             lambda t: torch.nn.utils.clip_grad_value_(t, 1.0))):
        (p,), (t,) = _pair([grad], dtype)
        ours_fn(p)
        torch_fn(t)
        assert_parity(dict(grad=p.grad), dict(grad=t.grad), dtype)


def test_an_empty_list_is_not_warned_about_as_an_empty_generator():
    """torch warns only when a generator turned out empty (likely already consumed)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(clip_grad_norm_([], 1.0)) == float(torch.nn.utils.clip_grad_norm_([], 1.0))
