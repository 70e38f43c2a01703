"""reference.oracle: in-place and aliasing mistakes are a verdict of their own.

Learner-style code that writes into x, dout or a parameter, or returns a
gradient sharing memory with dout or with another gradient, is reported
with the tensor, the function that did it and the first changed index,
over several seeds; the same code written without the slip passes. The
finding stands even where every gradient row is right.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from reference import oracle
from scratch import nn
from scripts import oracle_learners as L

SEEDS = range(5)
AFFINE = {"w": (3, 2), "b": (2,)}


def affine(backward, seed, forward=L.affine_forward):
    return oracle.check_pair(forward, backward, (4, 3), AFFINE, seed=seed,
                             against=lambda x, w, b: x @ w + b)


def findings(report):
    return [(f.tensor, f.kind, f.by) for f in report.in_place]


@pytest.mark.parametrize("seed", SEEDS)
def test_correct_relu_and_affine_pairs_have_no_in_place_finding(seed):
    oracle.check_pair(L.relu_forward, L.relu_backward, (3, 4), seed=seed,
                      against=TF.relu).assert_ok()
    affine(L.affine_backward, seed).assert_ok()


@pytest.mark.parametrize("seed", SEEDS)
def test_relu_backward_masking_dout_in_place_is_named(seed):
    report = oracle.check_pair(L.relu_forward, L.relu_backward_in_place, (3, 4), seed=seed,
                               against=TF.relu)
    assert all(r.ok for r in report.rows), str(report)    # every gradient right ...
    assert not report.ok                                    # ... and still not ok
    assert ("dout", "modified", "relu_backward_in_place") in findings(report)
    assert ("dx", "shares memory", "relu_backward_in_place") in findings(report)
    text = str(report)
    assert "dout was modified in place by relu_backward_in_place" in text
    assert "MODIFIED IN PLACE: dout (by relu_backward_in_place)" in report.verdict
    assert "SHARES MEMORY: dx" in report.verdict
    with pytest.raises(AssertionError, match="in place"):
        report.assert_ok()


@pytest.mark.parametrize("seed", SEEDS)
def test_forward_clipping_x_in_place_is_named_with_the_first_changed_index(seed):
    report = oracle.check_pair(L.relu_forward_in_place, L.relu_backward, (3, 4), seed=seed,
                               against=TF.relu)
    assert findings(report)[0] == ("x", "modified", "relu_forward_in_place"), str(report)
    message = report.in_place[0].message
    x = report.inputs["x"]
    first = tuple(int(i) for i in np.argwhere(x < 0)[0])
    assert f"first x[{', '.join(map(str, first))}] was {x[first]:.6g}, now 0" in message


@pytest.mark.parametrize("seed", SEEDS)
def test_gradients_sharing_memory_with_dout_and_each_other_are_named(seed):
    def check(backward):
        return oracle.check_pair(L.add_positions_forward, backward, (3, 4), {"P": (3, 4)},
                                 seed=seed, against=lambda x, P: x + P)
    check(L.add_positions_backward).assert_ok()
    report = check(L.add_positions_backward_shared)
    assert all(r.ok for r in report.rows), str(report)
    by = "add_positions_backward_shared"
    assert sorted(findings(report)) == [("dP", "shares memory", by),
                                        ("dx", "shares memory", by),
                                        ("dx", "shares memory", by)], str(report)
    assert report.verdict.count("dx (by") == 1
    assert "dx returned by add_positions_backward_shared shares memory with the dP it also " \
           "returned" in str(report)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_parameter_modified_by_backward_is_named(seed):
    report = affine(L.affine_backward_decays_w, seed)
    assert ("w", "modified", "affine_backward_decays_w") in findings(report), str(report)
    assert "parameter 'w' was modified in place" in str(report)


def test_a_module_writing_into_its_parameters_is_named():
    class DecayingLinear(nn.Linear):
        def backward(self, dout):
            dx = super().backward(dout)
            self.weight.data *= 0.99      # weight decay inside backward
            return dx
    report = oracle.check_module(DecayingLinear(3, 2), (4, 3), against=torch.nn.Linear(3, 2))
    assert [f.tensor for f in report.in_place] == ["weight"], str(report)
    oracle.check_module(nn.Linear(3, 2), (4, 3), against=torch.nn.Linear(3, 2)).assert_ok()


def test_a_pass_through_layer_may_return_dout_with_allow_views():
    report = oracle.check_module(nn.Identity(), (2, 3), against=torch.nn.Identity())
    assert [f.kind for f in report.in_place] == ["shares memory"]
    oracle.check_module(nn.Identity(), (2, 3), against=torch.nn.Identity(),
                        allow_views=True).assert_ok()


def test_finite_differences_and_gradient_functions_watch_their_inputs_too():
    report = affine(L.affine_backward_decays_w, 0, )
    fd = oracle.check_pair(L.affine_forward, L.affine_backward_decays_w, (4, 3), AFFINE,
                           against=oracle.finite_differences())
    assert [f.tensor for f in fd.in_place] == [f.tensor for f in report.in_place] == ["w"]

    def grads_normalising_x(x, y):
        x -= x.mean()                         # centres the caller's x
        return (2 * (x - y),)
    g = oracle.check_gradients(grads_normalising_x, dict(x=(3,), y=(3,)), returns=("x",),
                               against=lambda x, y: ((x - y) ** 2).sum())
    assert ("x", "modified", "grads_normalising_x") in findings(g), str(g)


def test_recurrences_watch_states_and_upstream_gradients():
    from scripts.oracle_examples import rnn_step_backward, rnn_step_forward

    def step_backward_in_place(dnext_h, cache):
        x, prev_h, Wx, Wh, next_h = cache
        dnext_h *= 1 - next_h ** 2            # dz computed into the caller's dnext_h
        return dnext_h @ Wx.T, dnext_h @ Wh.T, x.T @ dnext_h, prev_h.T @ dnext_h, \
            dnext_h.sum(axis=0)
    params = {"Wx": (3, 4), "Wh": (4, 4), "b": (4,)}
    oracle.check_rnn_step(rnn_step_forward, rnn_step_backward, (2, 3), params).assert_ok()
    report = oracle.check_rnn_step(rnn_step_forward, step_backward_in_place, (2, 3), params)
    assert all(r.ok for r in report.rows)
    assert findings(report) == [("dnext_h", "modified", "step_backward_in_place")], str(report)


@pytest.mark.parametrize("seed", SEEDS)
def test_no_diagnosis_when_the_forward_changed_x_under_the_backward(seed):
    def relu_backward_ge(dout, x):
        return np.where(x >= 0, dout, 0.0)
    report = oracle.check_pair(L.relu_forward_in_place, relu_backward_ge, (3, 4), seed=seed,
                               against=TF.relu)
    assert not report.row("dx").ok, str(report)     # the clipped x lets every gradient through
    assert report.row("dx").diagnoses == [], str(report)
    assert "no diagnosis: your forward modified x in place" in str(report)
