"""RNNCell, LSTMCell and GRUCell against torch's cells: batched (N, H_in) and unbatched
(H_in,) input, hx given or None, bias, tanh/relu; random upstream gradients on h' (and c');
output, dx, dhx and every parameter gradient in float64 and float32; repr, state_dict,
initialisation and refusals (a float32 input to float64 weights included, as torch).

Tolerance: a pre-activation sums ``K = D + H + 2`` products; the input and state
gradients go back through them once (``2K``) and the weight gradients sum over the batch
(``2K * N``); the GRU's new gate takes a second product through r (factor 2 more).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import assert_parity, dtypes, upstream
from parity_tests.sequence_helpers import torch_dtype
from scratch import nn

CELLS = ("RNNCell", "LSTMCell", "GRUCell")


@st.composite
def cell_cases(draw):
    kind = draw(st.sampled_from(CELLS))
    d, h = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    args = [d, h, draw(st.booleans())]
    if kind == "RNNCell":
        args.append(draw(st.sampled_from(["tanh", "relu"])))
    batch = draw(st.none() | st.integers(1, 3))
    lead = () if batch is None else (batch,)
    x = draw(S.array(lead + (d,)))
    states = [draw(S.array(lead + (h,))) for _ in range(2)] if draw(st.booleans()) else None
    return kind, args, x, states, draw(S.SEEDS)


@dtypes
@given(case=cell_cases())
def test_cell_matches_torch(case, dtype):
    kind, args, x, states, seed = case
    cell = getattr(nn, kind)(*args, dtype=dtype)
    twin = getattr(torch.nn, kind)(*args, dtype=torch_dtype(dtype))
    rng = np.random.default_rng(seed)
    state = {k: rng.uniform(-1, 1, v.shape).astype(dtype) for k, v in cell.state_dict().items()}
    cell.load_state_dict(state)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    x = x.astype(dtype)
    hs = None if states is None else [s.astype(dtype) for s in states]
    tx = torch.tensor(x, requires_grad=True)
    th = None if hs is None else [torch.tensor(s, requires_grad=True) for s in hs]
    lead = x.shape[:-1]
    dh = upstream(seed, lead + (args[1],), dtype)
    dc = upstream(seed + 1, lead + (args[1],), dtype)
    if kind == "LSTMCell":
        h, c = cell(x, None if hs is None else tuple(hs))
        dx, (dh0, dc0) = cell.backward(dh, dc)
        t_h, t_c = twin(tx, None if th is None else tuple(th))
        ((t_h * torch.from_numpy(dh)).sum() + (t_c * torch.from_numpy(dc)).sum()).backward()
        mine, theirs = dict(h=h, c=c, dx=dx), dict(h=t_h, c=t_c, dx=tx.grad)
        if hs is not None:
            mine.update(dh0=dh0, dc0=dc0)
            theirs.update(dh0=th[0].grad, dc0=th[1].grad)
    else:
        h = cell(x, None if hs is None else hs[0])
        dx, dh0 = cell.backward(dh)
        t_h = twin(tx, None if th is None else th[0])
        (t_h * torch.from_numpy(dh)).sum().backward()
        mine, theirs = dict(h=h, dx=dx), dict(h=t_h, dx=tx.grad)
        if hs is not None:
            mine["dh0"], theirs["dh0"] = dh0, th[0].grad
    mine.update({f"grad.{k}": p.grad for k, p in cell.named_parameters()})
    theirs.update({f"grad.{k}": p.grad for k, p in twin.named_parameters()})
    k = (args[0] + args[1] + 2) * (2 if kind == "GRUCell" else 1)
    n = x.shape[0] if x.ndim == 2 else 1
    assert_parity(mine, theirs, dtype, {name: k if name in ("h", "c") else
                                        2 * k * n if name.startswith("grad.") else 2 * k
                                        for name in theirs})


@given(case=cell_cases())
def test_cell_repr_and_state_dict_equal_torchs(case):
    kind, args, *_ = case
    mine, theirs = getattr(nn, kind)(*args), getattr(torch.nn, kind)(*args)
    assert repr(mine) == repr(theirs)
    assert [(k, v.shape) for k, v in mine.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


@pytest.mark.parametrize("kind", CELLS)
def test_cell_initialisation_is_torchs_uniform(kind):
    cell = getattr(nn, kind)(30, 40, generator=2)
    values = np.concatenate([v.ravel() for v in cell.state_dict().values()])
    bound = np.float32(1 / np.sqrt(40))
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    assert abs(values.mean()) < 5 * bound / np.sqrt(3 * values.size)
    again = getattr(nn, kind)(30, 40, generator=2).state_dict()
    assert all(np.array_equal(again[k], v) for k, v in cell.state_dict().items())


f32, f64 = np.float32, np.float64
ERRORS = [
    (lambda: nn.GRUCell(3, 4, dtype=f64)(np.zeros((2, 3), f32)), TypeError, "float64 parameters"),
    (lambda: nn.RNNCell(3, 4)(np.zeros((2, 3), f32), np.zeros((2, 4))), TypeError, "float64"),
    (lambda: nn.LSTMCell(3, 4)(np.zeros((2, 3), f32), (np.zeros((2, 4), f32), np.zeros((2, 4)))),
     TypeError, "float64"),
    (lambda: nn.GRUCell(3, 4)(np.zeros((2, 2), f32)), ValueError,
     "input has inconsistent input_size: got 2 expected 3"),
    (lambda: nn.GRUCell(3, 4)(np.zeros((1, 2, 3), f32)), ValueError,
     "Expected input to be 1D or 2D, got 3D instead"),
    (lambda: nn.GRUCell(3, 4)(np.zeros((2, 3), f32), np.zeros((3, 4), f32)), ValueError,
     "Input batch size 2 doesn't match hidden0 batch size 3"),
    (lambda: nn.GRUCell(3, 4)(np.zeros((2, 3), f32), np.zeros((2, 5), f32)), ValueError,
     "hidden0 has inconsistent hidden_size: got 5, expected 4"),
    (lambda: nn.RNNCell(3, 4)(np.zeros(3, f32), np.zeros((1, 4), f32)), ValueError,
     "1-D for unbatched input"),
    (lambda: nn.LSTMCell(3, 4)(np.zeros(3, f32), np.zeros(4, f32)), TypeError,
     r"tuple \(h_0, c_0\)"),
    (lambda: nn.RNNCell(3, 4, nonlinearity="gelu"), ValueError, "Unknown nonlinearity"),
    (lambda: nn.RNNCell(3, 4).backward(np.zeros(4, f32)), RuntimeError, "before forward"),
    (lambda: (lambda c: (c(np.zeros((2, 3), f32)), c.backward(np.zeros(4, f32))))(
        nn.GRUCell(3, 4)), ValueError, r"dh of shape \(2, 4\)"),
]


@pytest.mark.parametrize("make, kind, match", ERRORS)
def test_bad_cell_arguments_and_input_are_refused(make, kind, match):
    with pytest.raises(kind, match=match):
        make()


@pytest.mark.parametrize("kind", CELLS)
def test_cells_refuse_a_float32_input_to_float64_weights_as_torch_does(kind):
    with pytest.raises(RuntimeError, match="same dtype"):
        getattr(torch.nn, kind)(3, 4).double()(torch.zeros(2, 3))
    with pytest.raises(TypeError, match="float64 parameters but got input of dtype float32"):
        getattr(nn, kind)(3, 4, dtype=np.float64)(np.zeros((2, 3), np.float32))
