"""scratch.functional against torch.nn.functional: forward, input and parameter gradients."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, note
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import assert_parity, batch_norm_conditioning, dtypes, torch_run, upstream
from scratch import functional as F


def cast(*arrays, dtype):
    return [None if a is None else a.astype(dtype) for a in arrays]


@dtypes
@given(case=S.conv_cases(max_groups=3))
def test_conv2d_matches_torch(case, dtype):
    x, w, b = cast(case.x, case.w, case.b, dtype=dtype)
    out, cache = F.conv2d_forward(x, w, b, case.stride, case.padding, case.dilation,
                                  case.groups)
    dout = upstream(case.seed, out.shape, dtype)
    dx, dw, db = F.conv2d_backward(dout, cache)

    t_out, g = torch_run(TF.conv2d, dict(input=x, weight=w, bias=b), dout, dtype,
                         stride=case.stride, padding=case.padding, dilation=case.dilation,
                         groups=case.groups)
    f, c, kh, kw = w.shape
    n, _, ho, wo = out.shape
    overlap = f * kh * kw  # an input pixel gets at most one product per filter and tap
    assert_parity(dict(out=out, dx=dx, dw=dw, db=db),
                  dict(out=t_out, dx=g["input"], dw=g["weight"], db=g["bias"]), dtype,
                  reductions=dict(out=c * kh * kw, dx=overlap, dw=n * ho * wo, db=n * ho * wo))


@dtypes
@given(case=S.conv_cases(max_groups=3))
def test_conv2d_without_input_grad_gives_same_parameter_grads(case, dtype):
    x, w, b = cast(case.x, case.w, case.b, dtype=dtype)
    out, cache = F.conv2d_forward(x, w, b, case.stride, case.padding, case.dilation,
                                  case.groups)
    dout = upstream(case.seed, out.shape, dtype)
    full = F.conv2d_backward(dout, cache)
    dx, dw, db = F.conv2d_backward(dout, cache, input_grad=False)
    assert dx is None
    np.testing.assert_array_equal(dw, full[1])
    if b is not None:
        np.testing.assert_array_equal(db, full[2])


@dtypes
@given(case=S.pool_cases())
def test_max_pool2d_matches_torch(case, dtype):
    (x,) = cast(case.x, dtype=dtype)
    args = (case.kernel_size, case.stride, case.padding, case.dilation, case.ceil_mode)
    out, cache = F.max_pool2d_forward(x, *args)
    dout = upstream(case.seed, out.shape, dtype)
    dx = F.max_pool2d_backward(dout, cache)
    t_out, g = torch_run(TF.max_pool2d, dict(input=x), dout, dtype, kernel_size=args[0],
                         stride=args[1], padding=args[2], dilation=args[3], ceil_mode=args[4])
    overlap = case.kernel_size[0] * case.kernel_size[1]  # at most one window per tap
    assert_parity(dict(out=out, dx=dx), dict(out=t_out, dx=g["input"]), dtype,
                  reductions=dict(dx=overlap))


def test_max_pool2d_all_equal_window_sends_gradient_to_top_left():
    x = np.ones((1, 1, 2, 2))
    out, cache = F.max_pool2d_forward(x, 2)
    dx = F.max_pool2d_backward(np.full(out.shape, 3.0), cache)
    np.testing.assert_array_equal(dx, [[[[3.0, 0.0], [0.0, 0.0]]]])


@dtypes
@given(case=S.pool_cases(max_dilation=1), count_include_pad=st.booleans())
def test_avg_pool2d_matches_torch(case, count_include_pad, dtype):
    (x,) = cast(case.x, dtype=dtype)
    args = (case.kernel_size, case.stride, case.padding, case.ceil_mode, count_include_pad)
    out, cache = F.avg_pool2d_forward(x, *args)
    dout = upstream(case.seed, out.shape, dtype)
    dx = F.avg_pool2d_backward(dout, cache)
    t_out, g = torch_run(TF.avg_pool2d, dict(input=x), dout, dtype, kernel_size=args[0],
                         stride=args[1], padding=args[2], ceil_mode=args[3],
                         count_include_pad=args[4])
    k = case.kernel_size[0] * case.kernel_size[1]
    assert_parity(dict(out=out, dx=dx), dict(out=t_out, dx=g["input"]), dtype,
                  reductions=dict(out=k, dx=k))


@dtypes
@given(case=S.linear_cases())
def test_linear_matches_torch(case, dtype):
    x, w, b = cast(*case[:3], dtype=dtype)
    out, cache = F.linear_forward(x, w, b)
    dout = upstream(case[3], out.shape, dtype)
    dx, dw, db = F.linear_backward(dout, cache)
    t_out, g = torch_run(TF.linear, dict(input=x, weight=w, bias=b), dout, dtype)
    n, fin = x.shape
    assert_parity(dict(out=out, dx=dx, dw=dw, db=db),
                  dict(out=t_out, dx=g["input"], dw=g["weight"], db=g["bias"]), dtype,
                  reductions=dict(out=fin, dx=w.shape[0], dw=n, db=n))


@dtypes
@given(case=S.pointwise_inputs())
def test_flatten_matches_torch(case, dtype):
    (x,) = cast(case[0], dtype=dtype)
    out, cache = F.flatten_forward(x)
    dout = upstream(case[1], out.shape, dtype)
    t_out, g = torch_run(lambda input: torch.flatten(input, 1), dict(input=x), dout, dtype)
    assert_parity(dict(out=out, dx=F.flatten_backward(dout, cache)),
                  dict(out=t_out, dx=g["input"]), dtype)


def channel(a, ch):
    """Channel ``ch`` of a (N, C, ...) batch or a (C,) per-channel vector (None stays None)."""
    return None if a is None else (a[:, ch] if a.ndim > 1 else a[ch])


@dtypes
@given(shape=S.batch_shapes(min_batch=2), training=st.booleans(), affine=st.booleans(),
       momentum=st.sampled_from([0.1, 0.5]), data=st.data())
def test_batch_norm_matches_torch(shape, training, affine, momentum, data, dtype):
    c = shape[1]
    x = data.draw(S.array(shape), label="x").astype(dtype)
    weight, bias = (data.draw(S.array((c,), S.WEIGHT_VALUES), label=n).astype(dtype)
                    if affine else None for n in ("weight", "bias"))
    running_mean = data.draw(S.array((c,), S.WEIGHT_VALUES), label="running_mean").astype(dtype)
    running_var = (1 + np.abs(data.draw(S.array((c,), S.WEIGHT_VALUES), label="rv"))).astype(dtype)
    seed = data.draw(S.SEEDS, label="seed")
    rm, rv = running_mean.copy(), running_var.copy()
    t_rm, t_rv = torch.tensor(running_mean), torch.tensor(running_var)

    out, cache = F.batch_norm_forward(x, weight, bias, rm, rv, training, momentum, 1e-5)
    dout = upstream(seed, out.shape, dtype)
    dx, dw, db = F.batch_norm_backward(dout, cache)
    t_out, g = torch_run(TF.batch_norm, dict(input=x, weight=weight, bias=bias), dout, dtype,
                         running_mean=t_rm, running_var=t_rv, training=training,
                         momentum=momentum, eps=1e-5)
    count = x.size // c  # every statistic and parameter gradient sums over N*H*W values
    ours = dict(out=out, dx=dx, dw=dw, db=db, running_mean=rm, running_var=rv)
    theirs = dict(out=t_out, dx=g["input"], dw=g["weight"], db=g["bias"], running_mean=t_rm,
                  running_var=t_rv)
    for ch in range(c):  # channels are independent: each gets its own conditioning
        # eval mode divides by sqrt(running_var + eps) >= 1 here: no amplification
        k = count * (batch_norm_conditioning(x[:, ch:ch + 1]) if training else 1)
        note(f"channel {ch}: per-channel count {count}, rounding budget {k:.1f} terms")
        assert_parity({n: channel(a, ch) for n, a in ours.items()},
                      {n: channel(t, ch) for n, t in theirs.items()}, dtype,
                      reductions=dict(out=k, dx=k, dw=k, db=count, running_mean=count,
                                      running_var=count))


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
