"""reference.oracle: recurrent cells with any number of states, against torch's own modules.

An LSTM step (states ``prev_h``, ``prev_c``) against ``torch.nn.LSTMCell``,
a GRU step against ``torch.nn.GRUCell`` and a whole LSTM sequence against
``torch.nn.LSTM``, each with no glue but a name mapping: the oracle calls
the module through ``torch.func.functional_call``. Every correct version
passes over several seeds; each buggy one fails in the tensors its slip
reaches (a cell-state gradient dropped used to pass when the cell had one
state slot).
"""
from __future__ import annotations

import pytest
import torch

from reference import oracle
from scripts import oracle_learners as L

SEEDS = range(4)
N, D, H = 2, 3, 4
TRANSPOSED = {"Wx": oracle.Param("weight_ih", transpose=True),
              "Wh": oracle.Param("weight_hh", transpose=True)}


def check_lstm_step(backward, seed):
    return oracle.check_rnn_step(
        L.lstm_step_forward, backward, (N, D), {"Wx": (D, 4 * H), "Wh": (H, 4 * H),
                                                "b": (4 * H,)},
        states={"prev_h": (N, H), "prev_c": (N, H)}, seed=seed,
        against=torch.nn.LSTMCell(D, H), mapping={**TRANSPOSED, "b": "bias_ih"})


def check_gru_step(backward, seed):
    return oracle.check_rnn_step(
        L.gru_step_forward, backward, (N, D), {"Wx": (D, 3 * H), "Wh": (H, 3 * H),
                                               "bx": (3 * H,), "bh": (3 * H,)},
        states={"prev_h": (N, H)}, seed=seed, against=torch.nn.GRUCell(D, H),
        mapping={**TRANSPOSED, "bx": "bias_ih", "bh": "bias_hh"})


@pytest.mark.parametrize("seed", SEEDS)
def test_a_correct_lstm_step_passes_against_lstm_cell(seed):
    report = check_lstm_step(L.make_lstm_step_backward(), seed)
    report.assert_ok()
    assert [r.tensor for r in report.rows] == ["next_h", "next_c", "dx", "dprev_h", "dprev_c",
                                               "dWx", "dWh", "db"]
    assert "bias_hh held at 0" in str(report)


@pytest.mark.parametrize("seed", SEEDS)
def test_an_lstm_step_ignoring_dnext_c_fails_in_the_cell_state_path(seed):
    report = check_lstm_step(L.make_lstm_step_backward(carry_dnext_c=False), seed)
    failed = {r.tensor for r in report.failures}
    assert "dprev_c" in failed and {"next_h", "next_c"}.isdisjoint(failed), str(report)


@pytest.mark.parametrize("seed", SEEDS)
def test_an_lstm_step_without_tanh_derivative_fails(seed):
    report = check_lstm_step(L.make_lstm_step_backward(dc_through_tanh=False), seed)
    failed = {r.tensor for r in report.failures}
    assert {"dprev_c", "dWx"} <= failed and {"next_h", "next_c"}.isdisjoint(failed), str(report)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_correct_gru_step_passes_against_gru_cell_with_both_biases(seed):
    report = check_gru_step(L.make_gru_step_backward(), seed)
    report.assert_ok()
    assert "held at 0" not in str(report)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_gru_step_with_the_reset_gate_misplaced_fails_in_dWh(seed):
    report = check_gru_step(L.make_gru_step_backward(reset_inside=False), seed)
    failed = {r.tensor for r in report.failures}
    assert {"dWh", "dbh"} <= failed and "next_h" not in failed and "dWx" not in failed, \
        str(report)


@pytest.mark.parametrize("seed", SEEDS)
def test_an_lstm_sequence_against_torch_lstm_with_c0_zero(seed):
    def check(backward):
        return oracle.check_rnn(L.lstm_forward, backward, (N, 5, D),
                                {"Wx": (D, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,)},
                                states={"h0": (N, H)}, seed=seed,
                                against=torch.nn.LSTM(D, H, batch_first=True),
                                mapping={"Wx": oracle.Param("weight_ih_l0", transpose=True),
                                         "Wh": oracle.Param("weight_hh_l0", transpose=True),
                                         "b": "bias_ih_l0"})
    check(L.make_lstm_backward()).assert_ok()
    report = check(L.make_lstm_backward(carry_dc=False))
    assert report.row("h").ok and not report.row("dx").ok, str(report)
    assert report.info["last_wrong_dx"] == 3        # the last step is right, t = 3 is not


def test_a_torch_function_with_two_states():
    def lstm_cell(x, h, c, Wx, Wh, b):
        i, f, g, o = (x @ Wx + h @ Wh + b).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    report = oracle.check_rnn_step(
        L.lstm_step_forward, L.make_lstm_step_backward(), (N, D),
        {"Wx": (D, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,)},
        states={"prev_h": (N, H), "prev_c": (N, H)}, against=lstm_cell)
    report.assert_ok()


def test_a_sequence_module_for_a_step_is_refused():
    with pytest.raises(oracle.OracleError, match="runs a whole sequence"):
        oracle.check_rnn_step(L.lstm_step_forward, L.make_lstm_step_backward(), (N, D),
                              {"Wx": (D, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,)},
                              states={"prev_h": (N, H), "prev_c": (N, H)},
                              against=torch.nn.LSTM(D, H, batch_first=True))


@pytest.mark.parametrize("seed", SEEDS)
def test_cs231n_gate_order_maps_onto_lstm_cell_with_blocks(seed):
    gates = (0, 1, 3, 2)      # torch's i, f, g, o are CS231n's blocks 0, 1, 3, 2
    mapping = {"Wx": oracle.Param("weight_ih", transpose=True, blocks=gates),
               "Wh": oracle.Param("weight_hh", transpose=True, blocks=gates),
               "b": oracle.Param("bias_ih", blocks=gates)}
    params = {"Wx": (D, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,)}
    states = {"prev_h": (N, H), "prev_c": (N, H)}
    oracle.check_rnn_step(L.lstm_step_forward_cs231n, L.lstm_step_backward_cs231n, (N, D),
                          params, states=states, seed=seed, against=torch.nn.LSTMCell(D, H),
                          mapping=mapping).assert_ok()
    unmapped = oracle.check_rnn_step(L.lstm_step_forward_cs231n, L.lstm_step_backward_cs231n,
                                     (N, D), params, states=states, seed=seed,
                                     against=torch.nn.LSTMCell(D, H),
                                     mapping={**TRANSPOSED, "b": "bias_ih"})
    assert not unmapped.row("next_h").ok


def test_blocks_reorder_and_restore_a_layout():
    import numpy as np
    p = oracle.Param("w", blocks=(0, 1, 3, 2))
    a = np.arange(8.0).reshape(8, 1)
    assert p.forward(a).ravel().tolist() == [0, 1, 2, 3, 6, 7, 4, 5]
    assert np.array_equal(p.backward(p.forward(a)), a)
