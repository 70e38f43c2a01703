"""Conv2d against torch: the functional pair (conv2d, pad), the module with every
constructor option (padding int/pair/'same'/'valid', padding_mode, groups, bias,
unbatched input), finite differences, torch's argument order and refusals."""
from __future__ import annotations

import itertools

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
    assert_parity,
    cast,
    check,
    dtypes,
    same_state_twins,
    spread,
    upstream,
)
from scratch import functional as F
from scratch import nn


# --------------------------------------------------------------------------- functional
@dtypes
@given(case=S.conv_cases(max_groups=3))
def test_conv2d_matches_torch(case, dtype):
    x, w, b = cast(case.x, case.w, case.b, dtype=dtype)
    geometry = (case.stride, case.padding, case.dilation, case.groups)
    f, c, kh, kw = w.shape
    overlap = f * kh * kw  # an input pixel gets at most one product per filter and tap
    per_tap = lambda out: out.shape[0] * out.shape[2] * out.shape[3]  # noqa: E731
    assert_pair_matches_torch(
        lambda x, w, b: F.conv2d_forward(x, w, b, *geometry), F.conv2d_backward,
        lambda x, w, b: TF.conv2d(x, w, b, *geometry), dict(x=x, w=w, b=b), dtype, case.seed,
        lambda out: dict(out=c * kh * kw, dx=overlap, dw=per_tap(out), db=per_tap(out)))


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


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@dtypes
@given(case=S.conv_module_cases(modes=("zeros",)), data=st.data())
def test_conv2d_string_and_pair_padding_match_torch_functional(case, data, dtype):
    """F.conv2d's padding 'same' (odd totals put the extra row/column after), 'valid',
    an int or a pair, on a batched input."""
    x = case.x if case.x.ndim == 4 else case.x[None]
    w = data.draw(S.array((case.out_channels, case.in_channels // case.groups,
                           *case.kernel_size), S.WEIGHT_VALUES), label="w")
    x, w = cast(x, w, dtype=dtype)
    geometry = (case.stride, case.padding, case.dilation, case.groups)
    k = lambda out: w[0].size * case.out_channels * max(1, out[0, 0].size) * len(x)  # noqa: E731
    assert_pair_matches_torch(
        lambda x, w: F.conv2d_forward(x, w, None, *geometry),
        lambda dout, cache: F.conv2d_backward(dout, cache)[:2],
        lambda x, w: TF.conv2d(x, w, None, *geometry), dict(x=x, w=w), dtype, case.seed,
        lambda out: dict(out=k(out), dx=k(out), dw=k(out)))


@dtypes
@given(case=S.pad_cases(), value=st.sampled_from([0.0, -1.5, 2.25]))
def test_pad_matches_torch(case, value, dtype):
    """Every mode; 'constant' with a fill value too (exact in both dtypes)."""
    x, pad, mode, seed = case
    (x,) = cast(x, dtype=dtype)
    value = value if mode == "constant" else None
    forward = (lambda x: F.pad_forward(x, pad, mode, value)) if value is not None else (
        lambda x: F.pad_forward(x, pad, mode))
    # an element gathers at most 1 + 2 copies per axis (circular/reflect at these sizes)
    assert_pair_matches_torch(forward, F.pad_backward, lambda x: TF.pad(x, pad, mode, value),
                              dict(x=x), dtype, seed, reductions=dict(dx=16))


@given(case=S.pad_cases(small=True))
def test_pad_backward_matches_finite_differences(case):
    x, pad, mode, seed = case
    check(F.pad_forward, F.pad_backward, spread(x.shape, seed), pad=pad, mode=mode)


@given(case=S.conv_module_cases(modes=("zeros",), small=True))
def test_conv2d_same_and_valid_padding_match_finite_differences(case):
    x = case.x if case.x.ndim == 4 else case.x[None]
    rng = np.random.default_rng(case.seed)
    w = rng.uniform(-1, 1, (case.out_channels, case.in_channels // case.groups,
                            *case.kernel_size))
    check(F.conv2d_forward, F.conv2d_backward, spread(x.shape, case.seed), w,
          rng.uniform(-1, 1, case.out_channels), stride=case.stride, padding=case.padding,
          dilation=case.dilation, groups=case.groups)


# --------------------------------------------------------------------------- module
def conv_pair(case, dtype):
    args = (case.in_channels, case.out_channels, case.kernel_size, case.stride, case.padding,
            case.dilation, case.groups, case.bias, case.padding_mode)
    scratch = nn.Conv2d(*args, dtype=dtype)
    return scratch, same_state_twins(scratch, torch.nn.Conv2d(*args), dtype, case.seed)


@dtypes
@given(case=S.conv_module_cases())
def test_conv2d_module_with_every_option_matches_torch(case, dtype):
    """Output, input gradient, weight and bias gradients, for every padding form and
    padding_mode, grouped or not, batched or unbatched (C, H, W) input."""
    scratch, twin = conv_pair(case, dtype)
    fan_in = case.in_channels // case.groups * case.kernel_size[0] * case.kernel_size[1]
    k = max(fan_in, case.out_channels * fan_in, case.x[..., 0, :, :].size * 4)
    assert_module_matches_torch(scratch, twin, case.x.astype(dtype), dtype, case.seed, k)
    assert (scratch.forward(case.x.astype(dtype)).ndim == case.x.ndim)


@given(case=S.conv_module_cases(modes=("reflect", "replicate", "circular"), small=True))
def test_conv2d_padding_modes_match_finite_differences(case):
    """The module's two steps, pad then an unpadded convolution, as one function of x,
    weight and bias (the pads the module computes for its padding)."""
    layer = nn.Conv2d(case.in_channels, case.out_channels, case.kernel_size, case.stride,
                      case.padding, case.dilation, case.groups, True, case.padding_mode,
                      dtype=np.float64, generator=case.seed)
    top, bottom, left, right = layer._pads()
    x = case.x if case.x.ndim == 4 else case.x[None]

    def forward(x, w, b):
        xp, pad_cache = F.pad_forward(x, (left, right, top, bottom), case.padding_mode)
        out, conv_cache = F.conv2d_forward(xp, w, b, case.stride, 0, case.dilation,
                                           case.groups)
        return out, (pad_cache, conv_cache)

    def backward(dout, cache):
        dxp, dw, db = F.conv2d_backward(dout, cache[1])
        return F.pad_backward(dxp, cache[0]), dw, db

    check(forward, backward, spread(x.shape, case.seed), layer._params["weight"].data,
          layer._params["bias"].data)


def test_conv2d_takes_torch_positional_arguments_in_torch_order():
    args = (2, 4, 3, 1, "same", 2, 2, False, "circular", "cpu", np.float64)
    layer, twin = nn.Conv2d(*args[:-1], args[-1]), torch.nn.Conv2d(*args[:-2])
    assert (layer.padding, layer.padding_mode, layer.bias is not None) == (
        twin.padding, twin.padding_mode, twin.bias is not None)
    assert layer._params["weight"].data.dtype == np.float64
    assert layer.forward(np.zeros((2, 5, 5))).shape == (4, 5, 5)


# --------------------------------------------------------------------------- refusals
BAD = [
    (lambda: nn.Conv2d(1, 1, 3, 2, "same"), r"Conv2d: padding='same' is not supported for "
                                            r"strided convolutions \(got stride=\(2, 2\)\)"),
    (lambda: nn.Conv2d(1, 1, 3, padding_mode="mirror"),
     r"Conv2d: padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', got "
     r"'mirror'"),
    (lambda: nn.Conv2d(1, 1, 3, padding="full"), r"Conv2d: invalid padding string 'full'"),
    (lambda: nn.Conv2d(1, 1, 3, device="cuda"), r"Conv2d: device must be None or 'cpu' .*got "
                                                r"'cuda'"),
    (lambda: nn.Conv2d(1, 1, 3, 1, 0, 1, 1, "zeros"), r"Conv2d: bias must be True or False, "
                                                      r"got 'zeros'"),
    (lambda: nn.Conv2d(1, 1, 3, padding=2, padding_mode="reflect").forward(
        np.zeros((1, 1, 2, 5), np.float32)),
     r"Conv2d: padding_mode='reflect' needs padding less than the input's spatial size; got "
     r"padding 2 on axis 2 of input of shape \(1, 1, 2, 5\)"),
    (lambda: nn.Conv2d(1, 1, 3, padding=3, padding_mode="circular").forward(
        np.zeros((1, 5, 2), np.float32)),
     r"Conv2d: padding_mode='circular' needs padding at most the input's spatial size; got "
     r"padding 3 on axis 2 of input of shape \(1, 5, 2\)"),
    (lambda: nn.Conv2d(1, 1, 3, dtype="int16"), r"Conv2d: dtype must be a floating-point type"),
    (lambda: nn.Conv2d(1, 1, 3, generator="seed"), r"Conv2d: generator must be a numpy\.random"
                                                   r"\.Generator"),
]


@pytest.mark.parametrize("call, pattern", BAD)
def test_bad_conv2d_arguments_are_refused_naming_the_layer(call, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        call()


def test_torch_refuses_what_scratch_refuses():
    """The refusals above that torch makes too, with the same reason."""
    with pytest.raises(ValueError, match="not supported for strided convolutions"):
        torch.nn.Conv2d(1, 1, 3, 2, "same")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        torch.nn.Conv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(RuntimeError, match="Padding size should be less than"):
        torch.nn.Conv2d(1, 1, 3, padding=2, padding_mode="reflect")(torch.zeros(1, 1, 2, 5))
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        torch.nn.Conv2d(1, 1, 3, padding=3, padding_mode="circular")(torch.zeros(1, 5, 2))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("mode", nn.conv.PADDING_MODES)
@S.more_examples(5)            # a few ms an example; the refused corners are a small part
@given(padding=st.one_of(st.sampled_from(["same", "valid"]), st.integers(0, 3),
                         st.tuples(st.integers(0, 3), st.integers(0, 3))),
       k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       d=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       size=st.tuples(st.integers(1, 4), st.integers(1, 4)), seed=S.SEEDS)
def test_conv2d_refuses_exactly_the_inputs_torch_refuses(mode, padding, k, d, size, seed):
    """Any padding (even kernels under 'same' pad more after than before) on inputs as
    small as one pixel: scratch raises ValueError exactly when torch raises, and gives
    torch's output otherwise."""
    assert_refused_as_torch_or_equal(mode, padding, k, d, size, seed)


def assert_refused_as_torch_or_equal(mode, padding, k, d, size, seed):
    """A one-channel Conv2d on a (1, 1, *size) input: scratch raises ValueError exactly
    when torch raises, and gives torch's output otherwise."""
    x = np.random.default_rng(seed).uniform(-1, 1, (1, 1, *size))
    layer = nn.Conv2d(1, 1, k, padding=padding, dilation=d, padding_mode=mode,
                      dtype=np.float64)
    twin = same_state_twins(layer, torch.nn.Conv2d(1, 1, k, padding=padding, dilation=d,
                                                   padding_mode=mode), np.float64, seed)
    try:
        expected = twin(torch.from_numpy(x))
    except RuntimeError:
        with pytest.raises(ValueError):
            layer.forward(x)
        return
    assert_parity(dict(out=layer.forward(x)), dict(out=expected), np.float64,
                  reductions=dict(out=k[0] * k[1]))


def _same_padding_limits():
    """Every 'same' padding of kernels 1..4 and dilations 1..2 per axis on inputs whose
    size is the wider pad of that axis minus one, equal, or plus one: the sizes where
    reflect (pad < size) and circular (pad <= size) switch between refused and accepted,
    with even kernels padding one more after than before."""
    for kh, kw, dh, dw in itertools.product(range(1, 5), range(1, 5), (1, 2), (1, 2)):
        wide = [d * (k - 1) - d * (k - 1) // 2 for k, d in ((kh, dh), (kw, dw))]
        for h, w in itertools.product(*({max(1, p + o) for o in (-1, 0, 1)} for p in wide)):
            yield (kh, kw), (dh, dw), (h, w)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("mode", ["reflect", "circular", "replicate"])
def test_same_padding_at_the_input_size_limit_is_refused_exactly_as_torch(mode):
    """Boundaries by construction: each case sits at (or one off) the size where torch
    starts or stops refusing; scratch raises ValueError exactly there and otherwise gives
    torch's output."""
    for case, (k, d, size) in enumerate(_same_padding_limits()):
        assert_refused_as_torch_or_equal(mode, "same", k, d, size, case)


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="Conv2d.backward called before forward"):
        nn.Conv2d(1, 1, 1).backward(np.ones((1, 1, 1, 1), np.float32))
