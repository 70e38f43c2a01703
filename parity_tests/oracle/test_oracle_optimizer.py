"""reference.oracle.check_optimizer: hand-written update rules against torch.optim, step by step.

A CS231n-style Adam function and object-form AdamW and SGD with momentum:
each correct version matches torch's parameters and state over several
steps and seeds; each planted slip fails and is named (bias correction
missing, eps inside the square root, the step counted globally, weight
decay coupled, weight decay after momentum), and a rule writing into the
gradient it was given gets the in-place verdict.
"""
from __future__ import annotations

import pytest
import torch

from reference import oracle
from scripts import oracle_learners as L

SEEDS = range(3)
PARAMS = {"w": (3, 4), "b": (4,)}


def adam(rule, seed):
    return oracle.check_optimizer(rule, PARAMS, config={"learning_rate": 1e-2}, seed=seed,
                                  against=lambda p: torch.optim.Adam(p, lr=1e-2))


def adamw(**slips):
    return lambda seed: oracle.check_optimizer(
        L.AdamW(**slips), PARAMS, seed=seed,
        against=lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=1e-2))


def sgd(seed, **slips):
    return oracle.check_optimizer(
        L.make_sgd_momentum(**slips), PARAMS, seed=seed,
        against=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.05))


def named(report, phrase):
    return all(any(phrase in d for d in r.diagnoses) for r in report.failures
               if "." not in r.tensor) and report.failures


@pytest.mark.parametrize("seed", SEEDS)
def test_correct_rules_match_torch_parameters_and_state(seed):
    report = adam(L.make_adam(), seed)
    report.assert_ok()
    assert [r.tensor for r in report.rows] == ["w", "w.m", "w.v", "w.t", "b", "b.m", "b.v",
                                               "b.t"]
    adamw()(seed).assert_ok()
    report = sgd(seed)
    report.assert_ok()
    assert "w.momentum_buffer" in [r.tensor for r in report.rows]


@pytest.mark.parametrize("seed", SEEDS)
def test_adam_without_bias_correction_is_named_from_step_one(seed):
    report = adam(L.make_adam(bias_correction=False), seed)
    assert {r.tensor for r in report.failures} == {"w", "b"}, str(report)
    assert named(report, "bias correction is missing"), str(report)
    assert report.info["first_wrong_step"] == 1


@pytest.mark.parametrize("seed", SEEDS)
def test_adam_with_eps_inside_the_square_root_is_named(seed):
    report = oracle.check_optimizer(L.make_adam(eps_inside=True), PARAMS, seed=seed,
                                    config={"learning_rate": 1e-2, "epsilon": 0.1},
                                    against=lambda p: torch.optim.Adam(p, lr=1e-2, eps=0.1))
    assert named(report, "eps is inside the square root"), str(report)


@pytest.mark.parametrize("seed", SEEDS)
def test_adamw_counting_the_step_globally_is_named(seed):
    report = adamw(global_step=True)(seed)
    assert named(report, "counted once per parameter update"), str(report)


@pytest.mark.parametrize("seed", SEEDS)
def test_adamw_with_coupled_weight_decay_is_named(seed):
    report = adamw(coupled=True)(seed)
    assert named(report, "weight decay is coupled"), str(report)


@pytest.mark.parametrize("seed", SEEDS)
def test_sgd_with_weight_decay_after_momentum_is_named(seed):
    report = sgd(seed, decay_after=True)
    assert named(report, "applied after momentum"), str(report)
    assert "w.momentum_buffer" in [r.tensor for r in report.failures]


@pytest.mark.parametrize("seed", SEEDS)
def test_sgd_adding_decay_into_the_given_gradient_is_an_in_place_finding(seed):
    report = sgd(seed, decay_in_place=True)
    assert all(r.ok for r in report.rows), str(report)
    assert [f.tensor for f in report.in_place] == ["dw", "db"], str(report)
    assert "the gradient of 'w' was modified in place by SGDMomentum.step" in str(report)


def test_no_diagnosis_where_the_slip_is_not_established():
    # Adam without weight decay: the decay slips cannot be told apart, so none is named
    report = adam(L.make_adam(bias_correction=False), 0)
    assert not any("decay" in d for r in report.rows for d in r.diagnoses)
    # an unrelated mistake (a learning rate ten times too large) gets no slip's name
    report = oracle.check_optimizer(L.make_adam(), PARAMS, config={"learning_rate": 1e-1},
                                    against=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert not report.ok and all(not r.diagnoses for r in report.rows), str(report)


def test_bad_calls_say_what_was_expected():
    with pytest.raises(oracle.OracleError, match="expected a torch.optim.Optimizer"):
        oracle.check_optimizer(L.make_adam(), PARAMS, against=lambda p: p)
    with pytest.raises(oracle.OracleError, match=r"expected \(next_w, config\)"):
        oracle.check_optimizer(lambda w, dw, c: w, PARAMS,
                               against=lambda p: torch.optim.SGD(p, lr=0.1))
