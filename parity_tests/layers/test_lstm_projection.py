"""LSTM(proj_size=P) against torch.nn.LSTM(proj_size=P): every option of test_rnn.py's cases
(layers, directions, batch_first, bias, batched or unbatched, initial states or not) with
0 < P < hidden_size; random upstream gradients on the output, h_n (P features) and c_n
(H features); weight_hr's gradient among the parameters; float64 and float32; finite
differences of the functional pair with w_hr; state_dict and refusals.

Tolerance: test_rnn.py's LSTM budget (K = width + H + 2 per step, P = layers * steps on the
longest path, backward doubled, weight gradients times N * steps, times steps + 1 for the
cell), doubled for the projection's extra product of H terms.
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


@st.composite
def projection_cases(draw):
    case = draw(S.recurrent_cases(modes=("LSTM",)).filter(lambda c: c.hidden_size > 1))
    return case, draw(st.integers(1, case.hidden_size - 1))


def kwargs(case, proj):
    return dict(num_layers=case.num_layers, bias=case.bias, batch_first=case.batch_first,
                bidirectional=case.bidirectional, proj_size=proj)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@dtypes
@given(drawn=projection_cases())
def test_lstm_with_projection_matches_torch(dtype, drawn):
    case, proj = drawn
    layer = nn.LSTM(case.input_size, case.hidden_size, **kwargs(case, proj), dtype=dtype)
    twin = torch.nn.LSTM(case.input_size, case.hidden_size, **kwargs(case, proj),
                         dtype=torch_dtype(dtype))
    assert repr(layer) == repr(twin)
    assert [(k, v.shape) for k, v in layer.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in twin.state_dict().items()]
    rng = np.random.default_rng(case.seed)
    state = {k: (rng.uniform(-1, 1, v.shape) / (max(v.shape) if v.ndim == 2
                                                else case.hidden_size)).astype(dtype)
             for k, v in layer.state_dict().items()}
    layer.load_state_dict(state)
    convert.load_numpy_state(twin, state)
    d = 2 if case.bidirectional else 1
    lead = (case.num_layers * d,) + (() if case.batch is None else (case.batch,))
    states = None
    if case.initial_state:
        states = (rng.uniform(-1, 1, lead + (proj,)).astype(dtype),
                  rng.uniform(-1, 1, lead + (case.hidden_size,)).astype(dtype))
    x = case.x.astype(dtype)
    out, (h_n, c_n) = layer(x, states)
    dout = upstream(case.seed + 1, out.shape, dtype)
    dh_n, dc_n = upstream(case.seed + 2, h_n.shape, dtype), upstream(case.seed + 3, c_n.shape,
                                                                       dtype)
    dx, (dh0, dc0) = layer.backward(dout, dh_n, dc_n)
    tx = torch.tensor(x, requires_grad=True)
    ts = None if states is None else tuple(torch.tensor(s, requires_grad=True) for s in states)
    t_out, (t_h, t_c) = twin(tx, ts)
    ((t_out * torch.from_numpy(dout)).sum() + (t_h * torch.from_numpy(dh_n)).sum()
     + (t_c * torch.from_numpy(dc_n)).sum()).backward()
    mine = dict(out=out, h_n=h_n, c_n=c_n, dx=dx,
                **{f"grad.{k}": p.grad for k, p in layer.named_parameters()})
    theirs = dict(out=t_out, h_n=t_h, c_n=t_c, dx=tx.grad,
                  **{f"grad.{k}": p.grad for k, p in twin.named_parameters()})
    if states is not None:
        mine.update(dh0=dh0, dc0=dc0)
        theirs.update(dh0=ts[0].grad, dc0=ts[1].grad)
    k = 2 * (max(case.input_size, d * case.hidden_size) + case.hidden_size + 2)
    k *= case.num_layers * case.steps * (case.steps + 1)
    n = (case.batch or 1) * case.steps
    assert_parity(mine, theirs, dtype, {name: k if name in ("out", "h_n", "c_n") else
                                        2 * k * n if name.startswith("grad.") else 2 * k
                                        for name in theirs})


@given(steps=st.integers(1, 3), n=st.integers(1, 2), d=st.integers(1, 2), h=st.integers(2, 3),
       data=st.data())
def test_lstm_projection_backward_matches_finite_differences(steps, n, d, h, data):
    """The output and c_n, each with its own upstream gradient, and every weight, w_hr
    included."""
    p = data.draw(st.integers(1, h - 1))
    rng = np.random.default_rng(data.draw(S.SEEDS))
    arrays = [rng.uniform(-1, 1, s) for s in ((steps, n, d), (n, p), (n, h), (4 * h, d),
                                              (4 * h, p), (4 * h,), (4 * h,), (p, h))]

    def forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr):
        out, c_n, cache = F.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)
        return (out, c_n), cache

    def backward(douts, cache):
        dx, dh0, dc0, dw_ih, dw_hh, db, dw_hr = F.lstm_backward(douts[0], None, douts[1], cache)
        return dx, dh0, dc0, dw_ih, dw_hh, db, db, dw_hr
    check(forward, backward, *arrays)


f32 = np.float32
ERRORS = [
    (lambda: nn.LSTM(3, 4, proj_size=4), ValueError, "proj_size has to be smaller"),
    (lambda: nn.LSTM(3, 4, proj_size=-1), ValueError, "positive integer or zero"),
    (lambda: nn.LSTM(3, 4, proj_size=2)(np.zeros((5, 2, 3), f32),
                                        (np.zeros((1, 2, 4), f32), np.zeros((1, 2, 4), f32))),
     ValueError, r"expected h_0 of shape \(1, 2, 2\)"),
    (lambda: nn.LSTM(3, 4, proj_size=2)(np.zeros((5, 2, 3), f32),
                                        (np.zeros((1, 2, 2), f32), np.zeros((1, 2, 2), f32))),
     ValueError, r"expected c_0 of shape \(1, 2, 4\)"),
    (lambda: (lambda m: (m(np.zeros((5, 2, 3), f32)),
                         m.backward(np.zeros((5, 2, 2), f32), None, np.zeros((1, 2, 2), f32))))(
        nn.LSTM(3, 4, proj_size=2)), ValueError, r"dc_n of shape \(1, 2, 4\)"),
]


@pytest.mark.parametrize("make, kind, match", ERRORS)
def test_bad_projection_arguments_and_states_are_refused(make, kind, match):
    with pytest.raises(kind, match=match):
        make()
