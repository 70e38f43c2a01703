"""MaxPool1d, AvgPool1d, AdaptiveAvgPool1d, AdaptiveMaxPool1d and MaxUnpool2d against
torch: the modules with drawn geometry in torch's positional order (repr, output,
indices, input gradient; ties drawn on purpose, as for the 2-D pools), batched
and unbatched input, finite differences for the averaging pools and unpooling,
torch's refusals. Budget: a window sums at most ``kernel`` terms.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import (
    assert_module_matches_torch,
    assert_parity,
    assert_refused_alike,
    check,
    dtypes,
    spread,
    upstream,
)
from scratch import functional as F
from scratch import nn


@st.composite
def pool1d_cases(draw, kind):
    """(constructor args, input shape), valid by construction."""
    k, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    d = draw(st.integers(1, 2)) if kind == "max" else 1
    p = draw(st.integers(0, k // 2))
    ceil_mode = draw(st.booleans())
    span = d * (k - 1) + 1
    size = draw(st.integers(max(1, span - 2 * p, span if d > 1 else 1), 7))
    lead = (draw(st.integers(1, 2)),) if draw(st.booleans(), label="unbatched") else (
        draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if kind == "max":
        args = (k, s, p, d, draw(st.booleans()), ceil_mode)
    else:
        args = (k, s, p, ceil_mode, draw(st.booleans()))
    return args, lead + (size,)


@dtypes
@pytest.mark.parametrize("kind", ["max", "avg"])
@given(data=st.data())
def test_pool1d_module_matches_torch(kind, data, dtype):
    args, shape = data.draw(pool1d_cases(kind), label="args, shape")
    cls = "MaxPool1d" if kind == "max" else "AvgPool1d"
    mine, theirs = getattr(nn, cls)(*args), getattr(torch.nn, cls)(*args)
    assert repr(mine) == repr(theirs)
    x = data.draw(S.array(shape), label="x").astype(dtype)
    seed = data.draw(S.SEEDS)
    returns_indices = kind == "max" and args[4]
    out = mine.forward(x)
    tx = torch.tensor(x, requires_grad=True)
    t_out = theirs(tx)
    if returns_indices:
        (out, idx), (t_out, t_idx) = out, t_out
        np.testing.assert_array_equal(idx, t_idx.numpy())
    dout = upstream(seed, out.shape, dtype)
    dx = mine.backward(dout)
    t_out.backward(torch.from_numpy(dout))
    assert_parity(dict(out=out, dx=dx), dict(out=t_out, dx=tx.grad), dtype,
                  dict(out=args[0], dx=args[0]))


@dtypes
@pytest.mark.parametrize("cls", ["AdaptiveAvgPool1d", "AdaptiveMaxPool1d"])
@given(size=st.integers(1, 7), out=st.integers(1, 7), unbatched=st.booleans(), data=st.data())
def test_adaptive_pool1d_module_matches_torch(cls, size, out, unbatched, data, dtype):
    mine, theirs = getattr(nn, cls)(out), getattr(torch.nn, cls)(out)
    assert repr(mine) == repr(theirs)
    shape = (2, size) if unbatched else (2, 3, size)
    x = data.draw(S.array(shape), label="x").astype(dtype)
    assert_module_matches_torch(mine, theirs, x, dtype, data.draw(S.SEEDS), size)


@given(args_shape=pool1d_cases("avg"), seed=S.SEEDS)
def test_avg_pool1d_backward_matches_finite_differences(args_shape, seed):
    (k, s, p, ceil_mode, count_include_pad), shape = args_shape
    check(lambda x: F.avg_pool1d_forward(x, k, s, p, ceil_mode, count_include_pad),
          F.avg_pool1d_backward, spread(shape, seed))


# --------------------------------------------------------------------------- max unpooling
@dtypes
@given(data=st.data())
def test_max_unpool2d_inverts_torchs_max_pool_indices(data, dtype):
    """Indices from torch's MaxPool2d(return_indices=True), default or drawn output_size."""
    k, s = data.draw(st.integers(1, 3), label="k"), data.draw(st.integers(1, 3), label="s")
    p = data.draw(st.integers(0, k // 2), label="p")
    # an input the pool covers exactly, so the default unpooled size is the input's
    h, w = ((data.draw(st.integers(1 + (k - 2 * p < 1), 3)) - 1) * s + k - 2 * p
            for _ in range(2))
    shape = (2, h, w) if data.draw(st.booleans(), label="unbatched") else (2, 2, h, w)
    x = torch.from_numpy(data.draw(S.array(shape), label="x").astype(dtype))
    pooled, indices = torch.nn.MaxPool2d(k, s, p, return_indices=True)(x)
    output_size = None
    if data.draw(st.booleans(), label="output_size"):
        output_size = [n + data.draw(st.integers(0, s - 1)) for n in (h, w)]
    mine, theirs = nn.MaxUnpool2d(k, s, p), torch.nn.MaxUnpool2d(k, s, p)
    assert repr(mine) == repr(theirs)
    pooled = pooled.numpy()
    out = mine(pooled, indices.numpy(), output_size)
    dout = upstream(data.draw(S.SEEDS), out.shape, dtype)
    dx = mine.backward(dout)
    tp = torch.tensor(pooled, requires_grad=True)
    t_out = theirs(tp, indices, output_size)
    t_out.backward(torch.from_numpy(dout))
    assert_parity(dict(out=out, dx=dx), dict(out=t_out, dx=tp.grad), dtype)


@given(seed=S.SEEDS)
def test_max_unpool2d_backward_matches_finite_differences(seed):
    rng = np.random.default_rng(seed)
    indices = np.stack([rng.permutation(16)[:4] for _ in range(6)]).reshape(2, 3, 2, 2)
    check(lambda x: F.max_unpool2d_forward(x, indices, (4, 4)), F.max_unpool2d_backward,
          spread((2, 3, 2, 2), seed))


# --------------------------------------------------------------------------- refusals
def z(*shape):
    return np.zeros(shape)


ERRORS = [
    ("max_pad_over_half", lambda m: m.MaxPool1d(3, 1, 2)(z(1, 2, 5)), RuntimeError),
    ("max_output_empty", lambda m: m.MaxPool1d(3)(z(1, 2, 2)), RuntimeError),
    ("avg_pad_over_half", lambda m: m.AvgPool1d(3, 1, 2)(z(1, 2, 5)), RuntimeError),
    ("avg_output_empty", lambda m: m.AvgPool1d(3)(z(1, 2, 2)), RuntimeError),
    ("avg_4d", lambda m: m.AvgPool1d(3)(z(1, 2, 2, 5)), RuntimeError),
    ("adaptive_avg_4d", lambda m: m.AdaptiveAvgPool1d(3)(z(1, 2, 2, 5)), RuntimeError),
    ("adaptive_max_1d", lambda m: m.AdaptiveMaxPool1d(3)(z(5)), RuntimeError),
]


@pytest.mark.parametrize("call, error", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_input_is_refused_as_torch_refuses_it(call, error):
    assert_refused_alike(call, error)


UNPOOL_ERRORS = [
    ("index_out_of_plane", lambda: (z(1, 1, 2, 2), np.full((1, 1, 2, 2), 16), None),
     RuntimeError),
    ("output_size_out_of_range", lambda: (z(1, 1, 2, 2), np.zeros((1, 1, 2, 2), int), (7, 5)),
     ValueError),
    ("indices_shape", lambda: (z(1, 1, 2, 2), np.zeros((1, 1, 2, 3), int), None),
     RuntimeError),
]


@pytest.mark.parametrize("make, error", [e[1:] for e in UNPOOL_ERRORS],
                         ids=[e[0] for e in UNPOOL_ERRORS])
def test_max_unpool2d_refuses_what_torch_refuses(make, error):
    x, indices, output_size = make()
    with pytest.raises(error):
        nn.MaxUnpool2d(2)(x, indices, output_size)
    with pytest.raises(error):
        torch.nn.MaxUnpool2d(2)(torch.from_numpy(x), torch.from_numpy(indices), output_size)
