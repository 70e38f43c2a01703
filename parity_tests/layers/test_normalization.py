"""The per-sample normalisations against torch: GroupNorm, InstanceNorm1d/2d, RMSNorm,
LocalResponseNorm.

The functional pairs with every option drawn (groups, weight and bias each present
or not, running buffers with or without input statistics, trailing normalised
shapes, eps None or given, LRN windows wider than the channels), the modules over
three steps in torch's argument order (repr, state_dict, running buffers, batched
and unbatched input), finite differences, torch's refusals.

Tolerance: a normalised value carries the rounding error of its group's mean and
variance, ``M`` terms, amplified by ``max|x| / std`` (:func:`conditioning`, computed
from the input alone, as for batch norm); LRN's window sum has ``size`` terms.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, note
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import (
    assert_module_matches_torch,
    assert_pair_matches_torch,
    assert_parity,
    assert_refused_alike,
    check,
    dtypes,
    same_state_twins,
    spread,
)
from scratch import functional as F
from scratch import nn


def conditioning(x, groups, eps):
    """``max(1, max|x| / sqrt(min group variance + eps))`` over (sample, group) groups."""
    g = np.asarray(x, np.float64).reshape(x.shape[0], groups, -1)
    return max(1.0, float(np.abs(g).max(initial=0) / np.sqrt(g.var(axis=2).min() + eps)))


@st.composite
def norm_inputs(draw, min_dims=2, max_dims=4, min_spatial=0):
    """(N, C, *) with C a multiple of a drawn group count, and the group count."""
    groups = draw(st.integers(1, 3), label="groups")
    c = groups * draw(st.integers(1, 2))
    ndim = draw(st.integers(min_dims, max_dims))
    spatial = tuple(draw(st.integers(1, 3)) for _ in range(ndim - 2))
    if min_spatial and int(np.prod(spatial)) < min_spatial:
        spatial = spatial[:-1] + (spatial[-1] + 1,) if spatial else (2,)
    per_group = c // groups * int(np.prod(spatial))
    n = draw(st.integers(1 if per_group > 1 else 2, 3))   # torch: more than 1 value per group
    return draw(S.array((n, c) + spatial)), groups


def maybe(draw, shape, label):
    return draw(S.array(shape, S.WEIGHT_VALUES), label=label) if draw(
        st.booleans(), label=f"has {label}") else None


# --------------------------------------------------------------------------- group norm
@dtypes
@given(data=st.data())
def test_group_norm_matches_torch(data, dtype):
    x, groups = data.draw(norm_inputs(), label="x, groups")
    c = x.shape[1]
    weight, bias = maybe(data.draw, (c,), "weight"), maybe(data.draw, (c,), "bias")
    eps = data.draw(st.sampled_from([1e-5, 1e-3, 0.5]), label="eps")
    x, weight, bias = (None if a is None else a.astype(dtype) for a in (x, weight, bias))
    seed = data.draw(S.SEEDS)
    m = x.size // (x.shape[0] * groups)
    k = m * conditioning(x, groups, eps)
    note(f"group size {m}, budget {k:.1f}")
    assert_pair_matches_torch(lambda x, w, b: F.group_norm_forward(x, groups, w, b, eps),
                              F.group_norm_backward,
                              lambda x, w, b: TF.group_norm(x, groups, w, b, eps),
                              dict(x=x, w=weight, b=bias), dtype, seed,
                              dict(out=k, dx=k, dw=k * x.shape[0], db=x.size // c))


# --------------------------------------------------------------------------- instance norm
@dtypes
@given(data=st.data())
def test_instance_norm_matches_torch(data, dtype):
    """Input statistics (updating running buffers when given) or running statistics."""
    x, _ = data.draw(norm_inputs(min_dims=3, min_spatial=2), label="x")
    c = x.shape[1]
    use_input_stats = data.draw(st.booleans(), label="use_input_stats")
    tracked = not use_input_stats or data.draw(st.booleans(), label="tracked")
    weight, bias = maybe(data.draw, (c,), "weight"), maybe(data.draw, (c,), "bias")
    momentum = data.draw(st.sampled_from([0.1, 0.5, 0.0]), label="momentum")
    rm = data.draw(S.array((c,), S.WEIGHT_VALUES), label="running_mean")
    rv = 1 + np.abs(data.draw(S.array((c,), S.WEIGHT_VALUES), label="running_var"))
    x, weight, bias, rm, rv = (None if a is None else a.astype(dtype)
                               for a in (x, weight, bias, rm, rv))
    ours = (rm.copy(), rv.copy()) if tracked else (None, None)
    theirs = (torch.from_numpy(rm.copy()), torch.from_numpy(rv.copy())) if tracked else (
        None, None)
    seed = data.draw(S.SEEDS)
    m = x.size // (x.shape[0] * c)
    k = m * (conditioning(x, c, 1e-5) if use_input_stats else 1)
    assert_pair_matches_torch(
        lambda x, w, b: F.instance_norm_forward(x, *ours, w, b, use_input_stats, momentum),
        F.instance_norm_backward,
        lambda x, w, b: TF.instance_norm(x, *theirs, w, b, use_input_stats, momentum),
        dict(x=x, w=weight, b=bias), dtype, seed,
        dict(out=k, dx=k, dw=k * x.shape[0], db=x.size // c))
    if tracked:
        assert_parity(dict(running_mean=ours[0], running_var=ours[1]),
                      dict(running_mean=theirs[0], running_var=theirs[1]), dtype,
                      dict(running_mean=x.size // c, running_var=x.size // c))


# --------------------------------------------------------------------------- RMS norm
@dtypes
@given(data=st.data())
def test_rms_norm_matches_torch(data, dtype):
    ndim = data.draw(st.integers(1, 4), label="ndim")
    shape = tuple(data.draw(st.integers(1, 3)) for _ in range(ndim))
    k = data.draw(st.integers(1, ndim), label="normalised dims")
    normalized = shape[ndim - k:]
    x = data.draw(S.array(shape), label="x").astype(dtype)
    weight = maybe(data.draw, normalized, "weight")
    weight = None if weight is None else weight.astype(dtype)
    eps = data.draw(st.sampled_from([None, 1e-5, 0.25]), label="eps")
    seed = data.draw(S.SEEDS)
    m = int(np.prod(normalized))
    rows = x.reshape(-1, m).astype(np.float64)
    eps_ = np.finfo(dtype).eps if eps is None else eps
    cond = max(1.0, float(np.abs(rows).max(initial=0) / np.sqrt(
        (rows * rows).mean(axis=1).min(initial=1) + eps_)))
    assert_pair_matches_torch(lambda x, w: F.rms_norm_forward(x, normalized, w, eps),
                              F.rms_norm_backward,
                              lambda x, w: TF.rms_norm(x, normalized, w, eps),
                              dict(x=x, w=weight), dtype, seed,
                              dict(out=m * cond, dx=m * cond, dw=x.size // m * m * cond))


# --------------------------------------------------------------------------- local response norm
@dtypes
@given(data=st.data())
def test_local_response_norm_matches_torch(data, dtype):
    """Windows of any size (wider than the channels too), 3 to 5 dims."""
    ndim = data.draw(st.integers(3, 5), label="ndim")
    shape = tuple(data.draw(st.integers(1, 4)) for _ in range(ndim))
    x = data.draw(S.array(shape), label="x").astype(dtype)
    size = data.draw(st.integers(1, 6), label="size")
    alpha = data.draw(st.sampled_from([1e-4, 0.5, 1.0]), label="alpha")
    beta = data.draw(st.sampled_from([0.75, 0.5, 2.0]), label="beta")
    k = data.draw(st.sampled_from([1.0, 2.0, 0.5]), label="k")
    assert_pair_matches_torch(lambda x: F.local_response_norm_forward(x, size, alpha, beta, k),
                              F.local_response_norm_backward,
                              lambda x: TF.local_response_norm(x, size, alpha, beta, k),
                              dict(x=x), dtype, data.draw(S.SEEDS), dict(out=size, dx=4 * size))


# --------------------------------------------------------------------------- modules
# name -> (class, torch-order args, keyword args, input shape)
MODULES = {
    "group_norm": ("GroupNorm", (2, 4), {}, (3, 4, 2, 2)),
    "group_norm_no_affine": ("GroupNorm", (1, 3, 1e-3, False), {}, (2, 3, 5)),
    "group_norm_no_bias": ("GroupNorm", (3, 3), {"bias": False}, (2, 3)),
    "instance_norm1d": ("InstanceNorm1d", (3,), {}, (2, 3, 5)),
    "instance_norm1d_unbatched_tracked": ("InstanceNorm1d", (3, 1e-5, 0.3, True, True), {},
                                          (3, 4)),
    "instance_norm2d_affine": ("InstanceNorm2d", (2, 1e-5, 0.1, True), {}, (2, 2, 3, 3)),
    "instance_norm2d_tracked": ("InstanceNorm2d", (2, 1e-3, 0.5, False, True), {},
                                (3, 2, 2, 3)),
    "instance_norm2d_cumulative_unbatched": ("InstanceNorm2d", (2, 1e-5, None, True, True),
                                             {"bias": False}, (2, 3, 2)),
    "rms_norm": ("RMSNorm", ((3, 4),), {}, (2, 3, 4)),
    "rms_norm_eps_no_affine": ("RMSNorm", (4, 1e-3, False), {}, (3, 4)),
    "local_response_norm": ("LocalResponseNorm", (3,), {}, (2, 5, 3, 3)),
    "local_response_norm_wide": ("LocalResponseNorm", (4, 0.5, 0.5, 2.0), {}, (2, 3, 4)),
}


@dtypes
@pytest.mark.parametrize("name", MODULES)
@S.fewer_examples(1 / 3)
@given(seed=S.SEEDS, training=st.booleans())
def test_normalization_module_matches_torch_over_steps(name, seed, training, dtype):
    """Three steps in train or eval mode: output, gradients, buffers and repr agree."""
    cls, args, kwargs, shape = MODULES[name]
    typed = {} if cls == "LocalResponseNorm" else dict(dtype=dtype)
    scratch = getattr(nn, cls)(*args, **typed, **kwargs)
    twin = same_state_twins(scratch, getattr(torch.nn, cls)(*args, **kwargs), dtype, seed)
    assert repr(scratch) == repr(twin)
    scratch.train(training)
    twin.train(training)
    rng = np.random.default_rng(seed)
    for step in range(3):
        x = rng.standard_normal(shape).astype(dtype)
        batched = x if x.ndim > 2 or cls != "InstanceNorm1d" else x[None]
        k = max(x.size // shape[0], 4) * conditioning(batched, 1, 1e-5) * 4
        assert_module_matches_torch(scratch, twin, x, dtype, seed + step, k)


@dtypes
@pytest.mark.parametrize("name", MODULES)
def test_fresh_normalization_state_equals_torchs(name, dtype):
    cls, args, kwargs, _ = MODULES[name]
    typed = {} if cls == "LocalResponseNorm" else dict(dtype=dtype)
    state = getattr(nn, cls)(*args, **typed, **kwargs).state_dict()
    t_state = getattr(torch.nn, cls)(*args, **kwargs).state_dict()
    assert list(state) == list(t_state)
    for key, value in state.items():
        np.testing.assert_array_equal(value, t_state[key].numpy(), err_msg=key)


# --------------------------------------------------------------------------- finite differences
@given(shape=S.batch_shapes(min_dims=3), seed=S.SEEDS, groups=st.sampled_from([1, 2]))
def test_group_norm_backward_matches_finite_differences(shape, seed, groups):
    shape = (shape[0], shape[1] * groups) + shape[2:]
    rng = np.random.default_rng(seed)
    check(lambda x, w, b: F.group_norm_forward(x, groups, w, b), F.group_norm_backward,
          spread(shape, seed), rng.uniform(-1, 1, shape[1]), rng.uniform(-1, 1, shape[1]))


@given(shape=S.batch_shapes(min_dims=3), seed=S.SEEDS, use_input_stats=st.booleans())
def test_instance_norm_backward_matches_finite_differences(shape, seed, use_input_stats):
    rng = np.random.default_rng(seed)
    c = shape[1]
    stats = rng.uniform(-1, 1, c), rng.uniform(0.5, 2, c)

    def forward(x, w, b):   # fresh copies: the finite differences call it many times
        return F.instance_norm_forward(x, stats[0].copy(), stats[1].copy(), w, b,
                                       use_input_stats)
    check(forward, F.instance_norm_backward, spread(shape, seed), rng.uniform(-1, 1, c),
          rng.uniform(-1, 1, c))


@given(shape=S.batch_shapes(min_dims=2), seed=S.SEEDS)
def test_rms_norm_backward_matches_finite_differences(shape, seed):
    normalized = shape[1:]
    """eps 1e-3: with torch's default (machine epsilon) a lone value is x / |x|, whose
    slope near 0 no finite difference can follow."""
    check(lambda x, w: F.rms_norm_forward(x, normalized, w, 1e-3), F.rms_norm_backward,
          spread(shape, seed, away_from_zero=True),
          np.random.default_rng(seed).uniform(-1, 1, normalized))


@given(shape=S.batch_shapes(min_dims=3), seed=S.SEEDS, size=st.integers(1, 5))
def test_local_response_norm_backward_matches_finite_differences(shape, seed, size):
    check(lambda x: F.local_response_norm_forward(x, size, 0.5, 0.75, 1.0),
          F.local_response_norm_backward, spread(shape, seed))


# --------------------------------------------------------------------------- refusals
ERRORS = [
    ("group_norm_groups_dont_divide", lambda m: m.GroupNorm(2, 3), ValueError),
    ("group_norm_1d_input", lambda m: m.GroupNorm(1, 3)(np.zeros(3, np.float32)),
     RuntimeError),
    ("group_norm_one_value_per_group", lambda m: m.GroupNorm(3, 3)(np.zeros((1, 3),
                                                                           np.float32)),
     ValueError),
    ("instance_norm1d_4d", lambda m: m.InstanceNorm1d(3)(np.zeros((1, 3, 2, 2), np.float32)),
     ValueError),
    ("instance_norm2d_affine_channels", lambda m: m.InstanceNorm2d(3, affine=True)(
        np.zeros((1, 4, 2, 2), np.float32)), ValueError),
    ("instance_norm_one_position", lambda m: m.InstanceNorm1d(3)(np.zeros((2, 3, 1),
                                                                          np.float32)),
     ValueError),
    ("rms_norm_shape", lambda m: m.RMSNorm(4)(np.zeros((2, 3), np.float32)), RuntimeError),
    ("local_response_norm_2d", lambda m: m.LocalResponseNorm(2)(np.zeros((2, 3), np.float32)),
     ValueError),
]


@pytest.mark.parametrize("call, error", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_input_is_refused_as_torch_refuses_it(call, error):
    assert_refused_alike(call, error)


def test_instance_norm_warns_on_a_channel_count_it_does_not_use():
    x = np.zeros((1, 4, 3), np.float32)
    with pytest.warns(UserWarning, match="input's size at dim=1 does not match num_features"):
        nn.InstanceNorm1d(3).forward(x)


@pytest.mark.parametrize("shape, groups", [((2, 5, 3), 2), ((2, 6), 4), ((3,), 1), ((2, 4), 0)])
def test_functional_group_norm_refuses_what_torch_refuses_in_its_words(shape, groups):
    """Channels not divisible by the groups (the reshape would mix channels across groups
    silently), fewer than 2 dims, no groups: torch's error type and message."""
    x = np.ones(shape)
    with pytest.raises(Exception) as theirs:
        TF.group_norm(torch.from_numpy(x), groups)
    with pytest.raises(type(theirs.value)) as ours:
        F.group_norm_forward(x, groups)
    assert str(ours.value) == str(theirs.value)
