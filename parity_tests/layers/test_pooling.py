"""Pooling against torch: max (with return_indices), average (with divisor_override),
adaptive average and adaptive max, functional pairs and modules, batched and
unbatched, finite differences, torch's argument order and refusals."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import (
    assert_module_matches_torch,
    assert_pair_matches_torch,
    cast,
    check,
    dtypes,
    spread,
    torch_run,
    upstream,
)
from scratch import functional as F
from scratch import nn
from scratch.functional.pooling import adaptive_bounds


# --------------------------------------------------------------------------- max pooling
@dtypes
@given(case=S.pool_cases())
def test_max_pool2d_matches_torch(case, dtype):
    """Output and input gradient, and return_indices equal to torch's indices exactly
    (ties included: both pick the first maximum in row-major order)."""
    (x,) = cast(case.x, dtype=dtype)
    args = (case.kernel_size, case.stride, case.padding, case.dilation, case.ceil_mode)
    kept = {}

    def forward(x):   # the backward runs on the cache of the return_indices forward
        (out, kept["indices"]), cache = F.max_pool2d_forward(x, *args, return_indices=True)
        return out, cache
    overlap = case.kernel_size[0] * case.kernel_size[1]  # at most one window per tap
    assert_pair_matches_torch(forward, F.max_pool2d_backward,
                              lambda x: TF.max_pool2d(x, *args[:4], ceil_mode=args[4]),
                              dict(x=x), dtype, case.seed, reductions=dict(dx=overlap))
    indices = kept["indices"]
    _, t_indices = TF.max_pool2d(torch.from_numpy(x), *args[:4], ceil_mode=args[4],
                                 return_indices=True)
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices, t_indices.numpy())


def test_max_pool2d_all_equal_window_sends_gradient_to_top_left():
    x = np.ones((1, 1, 2, 2))
    out, cache = F.max_pool2d_forward(x, 2)
    dx = F.max_pool2d_backward(np.full(out.shape, 3.0), cache)
    np.testing.assert_array_equal(dx, [[[[3.0, 0.0], [0.0, 0.0]]]])


def test_max_pool2d_refuses_a_window_that_lies_entirely_in_padding():
    # width 1, padding 1, kernel 2, dilation 2: the only window taps padded columns 0 and 2
    with pytest.raises(ValueError, match="entirely in the padding"):
        F.max_pool2d_forward(np.zeros((1, 1, 2, 1)), (1, 2), 1, (0, 1), (1, 2))


def test_max_pool2d_sends_gradient_to_a_real_minus_inf_not_to_the_padding():
    x = np.full((1, 1, 2, 2), -np.inf)
    out, cache = F.max_pool2d_forward(x, 2, 2, 1)
    dout = upstream(0, out.shape, np.float64)
    t_out, g = torch_run(TF.max_pool2d, dict(input=x), dout, np.float64, kernel_size=2,
                         stride=2, padding=1)
    np.testing.assert_array_equal(out, t_out.detach().numpy())
    np.testing.assert_array_equal(F.max_pool2d_backward(dout, cache), g["input"].numpy())


DEFAULT_STRIDE_POOLS = {   # the functional pairs whose stride defaults to None, torch's twin
    "max_pool2d": (F.max_pool2d_forward, F.max_pool2d_backward, TF.max_pool2d, 2),
    "avg_pool2d": (F.avg_pool2d_forward, F.avg_pool2d_backward, TF.avg_pool2d, 2),
    "max_pool1d": (F.max_pool1d_forward, F.max_pool1d_backward, TF.max_pool1d, 1),
    "avg_pool1d": (F.avg_pool1d_forward, F.avg_pool1d_backward, TF.avg_pool1d, 1),
}


@pytest.mark.parametrize("name", DEFAULT_STRIDE_POOLS)
@dtypes
@given(k=st.integers(1, 3), extra=st.integers(0, 4), seed=S.SEEDS)
def test_functional_pooling_without_stride_steps_by_the_kernel_as_torch(name, k, extra, seed,
                                                                       dtype):
    """``stride`` left out (None) means the kernel size, in the functional pair too (the
    modules pass it on resolved, so only a call without it reaches this default)."""
    forward, backward, torch_fn, axes = DEFAULT_STRIDE_POOLS[name]
    x = spread((2, 3) + (2 * k + extra,) * axes, seed).astype(dtype)
    assert_pair_matches_torch(lambda x: forward(x, k), backward, lambda x: torch_fn(x, k),
                              dict(x=x), dtype, seed, reductions=dict(out=k ** axes,
                                                                      dx=k ** axes))


# --------------------------------------------------------------------------- average pooling
@dtypes
@given(case=S.pool_cases(max_dilation=1), count_include_pad=st.booleans(),
       divisor_override=st.one_of(st.none(), st.integers(1, 5)))
def test_avg_pool2d_matches_torch(case, count_include_pad, divisor_override, dtype):
    (x,) = cast(case.x, dtype=dtype)
    args = (case.kernel_size, case.stride, case.padding, case.ceil_mode, count_include_pad,
            divisor_override)
    k = case.kernel_size[0] * case.kernel_size[1]
    assert_pair_matches_torch(lambda x: F.avg_pool2d_forward(x, *args), F.avg_pool2d_backward,
                              lambda x: TF.avg_pool2d(x, *args), dict(x=x), dtype, case.seed,
                              reductions=dict(out=k, dx=k))


@given(case=S.pool_cases(max_dilation=1), divisor_override=st.integers(1, 5))
def test_avg_pool2d_divisor_override_matches_finite_differences(case, divisor_override):
    check(F.avg_pool2d_forward, F.avg_pool2d_backward, case.x, kernel_size=case.kernel_size,
          stride=case.stride, padding=case.padding, ceil_mode=case.ceil_mode,
          divisor_override=divisor_override)


# --------------------------------------------------------------------------- adaptive
def test_adaptive_bounds_are_torchs_floor_and_ceil_rule():
    start, end = adaptive_bounds(10, 3)
    # floor(i*10/3) and ceil((i+1)*10/3), written out by hand
    assert start.tolist() == [0, 3, 6] and end.tolist() == [4, 7, 10]
    start, end = adaptive_bounds(2, 5)   # more outputs than inputs: windows repeat
    assert start.tolist() == [0, 0, 0, 1, 1] and end.tolist() == [1, 1, 2, 2, 2]


@dtypes
@given(case=S.adaptive_cases())
def test_adaptive_avg_pool2d_matches_torch(case, dtype):
    x, output_size, seed = case
    (x,) = cast(x, dtype=dtype)
    k = x.shape[-1] * x.shape[-2]
    assert_pair_matches_torch(lambda x: F.adaptive_avg_pool2d_forward(x, output_size),
                              F.adaptive_avg_pool2d_backward,
                              lambda x: TF.adaptive_avg_pool2d(x, output_size), dict(x=x),
                              dtype, seed, reductions=dict(out=k, dx=k))


@dtypes
@given(case=S.adaptive_cases())
def test_adaptive_max_pool2d_matches_torch_indices_included(case, dtype):
    x, output_size, seed = case
    (x,) = cast(x, dtype=dtype)
    kept = {}

    def forward(x):   # the backward runs on the cache of the return_indices forward
        (out, kept["indices"]), cache = F.adaptive_max_pool2d_forward(x, output_size, True)
        return out, cache
    out, _ = F.adaptive_max_pool2d_forward(x, output_size)
    k = out.shape[-1] * out.shape[-2]   # an element may be the maximum of every window
    assert_pair_matches_torch(forward, F.adaptive_max_pool2d_backward,
                              lambda x: TF.adaptive_max_pool2d(x, output_size), dict(x=x),
                              dtype, seed, reductions=dict(dx=k))
    indices = kept["indices"]
    _, t_indices = TF.adaptive_max_pool2d(torch.from_numpy(x), output_size, True)
    np.testing.assert_array_equal(indices, t_indices.numpy())


@given(case=S.adaptive_cases(max_side=4))
def test_adaptive_pooling_matches_finite_differences(case):
    x, output_size, seed = case
    check(F.adaptive_avg_pool2d_forward, F.adaptive_avg_pool2d_backward, x,
          output_size=output_size)
    check(F.adaptive_max_pool2d_forward, F.adaptive_max_pool2d_backward,
          spread(x.shape, seed), output_size=output_size)


# --------------------------------------------------------------------------- modules
@st.composite
def pool_modules(draw):
    """(scratch module, torch module, input) for every pooling layer and option."""
    kind = draw(st.sampled_from(["max", "avg", "adaptive_avg", "adaptive_max"]))
    if kind.startswith("adaptive"):
        x, size, _ = draw(S.adaptive_cases())
        name = "AdaptiveAvgPool2d" if kind == "adaptive_avg" else "AdaptiveMaxPool2d"
        return getattr(nn, name)(size), getattr(torch.nn, name)(size), x
    case = draw(S.pool_cases(max_dilation=2 if kind == "max" else 1))
    x = case.x[0] if draw(st.booleans()) else case.x            # unbatched (C, H, W) too
    if kind == "max":
        args = (case.kernel_size, case.stride, case.padding, case.dilation, False,
                case.ceil_mode)
        return nn.MaxPool2d(*args), torch.nn.MaxPool2d(*args), x
    args = (case.kernel_size, case.stride, case.padding, case.ceil_mode, draw(st.booleans()),
            draw(st.one_of(st.none(), st.integers(1, 4))))
    return nn.AvgPool2d(*args), torch.nn.AvgPool2d(*args), x


@dtypes
@given(drawn=pool_modules(), seed=S.SEEDS)
def test_pooling_modules_match_torch(drawn, seed, dtype):
    layer, twin, x = drawn
    k = x.shape[-1] * x.shape[-2]
    assert_module_matches_torch(layer, twin, x.astype(dtype), dtype, seed, k)


@pytest.mark.parametrize("cls", ["MaxPool2d", "AdaptiveMaxPool2d"])
def test_return_indices_module_gives_out_and_indices_and_takes_dout_of_out(cls):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5))
    if cls == "MaxPool2d":   # torch's order: (kernel, stride, padding, dilation, return_indices)
        layer, twin = nn.MaxPool2d(2, 2, 0, 1, True), torch.nn.MaxPool2d(2, 2, 0, 1, True)
    else:
        layer, twin = nn.AdaptiveMaxPool2d(2, True), torch.nn.AdaptiveMaxPool2d(2, True)
    out, indices = layer.forward(x)
    t_out, t_indices = twin(torch.from_numpy(x))
    np.testing.assert_array_equal(out, t_out.numpy())
    np.testing.assert_array_equal(indices, t_indices.numpy())
    assert layer.backward(np.ones_like(out)).shape == x.shape


def test_max_pool2d_positional_ceil_mode_is_the_sixth_argument_as_in_torch():
    x = np.zeros((1, 1, 5, 5), np.float32)
    assert nn.MaxPool2d(2, 2, 0, 1, False, True).forward(x).shape == (1, 1, 3, 3)
    assert tuple(torch.nn.MaxPool2d(2, 2, 0, 1, False, True)(torch.zeros(1, 1, 5, 5)).shape) \
        == (1, 1, 3, 3)


# --------------------------------------------------------------------------- refusals
BAD = [
    (lambda: nn.AvgPool2d(2, divisor_override=0), r"AvgPool2d: divisor_override must be None "
                                                  r"or a positive int, got 0"),
    (lambda: nn.AdaptiveAvgPool2d((2, 0)), r"AdaptiveAvgPool2d: output_size must be a positive "
                                           r"int or a pair of positive ints or None, got "
                                           r"\(2, 0\)"),
    (lambda: nn.AdaptiveMaxPool2d((1, 2, 3)), r"AdaptiveMaxPool2d: output_size must be"),
    (lambda: nn.AdaptiveAvgPool2d(None), r"AdaptiveAvgPool2d: output_size must be"),
    (lambda: nn.MaxPool2d(2, return_indices="yes"), r"MaxPool2d: return_indices must be True "
                                                    r"or False, got 'yes'"),
    (lambda: nn.AdaptiveAvgPool2d(2).forward(np.zeros((1, 1, 0, 3))),
     r"AdaptiveAvgPool2d needs a non-empty \(H, W\), got input of shape \(1, 1, 0, 3\)"),
    (lambda: nn.AdaptiveAvgPool2d(2).forward(np.zeros((2, 3))),
     r"AdaptiveAvgPool2d expects input of shape \(N, C, H, W\) or \(C, H, W\) \(3 or 4 dims\)"),
]


@pytest.mark.parametrize("call, pattern", BAD)
def test_bad_pooling_arguments_are_refused_naming_the_layer(call, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        call()


@pytest.mark.parametrize("cls", [nn.MaxPool2d, nn.AvgPool2d])
def test_backward_before_forward_is_a_clear_error(cls):
    with pytest.raises(RuntimeError, match=f"{cls.__name__}.backward called before forward"):
        cls(2).backward(np.ones((1, 1, 1, 1)))
