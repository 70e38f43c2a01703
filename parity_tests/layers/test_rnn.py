"""scratch.nn.RNN / LSTM against torch.nn.RNN / LSTM, and finite differences.

Hypothesis draws the mode (tanh RNN, relu RNN, LSTM), sizes, layers,
direction, ``batch_first``, bias, 1..5 steps, batch 1..3 or unbatched, and
initial states present or absent. Both sides get the same weights; each
backpropagates random upstream gradients on the output sequence **and** the
final state(s). Compared: output, h_n (c_n), dx, dh0 (dc0) and every
parameter gradient.

Tolerance budget (why error grows with the sequence, and how much)
------------------------------------------------------------------
A pre-activation sums ``K = width + H + 2`` products (input, recurrent, two
biases); one step therefore adds at most about ``K u M`` of rounding (the
per-term budget ``ATOL_PER_TERM`` of :mod:`parity_tests.helpers` already holds
``u M``). An error already present in ``h[t-1]`` is passed on through the
step's Jacobian ``diag(act') W_hh``. The weights are drawn so that every
weight matrix has row and column sums of ``|w|`` at most 1 (entries within
``1 / max(rows, cols)``), and tanh, relu and the gates are 1-Lipschitz, so
that Jacobian has infinity-norm <= 1: old errors do not grow, and each step
on the longest path adds one step's worth. That path has ``P = num_layers *
steps`` steps (a bidirectional stack can go forward through one layer and
backward through the next), so

- outputs and final states: ``K * P`` terms;
- dx, dh0, dc0: the backward recurrence is the transpose (same norm bound)
  and multiplies by derivatives taken at forward values that carry the
  forward error: ``2 * K * P``;
- parameter gradients sum ``N * steps`` such per-step products: ``N * steps * 2 * K * P``;
- LSTM: the cell state is not squashed, ``|c| <= steps + 1``, and it scales
  the gate errors it multiplies: everything above times ``steps + 1``.

float64 is then tight (ATOL_PER_TERM 2e-14) and float32 no looser than
this growth requires; ``rtol`` is the suite's. The measured errors sit well
inside (see the README's "Recurrent layers").
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.distributions import (
    assert_reaches_bound,
    assert_same_distribution,
    assert_within_bound,
    torch_module,
)
from parity_tests.helpers import TORCH_DTYPE, assert_parity, check, dtypes, upstream
from parity_tests.model_helpers import batch_for, compare_step
from parity_tests.model_helpers import twins as model_twins
from parity_tests.rnn_cases import (
    budgets,
    contractive_state,
    draws,
    run_scratch,
    run_torch,
    scratch_layer,
    torch_layer,
)
from reference import convert
from scratch import arch as A
from scratch import functional as F
from scratch import nn


# --------------------------------------------------------------------------- the two sides
@dtypes
@given(case=S.recurrent_cases())
def test_recurrent_layer_matches_torch(dtype, case):
    state = contractive_state(scratch_layer(case, np.float64), case.seed)
    states, grads = draws(case, None, dtype)
    mine = run_scratch(case, dtype, state, states, grads)
    theirs = run_torch(case, dtype, state, states, grads)
    assert_parity(mine, theirs, dtype, budgets(case, theirs))


@dtypes
@pytest.mark.parametrize("mode", ["RNN_TANH", "LSTM"])
def test_recurrent_layer_at_torch_init_over_28_steps(dtype, mode):
    """MNIST's shape (28 steps of 28 pixels, 32 hidden) at torch's own init scale,
    where weights are not contractive by construction: the budget still holds."""
    x = np.random.default_rng(1).uniform(0, 1, (3, 28, 28))
    case = S.RecurrentCase(mode, 28, 32, 1, True, True, False, 28, 3, False, x, seed=5)
    state = convert.to_numpy_state(torch_layer(case, np.float64).state_dict())
    states, grads = draws(case, None, dtype)
    mine = run_scratch(case, dtype, state, states, grads)
    theirs = run_torch(case, dtype, state, states, grads)
    assert_parity(mine, theirs, dtype, budgets(case, theirs))


# --------------------------------------------------------------------------- finite differences
def _rnn_pair(nonlinearity):
    def forward(x, h0, w_ih, w_hh, b_ih, b_hh):
        return F.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity)

    def backward(dout, cache):
        dx, dh0, dw_ih, dw_hh, db = F.rnn_backward(dout, None, cache)
        return dx, dh0, dw_ih, dw_hh, db, db
    return forward, backward


def _lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """The output sequence with c_n appended as one more step, so both are checked."""
    out, c_n, cache = F.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    return np.concatenate([out, c_n[None]]), cache


def _lstm_backward(dout, cache):
    dx, dh0, dc0, dw_ih, dw_hh, db = F.lstm_backward(dout[:-1], None, dout[-1], cache)
    return dx, dh0, dc0, dw_ih, dw_hh, db, db


@given(mode=st.sampled_from(["RNN_TANH", "LSTM"]), steps=st.integers(1, 4),
       n=st.integers(1, 2), d=st.integers(1, 3), h=st.integers(1, 3), seed=S.SEEDS)
def test_recurrent_backward_matches_finite_differences(mode, steps, n, d, h, seed):
    """tanh RNN and LSTM sequence pairs (relu left out: a step of 1e-6 may cross its kink)."""
    rng = np.random.default_rng(seed)
    g = 4 if mode == "LSTM" else 1
    x, h0, c0 = rng.uniform(-1, 1, (steps, n, d)), rng.uniform(-1, 1, (n, h)), rng.uniform(
        -1, 1, (n, h))
    w_ih, w_hh = rng.uniform(-1, 1, (g * h, d)), rng.uniform(-1, 1, (g * h, h))
    b_ih, b_hh = rng.uniform(-1, 1, g * h), rng.uniform(-1, 1, g * h)
    if mode == "LSTM":
        check(_lstm_forward, _lstm_backward, x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    else:
        check(*_rnn_pair("tanh"), x, h0, w_ih, w_hh, b_ih, b_hh)


# --------------------------------------------------------------------------- state dicts, init
@given(case=S.recurrent_cases(max_steps=1))
def test_state_dict_names_shapes_and_order_equal_torchs(case):
    mine = scratch_layer(case, np.float64).state_dict()
    theirs = torch_layer(case, np.float64).state_dict()
    assert list(mine) == list(theirs)
    assert [v.shape for v in mine.values()] == [tuple(t.shape) for t in theirs.values()]


@given(case=S.recurrent_cases(max_steps=1))
def test_state_dict_round_trips_through_torch(case):
    layer = scratch_layer(case, np.float64)
    twin = torch_layer(case, np.float64)
    convert.load_numpy_state(twin, layer.state_dict())
    back = scratch_layer(case, np.float64)
    back.reset_parameters(np.random.default_rng(1))
    back.load_state_dict(convert.to_numpy_state(twin.state_dict()))
    for name, value in layer.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[name], value, err_msg=name)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM])
def test_initialisation_is_torchs_uniform(cls):
    """U(-1/sqrt(H), 1/sqrt(H)) for every parameter, as torch's reset_parameters; compared
    by a two-sample KS test with torch's own draw (the check of test_init.py)."""
    hidden = 64
    mine = cls(50, hidden, 2, seed=3)
    theirs = torch_module(lambda: getattr(torch.nn, cls.__name__)(50, hidden, 2), 3, np.float32)
    bound = 1 / np.sqrt(hidden)
    values = np.concatenate([v.ravel() for v in mine.state_dict().values()])
    assert_within_bound(values, bound, cls.__name__)
    assert_reaches_bound(values, bound, cls.__name__)
    assert_same_distribution(values, np.concatenate(
        [t.detach().numpy().ravel() for t in theirs.state_dict().values()]), cls.__name__)
    again = cls(50, hidden, 2, seed=3).state_dict()
    assert all(np.array_equal(again[k], v) for k, v in mine.state_dict().items())
    assert values.dtype == np.float32


# --------------------------------------------------------------------------- errors
ERRORS = [
    (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError, "Unknown nonlinearity"),
    (lambda: nn.RNN(3, 4, proj_size=2), TypeError, "proj_size"),
    (lambda: nn.LSTM(3, 4, proj_size=4), ValueError, "proj_size has to be smaller"),
    (lambda: nn.LSTM(3, 4, proj_size=-1), ValueError, "positive integer or zero"),
    (lambda: nn.RNN(3, 4, dropout=1.5), ValueError, r"range \[0, 1\]"),
    (lambda: nn.RNN(0, 4), ValueError, "input_size must be greater than zero"),
    (lambda: nn.LSTM(3, 4.0), TypeError, "hidden_size should be of type int"),
    (lambda: nn.RNN(3, 4, bias=1), TypeError, "bias should be of type bool"),
    (lambda: nn.RNN(3, 4, device="cuda"), ValueError, "CPU"),
    (lambda: nn.RNN(3, 4, dtype=np.int32), TypeError, "floating-point"),
    (lambda: nn.RNN(3, 4)(np.zeros((5, 2, 2), np.float32)), ValueError,
     "input.size\\(-1\\) must be equal to input_size. Expected 3, got 2"),
    (lambda: nn.RNN(3, 4)(np.zeros((2, 5, 2, 3), np.float32)), ValueError, "2 or 3 dims"),
    (lambda: nn.RNN(3, 4)(np.zeros((5, 2, 3))), TypeError, "float32 parameters"),
    (lambda: nn.RNN(3, 4)(np.zeros((5, 2, 3), np.float32), np.zeros((1, 3, 4), np.float32)),
     ValueError, r"expected hx of shape \(1, 2, 4\)"),
    (lambda: nn.RNN(3, 4)(np.zeros((5, 3), np.float32), np.zeros((1, 1, 4), np.float32)),
     ValueError, r"expected hx of shape \(1, 4\)"),
    (lambda: nn.LSTM(3, 4)(np.zeros((5, 2, 3), np.float32), np.zeros((1, 2, 4), np.float32)),
     TypeError, r"tuple \(h_0, c_0\)"),
    (lambda: nn.RNN(3, 4).backward(np.zeros((5, 2, 4), np.float32)), RuntimeError,
     "before forward"),
    (lambda: nn.RNN(3, 4, num_layers=0), ValueError, "num_layers must be greater than zero"),
    (lambda: nn.RNN(3, 4)(np.zeros((5, 2, 3), np.float32), np.zeros((1, 2, 4))), TypeError,
     "float64"),
    (lambda: nn.LSTM(3, 4)(np.zeros((5, 2, 3), np.float32),
                           (np.zeros((1, 2, 4), np.float32), np.zeros((1, 2, 4)))),
     TypeError, "float64"),
    (lambda: (lambda m: (m(np.zeros((2, 5, 3), np.float32)), m.backward(np.ones(4, np.float32))))(
        nn.RNNOutput(3, 4)), ValueError, r"dout of shape \(2, 4\)"),
    (lambda: (lambda m: (m(np.zeros((2, 5, 3), np.float32)), m.backward(np.ones(4, np.float32))))(
        nn.LSTMOutput(3, 4)), ValueError, r"dout of shape \(2, 4\)"),
]


@pytest.mark.parametrize("make, kind, match", ERRORS)
def test_bad_arguments_and_input_get_clear_errors(make, kind, match):
    with pytest.raises(kind, match=match):
        make()


@pytest.mark.parametrize("dropout", [0.5, 1.0])
def test_dropout_with_one_layer_warns_as_torch(dropout):
    """Any dropout in [0, 1] with one layer is accepted with torch's warning (and prints
    as torch's)."""
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        theirs = torch.nn.LSTM(3, 4, dropout=dropout)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        ours = nn.LSTM(3, 4, dropout=dropout)
    assert repr(ours) == repr(theirs)


def test_backward_checks_its_gradients():
    layer = nn.LSTM(3, 4)
    out, (h_n, _) = layer(np.zeros((5, 2, 3), np.float32))
    with pytest.raises(ValueError, match="dh_n of shape"):
        layer.backward(np.zeros_like(out), np.zeros((1, 4), np.float32))


# --------------------------------------------------------------------------- the model path
@st.composite
def sequence_architectures(draw):
    """Rows -> RNN or LSTM (any options; last step or whole output) -> [Flatten] -> Linear."""
    channels, height, width = draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(
        st.integers(1, 4))
    common = dict(hidden_size=draw(st.integers(1, 4)), num_layers=draw(st.integers(1, 2)),
                  bias=draw(st.booleans()), bidirectional=draw(st.booleans()),
                  last_step=draw(st.booleans()))
    spec = (A.LSTM(**common) if draw(st.booleans())
            else A.RNN(nonlinearity=draw(st.sampled_from(["tanh", "relu"])), **common))
    layers = [("rows", A.Rows()), ("rec", spec)]
    if not spec.last_step:
        layers.append(("flatten", A.Flatten()))
    layers.append(("fc", A.Linear(draw(st.integers(2, 4)))))
    return A.Architecture((channels, height, width), tuple(layers))


@dtypes
@given(architecture=sequence_architectures(), n=st.integers(1, 3), seed=S.SEEDS)
def test_sequence_model_matches_torch(dtype, architecture, n, seed):
    """scratch.model.build and reference.model.build of one Architecture: logits, loss,
    input gradient and every parameter gradient (torch's default init scale)."""
    spec = architecture.layers[1][1]
    steps, features = architecture.shapes()[1]
    mode = "LSTM" if isinstance(spec, A.LSTM) else "RNN_TANH"
    case = S.RecurrentCase(mode, features, spec.hidden_size, spec.num_layers, spec.bias, True,
                           spec.bidirectional, steps, n, False, None, seed)
    k = budgets(case, ["grad."])["grad."] + architecture.shapes()[-2][-1] + n
    scratch, torch_model = model_twins(architecture, dtype, seed)
    x, y = batch_for(architecture, n, seed, dtype)
    compare_step(scratch, torch_model, x, y, dtype, k)


def test_mnist_rnn_architectures_build_on_both_sides():
    for cell in ("rnn", "lstm"):
        spec = A.mnist_rnn(cell)
        assert spec.shapes() == [(1, 28, 28), (28, 28), (128,), (10,)]
        scratch, torch_model = model_twins(spec, np.float32)
        assert list(scratch.state_dict()) == list(torch_model.state_dict())


@dtypes
@given(lstm=st.booleans(), relu=st.booleans(), n=st.integers(1, 3), d=st.integers(1, 4),
       h=st.integers(1, 4), bias=st.booleans(), seed=S.SEEDS)
def test_step_pairs_match_torch_cells(dtype, lstm, relu, n, d, h, bias, seed):
    """rnn_step_* / lstm_step_* against torch.nn.RNNCell / LSTMCell, upstream gradients
    on h (and c); K = d + h + 2 terms per pre-activation, n for the weight gradients."""
    rng = np.random.default_rng(seed)
    cell = (torch.nn.LSTMCell(d, h, bias) if lstm
            else torch.nn.RNNCell(d, h, bias, "relu" if relu else "tanh"))
    cell = cell.to(TORCH_DTYPE[np.dtype(dtype)])
    params = {k: rng.uniform(-1, 1, tuple(p.shape)).astype(dtype)
              for k, p in cell.named_parameters()}
    convert.load_numpy_state(cell, params)
    x, h0, c0 = (rng.uniform(-1, 1, s).astype(dtype) for s in ((n, d), (n, h), (n, h)))
    dh, dc = upstream(seed, (n, h), dtype), upstream(seed + 1, (n, h), dtype)
    args = (params["weight_ih"], params["weight_hh"], params.get("bias_ih"),
            params.get("bias_hh"))
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    if lstm:
        out, c, cache = F.lstm_step_forward(x, h0, c0, *args)
        dx, dh0, dc0, dw_ih, dw_hh, db = F.lstm_step_backward(dh, dc, cache)
        t_out, t_c = cell(tx, (th, tc))
        ((t_out * torch.from_numpy(dh)).sum() + (t_c * torch.from_numpy(dc)).sum()).backward()
        mine, theirs = dict(h=out, c=c, dc0=dc0), dict(h=t_out, c=t_c, dc0=tc.grad)
    else:
        out, cache = F.rnn_step_forward(x, h0, *args, "relu" if relu else "tanh")
        dx, dh0, dw_ih, dw_hh, db = F.rnn_step_backward(dh, cache)
        t_out = cell(tx, th)
        (t_out * torch.from_numpy(dh)).sum().backward()
        mine, theirs = dict(h=out), dict(h=t_out)
    grads = {k: p.grad for k, p in cell.named_parameters()}
    mine.update(dx=dx, dh0=dh0, weight_ih=dw_ih, weight_hh=dw_hh)
    theirs.update(dx=tx.grad, dh0=th.grad, weight_ih=grads["weight_ih"],
                  weight_hh=grads["weight_hh"])
    if bias:
        mine.update(bias_ih=db, bias_hh=db)
        theirs.update(bias_ih=grads["bias_ih"], bias_hh=grads["bias_hh"])
    k = 2 * (d + h + 2) * n
    assert_parity(mine, theirs, dtype, {name: k for name in theirs})


def test_lstm_takes_its_state_as_a_list_as_torch_does():
    rng = np.random.default_rng(0)
    x, h, c = (rng.standard_normal(s) for s in [(5, 2, 3), (1, 2, 4), (1, 2, 4)])
    ours = nn.LSTM(3, 4, dtype=np.float64, generator=0)
    theirs = torch.nn.LSTM(3, 4).double()
    convert.load_numpy_state(theirs, ours.state_dict())
    out, (h_n, c_n) = ours(x, [h, c])
    t_out, (t_h, t_c) = theirs(torch.from_numpy(x), [torch.from_numpy(h), torch.from_numpy(c)])
    assert_parity(dict(out=out, h_n=h_n, c_n=c_n), dict(out=t_out, h_n=t_h, c_n=t_c),
                  np.float64, dict(out=20, h_n=20, c_n=20))
