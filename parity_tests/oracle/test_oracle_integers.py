"""reference.oracle: integer and boolean inputs pass through untouched, without a gradient.

Token ids into an embedding table and a boolean mask reach your code and
torch's as they are (never cast to float); gradients are compared for the
floating parameters only. A scatter-add written with ``+=`` on fancy indices
(one contribution kept per repeated id) fails in ``dW`` alone, over several
seeds; the ``np.add.at`` version passes.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch.nn.functional as TF

from reference import oracle
from scripts import oracle_learners as L

SEEDS = range(5)


def token_ids(seed, shape=(3, 4), vocab=5):
    ids = np.random.default_rng(seed).integers(0, vocab, shape)
    ids[0, :2] = ids[1, 0]          # a repeated id, where `+=` on fancy indices loses one
    return ids


def check_embedding(backward, ids, seed=0):
    return oracle.check_pair(L.embedding_forward, backward, ids, {"W": (5, 3)}, seed=seed,
                             against=lambda idx, W: TF.embedding(idx, W))


@pytest.mark.parametrize("seed", SEEDS)
def test_embedding_on_token_ids_passes_with_no_dx_row(seed):
    seen = []

    def forward(idx, W):
        seen.append(idx.dtype)
        return L.embedding_forward(idx, W)
    ids = token_ids(seed)
    report = oracle.check_pair(forward, L.embedding_backward, ids, {"W": (5, 3)}, seed=seed,
                               against=lambda idx, W: TF.embedding(idx, W))
    report.assert_ok()
    assert [r.tensor for r in report.rows] == ["out", "dW"]
    assert set(seen) == {ids.dtype}
    assert "passed through, no gradient" in str(report)


@pytest.mark.parametrize("seed", SEEDS)
def test_embedding_losing_repeated_ids_fails_in_dW_alone(seed):
    report = check_embedding(L.embedding_backward_assign, token_ids(seed), seed)
    assert [r.tensor for r in report.failures] == ["dW"], str(report)
    assert report.row("dW").verdict == "WRONG"


def test_a_backward_returning_none_for_dx_is_accepted_for_integer_input():
    def backward(dout, cache):
        return None, L.embedding_backward(dout, cache)
    check_embedding(backward, token_ids(0)).assert_ok()


def test_a_boolean_mask_passes_through_and_its_parameter_is_checked():
    mask = np.array([[True, False, True], [False, False, True]])

    def masked_fill_forward(mask, scores):
        return np.where(mask, -1e4, scores), mask

    def masked_fill_backward(dout, mask):
        return np.where(mask, 0.0, dout)

    def masked_fill_backward_leaky(dout, mask):
        return dout.copy()        # slip: the masked entries still get gradient
    def check(backward):
        return oracle.check_pair(masked_fill_forward, backward, mask, {"scores": (2, 3)},
                                 against=lambda mask, scores: scores.masked_fill(mask, -1e4))
    check(masked_fill_backward).assert_ok()
    report = check(masked_fill_backward_leaky)
    assert [r.tensor for r in report.failures] == ["dscores"], str(report)


def test_finite_differences_skip_the_integer_input():
    report = oracle.check_pair(L.embedding_forward, L.embedding_backward, token_ids(1),
                               {"W": (5, 3)}, against=oracle.finite_differences())
    report.assert_ok()
    assert [r.tensor for r in report.rows] == ["dW"]
