"""ConvTranspose2d, ConvTranspose1d and Conv1d against torch.

The functional pairs on drawn geometry (stride, padding, output_padding under
stride or dilation, dilation, groups, bias), the modules in torch's positional
order (repr, state_dict, batched and unbatched input, ``output_size`` in forward,
Conv1d's padding strings and padding modes), finite differences, and torch's
refusals. Budget: an output element sums ``C/G * k`` products (``K`` = that),
a weight gradient ``N * H * W`` of them.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import (
    TORCH_DTYPE,
    assert_module_matches_torch,
    assert_pair_matches_torch,
    assert_parity,
    assert_refused_alike,
    check,
    dtypes,
    spread,
    upstream,
)
from scratch import functional as F
from scratch import nn
from scratch.backends import fast


@dtypes
@pytest.mark.parametrize("fast_paths", [True, False], ids=["fast", "plain"])
@pytest.mark.parametrize("spatial", [1, 2])
@given(data=st.data())
def test_conv_transpose_matches_torch(spatial, fast_paths, data, dtype):
    """Both forwards: the plain multiply-then-fold and the fast path's phase planes
    (scratch.backends.fast.conv_transpose), which otherwise takes every finite weight."""
    x, w, b, (s, p, op, d), groups, seed = data.draw(S.transposed_cases(spatial), label="case")
    x, w = x.astype(dtype), w.astype(dtype)
    b = None if b is None else b.astype(dtype)
    forward = F.conv_transpose2d_forward if spatial == 2 else F.conv_transpose1d_forward
    backward = F.conv_transpose2d_backward if spatial == 2 else F.conv_transpose1d_backward
    torch_fn = TF.conv_transpose2d if spatial == 2 else TF.conv_transpose1d
    k = x.shape[1] // groups * int(np.prod(w.shape[2:]))
    per_channel = lambda out: out.size // out.shape[1]  # noqa: E731
    with fast.flags(enabled=fast_paths):
        assert_pair_matches_torch(
            lambda x, w, b: forward(x, w, b, s, p, op, groups, d), backward,
            lambda x, w, b: torch_fn(x, w, b, s, p, op, groups, d), dict(x=x, w=w, b=b), dtype,
            seed, lambda out: dict(out=k, dx=w.shape[1] * k, dw=per_channel(out),
                                   db=per_channel(out)))


@given(case=S.transposed_cases(2))
def test_conv_transpose2d_backward_matches_finite_differences(case):
    x, w, b, (s, p, op, d), groups, seed = case
    b = np.zeros(w.shape[1] * groups) if b is None else b
    check(lambda x, w, b: F.conv_transpose2d_forward(x, w, b, s, p, op, groups, d),
          F.conv_transpose2d_backward, spread(x.shape, seed), w, b)


# --------------------------------------------------------------------------- modules
def same_parameters(mine, theirs, dtype, seed):
    theirs = theirs.to(TORCH_DTYPE[np.dtype(dtype)])
    rng = np.random.default_rng(seed)
    state = {k: rng.uniform(-1, 1, v.shape).astype(dtype) for k, v in mine.state_dict().items()}
    mine.load_state_dict(state)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return theirs


@dtypes
@pytest.mark.parametrize("spatial", [1, 2])
@given(data=st.data())
def test_conv_transpose_module_matches_torch_module(spatial, data, dtype):
    """torch's positional order; unbatched input now and then; ``output_size`` picks an
    output size in the valid range instead of ``output_padding``."""
    x, w, b, (s, p, op, d), groups, seed = data.draw(S.transposed_cases(spatial), label="case")
    c, f = x.shape[1], w.shape[1] * groups
    args = (c, f, w.shape[2:] if spatial == 2 else w.shape[2], s, p, op, groups, b is not None,
            d)
    cls = f"ConvTranspose{spatial}d"
    mine = getattr(nn, cls)(*args, dtype=dtype)
    theirs = getattr(torch.nn, cls)(*args)
    assert repr(mine) == repr(theirs)
    theirs = same_parameters(mine, theirs, dtype, seed)
    x = x.astype(dtype)
    if data.draw(st.booleans(), label="unbatched"):
        x = x[0]
    output_size = None
    sizes, kernel = x.shape[-spatial:], w.shape[2:]
    geo = [(s, p, d) if spatial == 1 else (s[i], p[i], d[i]) for i in range(spatial)]
    low = [F.transposed_out_size(sizes[i], kernel[i], *geo[i][:2], 0, geo[i][2])
           for i in range(spatial)]
    if min(low) >= 1 and data.draw(st.booleans(), label="output_size"):
        output_size = [lo + data.draw(st.integers(0, geo[i][0] - 1), label=f"extra {i}")
                       for i, lo in enumerate(low)]
    out = mine(x, output_size)
    dout = upstream(seed, out.shape, dtype)
    dx = mine.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    t_out = theirs(tx, output_size)
    t_out.backward(torch.from_numpy(dout))
    k = c // groups * int(np.prod(w.shape[2:]))
    assert_parity(dict(out=out, dx=dx, **{f"d{n}": q.grad for n, q in mine.named_parameters()}),
                  dict(out=t_out, dx=tx.grad,
                       **{f"d{n}": q.grad for n, q in theirs.named_parameters()}), dtype,
                  dict(out=k, dx=f * k, dweight=out.size, dbias=out.size))


@st.composite
def conv1d_cases(draw):
    k, s, d = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    padding = draw(st.one_of(st.integers(0, 2), st.just("valid"),
                             st.just("same") if s == 1 else st.just(0)))
    span = d * (k - 1) + 1
    pad = {"valid": 0, "same": span - 1}.get(padding, padding if isinstance(padding, int)
                                             else 0)
    low = max(1, span - (pad if isinstance(padding, str) else 2 * pad),
              pad + 1 if mode == "reflect" else 1, pad if mode == "circular" else 1)
    size = draw(st.integers(low, low + 3))
    groups = draw(st.integers(1, 2))
    c, f = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    args = (c, f, k, s, padding, d, groups, draw(st.booleans()), mode)
    shape = (c, size) if draw(st.booleans(), label="unbatched") else (
        draw(st.integers(1, 2)), c, size)
    return args, shape


@dtypes
@given(case=conv1d_cases(), data=st.data())
def test_conv1d_module_matches_torch_module(case, data, dtype):
    args, shape = case
    mine, theirs = nn.Conv1d(*args, dtype=dtype), torch.nn.Conv1d(*args)
    assert repr(mine) == repr(theirs)
    seed = data.draw(S.SEEDS)
    theirs = same_parameters(mine, theirs, dtype, seed)
    x = data.draw(S.array(shape), label="x").astype(dtype)
    k = args[0] // args[6] * args[2]
    assert_module_matches_torch(mine, theirs, x, dtype, seed, k * int(np.prod(shape)))


# --------------------------------------------------------------------------- refusals
def z(*shape):
    return np.zeros(shape, np.float32)


ERRORS = [
    ("output_padding_not_below_stride", lambda m: m.ConvTranspose2d(2, 2, 3, 1, 0, 1)(
        z(1, 2, 3, 3)), RuntimeError),
    ("padding_mode", lambda m: m.ConvTranspose2d(2, 2, 3, padding_mode="reflect"), ValueError),
    ("in_channels_groups", lambda m: m.ConvTranspose2d(3, 2, 3, groups=2), ValueError),
    ("output_too_small", lambda m: m.ConvTranspose2d(2, 2, 1, 1, 3)(z(1, 2, 2, 2)),
     RuntimeError),
    ("output_size_out_of_range", lambda m: m.ConvTranspose2d(2, 2, 3, 2)(
        z(1, 2, 3, 3), (9, 9)), ValueError),
    ("output_size_length", lambda m: m.ConvTranspose2d(2, 2, 3, 2)(z(1, 2, 3, 3), (9,)),
     ValueError),
    ("transposed_2d_input", lambda m: m.ConvTranspose2d(2, 2, 3)(z(2, 3)), RuntimeError),
    ("transposed_channels", lambda m: m.ConvTranspose2d(2, 2, 3)(z(1, 3, 3, 3)), RuntimeError),
    ("conv1d_4d_input", lambda m: m.Conv1d(2, 2, 3)(z(1, 2, 3, 3)), RuntimeError),
    ("conv1d_kernel_too_big", lambda m: m.Conv1d(2, 2, 5)(z(1, 2, 3)), RuntimeError),
    ("conv1d_same_strided", lambda m: m.Conv1d(2, 2, 3, 2, "same"), ValueError),
    ("conv1d_channels", lambda m: m.Conv1d(2, 2, 3)(z(1, 3, 5)), RuntimeError),
]


@pytest.mark.parametrize("call, error", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_input_is_refused_as_torch_refuses_it(call, error):
    assert_refused_alike(call, error)
