"""reference.oracle on scalar engines, recurrences, lecture batch norm and losses with no
torch twin: the hand-written code (scripts/oracle_examples.py) is what learners write,
each planted bug fails with the right tensor named and its diagnosis."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from reference import oracle
from scripts.oracle_examples import (
    batchnorm_forward,
    make_batchnorm_backward,
    make_rnn_backward,
    make_value,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    torch_batchnorm_unbiased,
)

EXAMPLES = 30
RNN_PARAMS = {"Wx": (3, 4), "Wh": (4, 4), "b": (4,)}
OVERWRITE = "assigned with `=` instead of accumulated with `+=`"


def has(row, phrase):
    return any(phrase in d for d in row.diagnoses)


def neuron(a, b, c):
    """A node used twice (d) and leaves used twice (a, b): micrograd's neuron, squashed."""
    d = a * b + c
    return (d * d + a).tanh() * b


def square_plus(a, b):
    return a * a + b


# --------------------------------------------------------------------------- scalar engines
def test_a_correct_scalar_engine_passes_on_every_draw():
    report = oracle.check_scalar_graph(make_value(), neuron, ("a", "b", "c"), examples=EXAMPLES)
    report.assert_ok()
    assert "all passed" in str(report) and "used more than once" in str(report)


def test_assignment_instead_of_accumulation_is_named_on_a_leaf_used_twice():
    report = oracle.check_scalar_graph(make_value(accumulate=False), square_plus, ("a", "b"),
                                       examples=EXAMPLES)
    assert [r.tensor for r in report.failures] == ["da"], str(report)
    row = report.row("da")
    assert has(row, OVERWRITE) and has(row, "leaf a (used 2 times)"), str(report)
    assert has(row, "exactly 1/2 times"), str(report)


@pytest.mark.parametrize("seed", range(8))
def test_assignment_instead_of_accumulation_is_named_through_an_inner_node(seed):
    """Some seeds shrink to b = 0, where the wrong db is 0 and no pattern shows at that point:
    the diagnosis must then come from another point, and say which."""
    report = oracle.check_scalar_graph(make_value(accumulate=False), neuron, ("a", "b", "c"),
                                       examples=EXAMPLES, seed=seed)
    assert not report.ok
    assert all(has(r, OVERWRITE) for r in report.failures), str(report)


def test_a_wrong_tanh_derivative_hides_at_a_bad_point_and_is_found_by_drawing():
    wrong = make_value(tanh_derivative="1 - t")
    at_zero = oracle.check_scalar_graph(wrong, lambda a, b: (a * b).tanh() + a,
                                        {"a": 0.0, "b": 1.5})
    at_zero.assert_ok()                    # the inner node a * b is 0: 1 - t is right there
    report = oracle.check_scalar_graph(wrong, lambda a, b: (a * b).tanh() + a, ("a", "b"),
                                       examples=EXAMPLES)
    assert {r.tensor for r in report.failures} == {"da", "db"}, str(report)
    assert "smallest failing leaf values" in str(report)


def test_a_sign_flip_in_the_engine_is_diagnosed_on_one_element():
    report = oracle.check_scalar_graph(make_value(seed_grad=-1.0), neuron, ("a", "b", "c"),
                                       examples=EXAMPLES)
    assert report.row("out").ok and report.failures, str(report)
    assert all(has(r, "sign flipped") for r in report.failures), str(report)


def test_scalar_engine_call_errors_are_plain():
    with pytest.raises(oracle.OracleError, match="expected one of your Value nodes"):
        oracle.check_scalar_graph(make_value(), lambda a: 3.0, {"a": 1.0})


# --------------------------------------------------------------------------- recurrences
def test_a_correct_rnn_passes_against_torch_and_torch_nn_rnn():
    oracle.check_rnn(rnn_forward, make_rnn_backward(), (2, 5, 3), RNN_PARAMS,
                     states={"h0": (2, 4)}).assert_ok()
    report = oracle.check_rnn(rnn_forward, make_rnn_backward(), (2, 4, 3), RNN_PARAMS,
                              states={"h0": (2, 4)}, against=torch.nn.RNN(3, 4, batch_first=True))
    report.assert_ok()
    assert "per time step" in str(report)


@pytest.mark.parametrize("steps", [2, 5])
def test_forgetting_to_carry_dh_is_wrong_from_the_second_to_last_step_back(steps):
    report = oracle.check_rnn(rnn_forward, make_rnn_backward(carry=False), (2, steps, 3),
                              RNN_PARAMS, states={"h0": (2, 4)})
    assert report.row("h").ok and not report.row("dx").ok
    assert report.info["first_wrong_h"] is None
    assert report.info["last_wrong_dx"] == steps - 2, str(report)
    for tensor in ("dx", "dh0", "dWx", "dWh", "db"):
        assert has(report.row(tensor), "dh not carried"), str(report)


def test_rnn_step_passes_and_a_missing_tanh_derivative_is_named():
    oracle.check_rnn_step(rnn_step_forward, rnn_step_backward, (2, 3), RNN_PARAMS,
                          states={"prev_h": (2, 4)}).assert_ok()

    def step_backward_no_tanh(dnext_h, cache):
        x, prev_h, Wx, Wh, next_h = cache
        return (dnext_h @ Wx.T, dnext_h @ Wh.T, x.T @ dnext_h, prev_h.T @ dnext_h,
                dnext_h.sum(axis=0))
    report = oracle.check_rnn_step(rnn_step_forward, step_backward_no_tanh, (2, 3), RNN_PARAMS,
                                   states={"prev_h": (2, 4)})
    assert [r.tensor for r in report.failures] == ["dx", "dprev_h", "dWx", "dWh", "db"]


# --------------------------------------------------------------------------- batch norm
BN = {"gamma": (3,), "beta": (3,)}


def test_lecture_batch_norm_passes_against_the_unbiased_torch_expression():
    oracle.check_pair(batchnorm_forward, make_batchnorm_backward(), (4, 3), BN,
                      against=torch_batchnorm_unbiased).assert_ok()


def test_batch_norm_backward_with_n_instead_of_n_minus_1_is_named():
    report = oracle.check_pair(batchnorm_forward, make_batchnorm_backward(bessel=False), (4, 3), BN,
                               against=torch_batchnorm_unbiased)
    assert [r.tensor for r in report.failures] == ["dx"], str(report)
    assert has(report.row("dx"), "variance term of a batch-norm backward"), str(report)


def test_the_variance_term_diagnosis_stays_silent_on_other_dx_bugs():
    def backward_without_mean_term(dout, cache):
        xhat, invstd, gamma = cache
        n = dout.shape[0]
        dx = gamma * invstd / n * (n * dout - n / (n - 1) * xhat * (dout * xhat).sum(axis=0))
        return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)
    report = oracle.check_pair(batchnorm_forward, backward_without_mean_term, (4, 3), BN,
                               against=torch_batchnorm_unbiased)
    assert [r.tensor for r in report.failures] == ["dx"], str(report)
    assert not has(report.row("dx"), "variance term"), str(report)


def test_lecture_batch_norm_against_f_batch_norm_gets_the_variance_hint():
    report = oracle.check_pair(batchnorm_forward, make_batchnorm_backward(), (4, 3), BN,
                               against=lambda x, gamma, beta: TF.batch_norm(
                                   x, None, None, gamma, beta, training=True))
    assert has(report.row("out"), "unbiased variance"), str(report)


# --------------------------------------------------------------------------- no torch twin
def l1_smooth(x, t):
    """A loss with no torch twin used here: sum of sqrt(1 + (x - t)^2)."""
    return float(np.sqrt(1 + (x - t) ** 2).sum())


def test_finite_differences_check_a_gradient_function_without_a_torch_loss():
    def l1_smooth_grad(x, t):
        d = x - t
        return d / np.sqrt(1 + d ** 2)
    inputs = dict(x=(3, 4), t=np.zeros((3, 4)))
    report = oracle.check_gradients(l1_smooth_grad, inputs,
                                    against=oracle.finite_differences(l1_smooth), returns=("x",))
    report.assert_ok()
    assert "central finite differences of l1_smooth" in report.title

    def l1_smooth_grad_doubled(x, t):
        return 2 * l1_smooth_grad(x, t)
    wrong = oracle.check_gradients(l1_smooth_grad_doubled, inputs,
                                   against=oracle.finite_differences(l1_smooth), returns=("x",))
    assert has(wrong.row("dx"), "exactly 2 times"), str(wrong)


def test_check_gradients_draws_inputs_given_as_shapes():
    report = oracle.check_gradients(lambda x: (2 * x,), dict(x=(2, 3)),
                                    against=lambda x: (x ** 2).sum(), returns=("x",))
    report.assert_ok()
    assert report.inputs["x"].shape == (2, 3)


def test_rnn_against_your_own_torch_function():
    def torch_rnn(x, h0, Wx, Wh, b):
        h, hs = h0, []
        for t in range(x.shape[1]):
            h = torch.tanh(x[:, t] @ Wx + h @ Wh + b)
            hs.append(h)
        return torch.stack(hs, dim=1)
    oracle.check_rnn(rnn_forward, make_rnn_backward(), (1, 3, 2),
                     {"Wx": (2, 3), "Wh": (3, 3), "b": (3,)}, states={"h0": (1, 3)},
                     against=torch_rnn).assert_ok()
    report = oracle.check_rnn(rnn_forward, make_rnn_backward(carry=False), (1, 3, 2),
                              {"Wx": (2, 3), "Wh": (3, 3), "b": (3,)}, states={"h0": (1, 3)},
                              against=torch_rnn)
    assert report.info["last_wrong_dx"] == 1 and "torch_rnn" in report.title, str(report)
