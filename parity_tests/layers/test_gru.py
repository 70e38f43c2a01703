"""scratch.nn.GRU against torch.nn.GRU, the GRU pairs against finite differences.

Hypothesis draws sizes, 1-2 layers, one or two directions, ``batch_first``, bias, 1-5
steps, batch 1-3 or unbatched, and an initial state present or absent; both sides get the
same weights and random upstream gradients on the output sequence **and** h_n. Compared:
output, h_n, dx, dh0 and every parameter gradient (bias_ih and bias_hh separately: b_hn
sits inside the reset gate's product, so their gradients differ).

Tolerance budget: as test_rnn.py's (see its docstring): weights drawn with row and column
sums of |w| at most 1, so one step adds ``K = width + H + 2`` terms of rounding and old
errors do not grow; ``P = layers * steps`` steps on the longest path; backward doubles
it, parameter gradients sum ``N * steps`` of them. A GRU step holds three such gate
sums (r, z and n, the last through r), hence the factor 3.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import assert_parity, check, dtypes, upstream
from parity_tests.sequence_helpers import torch_dtype
from reference import convert
from scratch import functional as F
from scratch import nn


def kwargs(case):
    return dict(num_layers=case.num_layers, bias=case.bias, batch_first=case.batch_first,
                bidirectional=case.bidirectional)


def contractive_state(layer, seed):
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-1, 1, v.shape) * (1 / max(v.shape) if v.ndim == 2
                                                  else 1 / layer.hidden_size)
            for name, v in layer.state_dict().items()}


def state_shape(case):
    d = 2 if case.bidirectional else 1
    return ((case.num_layers * d, case.hidden_size) if case.batch is None
            else (case.num_layers * d, case.batch, case.hidden_size))


def budgets(case, names):
    d = 2 if case.bidirectional else 1
    k = 3 * (max(case.input_size, d * case.hidden_size) + case.hidden_size + 2)
    forward = k * case.num_layers * case.steps
    n = case.batch or 1
    return {name: (forward if name in ("out", "h_n") else
                   n * case.steps * 2 * forward if name.startswith("grad.") else 2 * forward)
            for name in names}


def run_both(case, dtype, state, h0, dout, dh_n):
    layer = nn.GRU(case.input_size, case.hidden_size, **kwargs(case), dtype=dtype)
    layer.load_state_dict({k: v.astype(dtype) for k, v in state.items()})
    x = case.x.astype(dtype)
    out, h_n = layer(x, h0)
    dx, dh0 = layer.backward(dout, dh_n)
    mine = dict(out=out, h_n=h_n, dx=dx, **{f"grad.{k}": p.grad
                                            for k, p in layer.named_parameters()})
    twin = torch.nn.GRU(case.input_size, case.hidden_size, **kwargs(case),
                        dtype=torch_dtype(dtype))
    convert.load_numpy_state(twin, {k: v.astype(dtype) for k, v in state.items()})
    tx = torch.tensor(x, requires_grad=True)
    th = None if h0 is None else torch.tensor(h0, requires_grad=True)
    t_out, t_h = twin(tx, th)
    ((t_out * torch.from_numpy(dout)).sum() + (t_h * torch.from_numpy(dh_n)).sum()).backward()
    theirs = dict(out=t_out, h_n=t_h, dx=tx.grad, **{f"grad.{k}": p.grad
                                                      for k, p in twin.named_parameters()})
    if h0 is not None:
        mine["dh0"], theirs["dh0"] = dh0, th.grad
    return mine, theirs


@dtypes
@given(case=S.recurrent_cases(modes=("GRU",)))
def test_gru_matches_torch(dtype, case):
    state = contractive_state(nn.GRU(case.input_size, case.hidden_size, **kwargs(case)),
                              case.seed)
    rng = np.random.default_rng(case.seed)
    h0 = rng.uniform(-1, 1, state_shape(case)).astype(dtype) if case.initial_state else None
    d = 2 if case.bidirectional else 1
    dout = upstream(case.seed + 1, case.x.shape[:-1] + (d * case.hidden_size,), dtype)
    dh_n = upstream(case.seed + 2, state_shape(case), dtype)
    mine, theirs = run_both(case, dtype, state, h0, dout, dh_n)
    assert_parity(mine, theirs, dtype, budgets(case, theirs))


@dtypes
def test_gru_at_torch_init_over_28_steps(dtype):
    """MNIST's rows (28 steps of 28 pixels, 32 hidden, batch 3, batch_first) at torch's own
    init scale, weights not contractive by construction: the budget still holds."""
    x = np.random.default_rng(1).uniform(0, 1, (3, 28, 28))
    case = S.RecurrentCase("GRU", 28, 32, 1, True, True, False, 28, 3, False, x, seed=5)
    torch.manual_seed(0)
    state = convert.to_numpy_state(torch.nn.GRU(28, 32, batch_first=True).double().state_dict())
    dout, dh_n = upstream(6, (3, 28, 32), dtype), upstream(7, (1, 3, 32), dtype)
    mine, theirs = run_both(case, dtype, state, None, dout, dh_n)
    assert_parity(mine, theirs, dtype, budgets(case, theirs))


@given(steps=st.integers(1, 4), n=st.integers(1, 2), d=st.integers(1, 3), h=st.integers(1, 3),
       seed=S.SEEDS)
def test_gru_backward_matches_finite_differences(steps, n, d, h, seed):
    """The sequence pair with h_n's gradient (the last output step) and both biases."""
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-1, 1, s) for s in
              ((steps, n, d), (n, h), (3 * h, d), (3 * h, h), (3 * h,), (3 * h,))]

    def forward(*a):
        out, cache = F.gru_forward(*a)
        return (out,), cache

    def backward(douts, cache):
        dx, dh0, dw_ih, dw_hh, (db_ih, db_hh) = F.gru_backward(douts[0], None, cache)
        return dx, dh0, dw_ih, dw_hh, db_ih, db_hh
    check(forward, backward, *arrays)


@given(n=st.integers(1, 3), d=st.integers(1, 3), h=st.integers(1, 3), seed=S.SEEDS)
def test_gru_step_backward_matches_finite_differences(n, d, h, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-1, 1, s) for s in
              ((n, d), (n, h), (3 * h, d), (3 * h, h), (3 * h,), (3 * h,))]

    def forward(*a):
        out, cache = F.gru_step_forward(*a)
        return (out,), cache
    check(forward, lambda douts, cache: F.gru_step_backward(douts[0], cache),
                       *arrays)


# --------------------------------------------------------------------------- module surface
@pytest.mark.filterwarnings("ignore:.*dropout option adds dropout")
@given(case=S.recurrent_cases(modes=("GRU",), max_steps=1), dropout=st.sampled_from([0, 0.25]))
def test_gru_state_dict_and_repr_equal_torchs(case, dropout):
    mine = nn.GRU(case.input_size, case.hidden_size, **kwargs(case), dropout=dropout)
    theirs = torch.nn.GRU(case.input_size, case.hidden_size, **kwargs(case), dropout=dropout)
    assert repr(mine) == repr(theirs)
    assert [(k, v.shape) for k, v in mine.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


def test_gru_initialisation_is_torchs_uniform():
    layer = nn.GRU(20, 50, 2, seed=3)
    values = np.concatenate([v.ravel() for v in layer.state_dict().values()])
    bound = np.float32(1 / np.sqrt(50))
    assert values.dtype == np.float32
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    assert abs(values.mean()) < 5 * bound / np.sqrt(3 * values.size)
    again = nn.GRU(20, 50, 2, seed=3).state_dict()
    assert all(np.array_equal(again[k], v) for k, v in layer.state_dict().items())


ERRORS = [
    (lambda: nn.GRU(3, 4, dtype=np.float64)(np.zeros((5, 2, 3), np.float32)), TypeError,
     "float64 parameters"),
    (lambda: nn.GRU(3, 4)(np.zeros((5, 2, 3), np.float32), np.zeros((1, 2, 4))), TypeError,
     "float64"),
    (lambda: nn.GRU(3, 4)(np.zeros((5, 2, 2), np.float32)), ValueError,
     "input.size\\(-1\\) must be equal to input_size"),
    (lambda: nn.GRU(3, 4)(np.zeros((5, 3), np.float32), np.zeros((1, 2, 4), np.float32)),
     ValueError, r"expected hx of shape \(1, 4\)"),
    (lambda: nn.GRU(3, 4, proj_size=2), TypeError, "proj_size"),
    (lambda: nn.GRU(3, 4, dropout=2.0), ValueError, r"range \[0, 1\]"),
    (lambda: nn.GRU(3, 0), ValueError, "hidden_size must be greater than zero"),
    (lambda: nn.GRU(3, 4).backward(np.zeros((5, 2, 4), np.float32)), RuntimeError,
     "before forward"),
]


@pytest.mark.parametrize("make, kind, match", ERRORS)
def test_bad_gru_arguments_and_input_are_refused(make, kind, match):
    with pytest.raises(kind, match=match):
        make()


def test_gru_refuses_a_float32_input_to_float64_weights_as_torch_does():
    with pytest.raises(ValueError, match="does not match weight dtype"):
        torch.nn.GRU(3, 4).double()(torch.zeros(5, 2, 3))
    with pytest.raises(TypeError, match="float64 parameters but got input of dtype float32"):
        nn.GRU(3, 4, dtype=np.float64)(np.zeros((5, 2, 3), np.float32))


@dtypes
@given(case=S.recurrent_cases(modes=("GRU",)).filter(lambda c: c.batch is not None),
       last_step=st.booleans())
def test_gru_output_gives_torchs_last_step_or_whole_output(dtype, case, last_step):
    """GRUOutput (batch_first, one array out, final state dropped): torch's GRU output[:, -1]
    (or the whole output) and the gradients of a random upstream gradient on it."""
    layer = nn.GRUOutput(case.input_size, case.hidden_size, num_layers=case.num_layers,
                         bias=case.bias, bidirectional=case.bidirectional, last_step=last_step,
                         dtype=dtype)
    twin = torch.nn.GRU(case.input_size, case.hidden_size, num_layers=case.num_layers,
                        bias=case.bias, bidirectional=case.bidirectional, batch_first=True,
                        dtype=torch_dtype(dtype))
    state = {k: v.astype(dtype) for k, v in contractive_state(layer, case.seed).items()}
    layer.load_state_dict(state)
    convert.load_numpy_state(twin, state)
    x = case.x if case.batch_first else case.x.transpose(1, 0, 2)
    x = np.ascontiguousarray(x).astype(dtype)
    out = layer(x)
    dout = upstream(case.seed, out.shape, dtype)
    dx = layer.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    t_out = twin(tx)[0]
    t_out = t_out[:, -1] if last_step else t_out
    t_out.backward(torch.from_numpy(dout))
    mine = dict(out=out, dx=dx, **{f"grad.{k}": p.grad for k, p in layer.named_parameters()})
    theirs = dict(out=t_out, dx=tx.grad,
                  **{f"grad.{k}": p.grad for k, p in twin.named_parameters()})
    assert_parity(mine, theirs, dtype, budgets(case, theirs))
