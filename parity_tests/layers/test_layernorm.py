"""LayerNorm against torch: the functional pair (weight and bias each optional) and the
module (normalized_shape an int or a tuple, eps, elementwise_affine, bias) on inputs with
0 to 3 leading axes, float64 and float32; finite differences; repr, state_dict and refusals.

Tolerance: each output and input-gradient row sums ``m`` normalised elements and is
amplified by the row's conditioning ``max|x| / sqrt(var + eps)`` (as batch norm's channels,
see :mod:`parity_tests.helpers`), so row ``r`` is compared with ``K = m * cond[r]``;
its input gradient is ``rstd`` times a sum of such terms, so its rounding is ``rstd =
1 / sqrt(var + eps)`` times larger (up to 316 for a constant row): ``K = m * cond[r] *
max(1, rstd[r])``; the parameter gradients sum over all rows: ``K = rows * m * max(cond)``.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import sequence_strategies as Q
from parity_tests.helpers import assert_parity, check, dtypes, upstream
from parity_tests.sequence_helpers import (
    backprop,
    row_conditioning,
    row_rstd,
    tensors,
    torch_dtype,
)
from scratch import functional as F
from scratch import nn


def compare_rows(mine, theirs, dtype, x, k, eps):
    """out and dx row by row (each with its own conditioning), parameter gradients whole."""
    cond, rstd = row_conditioning(x, k, eps), row_rstd(x, k, eps)
    m = int(np.prod(x.shape[x.ndim - k:]))
    for r, (c, s) in enumerate(zip(cond, rstd)):
        assert_parity({n: np.asarray(mine[n]).reshape(len(cond), m)[r] for n in ("out", "dx")},
                      {n: theirs[n].detach().reshape(len(cond), m)[r] for n in ("out", "dx")},
                      dtype, {"out": m * c, "dx": m * c * s})
    params = [n for n in theirs if n not in ("out", "dx")]
    assert_parity({n: mine[n] for n in params}, {n: theirs[n] for n in params}, dtype,
                  {n: len(cond) * m * cond.max() for n in params})


@dtypes
@given(case=Q.layer_norm_cases())
def test_layer_norm_matches_torch(case, dtype):
    x, w, b = (None if a is None else a.astype(dtype) for a in (case.x, case.weight, case.bias))
    out, cache = F.layer_norm_forward(x, case.shape, w, b, case.eps)
    dout = upstream(case.seed, out.shape, dtype)
    dx, dw, db = F.layer_norm_backward(dout, cache)
    t = tensors(dict(x=x, w=w, b=b), dtype)
    t_out = TF.layer_norm(t["x"], case.shape, t["w"], t["b"], case.eps)
    backprop({"out": t_out}, {"out": dout})
    mine, theirs = dict(out=out, dx=dx), dict(out=t_out, dx=t["x"].grad)
    if w is not None:
        mine["dw"], theirs["dw"] = dw, t["w"].grad
    if b is not None:
        mine["db"], theirs["db"] = db, t["b"].grad
    assert (dw is None) == (w is None) and (db is None) == (b is None)
    compare_rows(mine, theirs, dtype, x, len(case.shape), case.eps)


@given(case=Q.layer_norm_cases(spread_values=True))
def test_layer_norm_backward_matches_finite_differences(case):
    w = case.weight if case.weight is not None else np.ones(case.shape)
    b = case.bias if case.bias is not None else np.zeros(case.shape)

    def forward(x, w, b):
        out, cache = F.layer_norm_forward(x, case.shape, w, b, case.eps)
        return (out,), cache

    def backward(douts, cache):
        return F.layer_norm_backward(douts[0], cache)
    check(forward, backward, case.x, w, b)


@dtypes
@given(case=Q.layer_norm_cases(), affine=st.booleans(), bias=st.booleans(),
       as_int=st.booleans())
def test_layer_norm_module_matches_torch(case, affine, bias, as_int, dtype):
    """Constructor arguments in torch's order (normalized_shape as an int when it has one
    axis and ``as_int``), random weight and bias, output, dx and parameter gradients."""
    shape = case.shape[0] if as_int and len(case.shape) == 1 else case.shape
    layer = nn.LayerNorm(shape, case.eps, affine, bias, None, dtype)
    twin = torch.nn.LayerNorm(shape, case.eps, affine, bias, None, torch_dtype(dtype))
    assert repr(layer) == repr(twin)
    assert [(k, v.shape) for k, v in layer.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in twin.state_dict().items()]
    rng = np.random.default_rng(case.seed)
    state = {k: rng.uniform(-1, 1, v.shape).astype(dtype) for k, v in layer.state_dict().items()}
    layer.load_state_dict(state)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    x = case.x.astype(dtype)
    out = layer(x)
    dout = upstream(case.seed, out.shape, dtype)
    dx = layer.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    t_out = twin(tx)
    t_out.backward(torch.from_numpy(dout))
    mine = dict(out=out, dx=dx, **{k: p.grad for k, p in layer.named_parameters()})
    theirs = dict(out=t_out, dx=tx.grad, **{k: p.grad for k, p in twin.named_parameters()})
    compare_rows(mine, theirs, dtype, x, len(case.shape), case.eps)


def test_layer_norm_starts_at_ones_and_zeros():
    layer = nn.LayerNorm((2, 3), dtype=np.float64)
    np.testing.assert_array_equal(layer.weight.data, np.ones((2, 3)))
    np.testing.assert_array_equal(layer.bias.data, np.zeros((2, 3)))
    assert layer.weight.data.dtype == np.float64
    assert nn.LayerNorm(3).weight.data.dtype == np.float32


BAD = [
    (lambda: nn.LayerNorm(4)(np.zeros((2, 3), np.float32)), ValueError,
     r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\], but got input of "
     r"size\[2, 3\]"),
    (lambda: nn.LayerNorm(4)(np.zeros((2, 4))), TypeError, "float32 parameters"),
    (lambda: nn.LayerNorm(4)(np.zeros((2, 4), np.int64)), TypeError, "floating-point"),
    (lambda: nn.LayerNorm((2, 3))(np.zeros(3, np.float32)), ValueError, "at least 2 dims"),
    (lambda: nn.LayerNorm(-1), ValueError, "negative dimension -1"),
    (lambda: nn.LayerNorm(2.0), TypeError, "normalized_shape must be an int"),
    (lambda: nn.LayerNorm(())(np.ones(3, np.float32)), ValueError,
     "normalized_shape to be at least 1-dimensional"),
    (lambda: nn.LayerNorm(3, elementwise_affine=1), TypeError, "elementwise_affine"),
    (lambda: nn.LayerNorm(3, eps=-1.0), ValueError, "eps"),
    (lambda: nn.LayerNorm(3).backward(np.ones(3, np.float32)), RuntimeError, "before forward"),
]


@pytest.mark.parametrize("call, error, pattern", BAD)
def test_bad_layer_norm_arguments_and_input_are_refused(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


@pytest.mark.parametrize("x", [np.zeros((2, 3), np.float32), np.zeros((2, 4))],
                         ids=["trailing-shape", "float64-into-float32"])
def test_layer_norm_refuses_what_torch_refuses(x):
    with pytest.raises(RuntimeError):
        torch.nn.LayerNorm(4)(torch.from_numpy(x))
    with pytest.raises((ValueError, TypeError)):
        nn.LayerNorm(4)(x)
