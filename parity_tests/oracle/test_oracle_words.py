"""reference.oracle: drawn inputs well spread, diagnoses only where the cause is established,
and no hypothesis exception ever reaching the user.

- a drawn (N, T, D) input is never degenerate: its rows differ and no two
  feature columns are equal everywhere (a swapped pair of features would
  pass unseen otherwise);
- a factor equal to N is called a missing division by the batch size only
  when the output is averaged over the batch (established by giving every
  example twice), never for a layer that does not divide by N;
- a kernel gradient is called "flipped" only when it equals the flipped
  one and not the spatially transposed one; a spatially transposed one is
  named as such;
- an engine whose answers change between runs ends in the oracle's own
  NondeterministicError, never in hypothesis's Flaky or FlakyFailure.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis.errors import HypothesisException

from reference import oracle
from reference.oracle import inputs
from scripts.oracle_examples import make_value

SEEDS = range(10)


# ------------------------------------------------------------------ drawn inputs
@pytest.mark.parametrize("shape", [(2, 3, 2), (2, 5, 3), (1, 4, 4), (3, 2, 5)])
def test_drawn_sequences_are_never_degenerate(shape):
    for seed in SEEDS:
        x = inputs.tied_values(np.random.default_rng(seed), shape)
        rows = x.reshape(-1, shape[2])
        assert len({tuple(r) for r in rows}) > 1, x
        columns = rows.T
        for i in range(len(columns)):
            for j in range(i + 1, len(columns)):
                assert not np.array_equal(columns[i], columns[j]), (seed, x)


def swapped_features_forward(x, W):
    """A sequence projection reading features 0 and 1 the wrong way round."""
    return x[..., [1, 0, *range(2, x.shape[-1])]] @ W, x


@pytest.mark.parametrize("seed", SEEDS)
def test_swapped_features_in_a_sequence_fail_on_every_seed(seed):
    def backward(dout, x):
        return np.zeros_like(x), np.zeros((x.shape[-1], dout.shape[-1]))
    report = oracle.check_pair(swapped_features_forward, backward, (2, 3, 3), {"W": (3, 2)},
                               seed=seed, against=lambda x, W: x @ W)
    assert not report.row("out").ok, str(report)


# ------------------------------------------------------------------ a factor of N
def softmax_loss_grads(scale=1.0):
    """The gradient of the summed cross-entropy, times ``scale`` (1/N for the mean)."""
    def grads(x, y):
        p = np.exp(x - x.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        return (p * scale,)
    return grads


@pytest.mark.parametrize("seed", range(4))
def test_a_missing_mean_is_named_only_for_a_batch_averaged_loss(seed):
    inputs_ = dict(x=(4, 3), y=np.array([0, 2, 1, 1]))
    # the mean loss, and the summed gradient: a missing division by N
    mean = oracle.check_gradients(softmax_loss_grads(), inputs_, returns=("x",), seed=seed,
                                  against=lambda x, y: TF.cross_entropy(x, y))
    assert any("division by the batch size N is missing" in d
               for d in mean.row("dx").diagnoses), str(mean)
    # the summed loss, and a gradient N times too large: the same factor, but the loss
    # divides by nothing, so it is a plain factor of 4
    summed = oracle.check_gradients(softmax_loss_grads(4.0), inputs_, returns=("x",),
                                    seed=seed, against=lambda x, y: TF.cross_entropy(
                                        x, y, reduction="sum"))
    diagnoses = summed.row("dx").diagnoses
    assert any("exactly 4 times" in d for d in diagnoses), str(summed)
    assert not any("batch size" in d for d in diagnoses), str(summed)


def test_a_factor_of_n_in_a_layer_is_a_plain_factor():
    def fc_forward(x, w):
        return x @ w, x

    def fc_backward_times_n(dout, x):
        return dout @ W.T, x.T @ dout * len(x)
    report = oracle.check_pair(fc_forward, fc_backward_times_n, (4, 3), {"w": W},
                               against=lambda x, w: x @ w)
    row = report.row("dw")
    assert any("exactly 4 times" in d for d in row.diagnoses), str(report)
    assert not any("batch size" in d for d in row.diagnoses), str(report)


W = np.random.default_rng(0).uniform(-1, 1, (3, 2))


# ------------------------------------------------------------------ flipped or transposed
def conv_forward(x, w, b):
    out = TF.conv2d(torch.as_tensor(x), torch.as_tensor(w), torch.as_tensor(b), padding=1)
    return out.numpy(), (x, w)


def make_conv_backward(slip):
    def conv_backward(dout, cache):
        x, w = cache
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        TF.conv2d(tx, tw, padding=1).backward(torch.as_tensor(dout))
        dw = tw.grad.numpy()
        dw = {"flip": dw[..., ::-1, ::-1], "transpose": dw.swapaxes(-1, -2)}.get(slip, dw)
        return tx.grad.numpy(), np.ascontiguousarray(dw), dout.sum(axis=(0, 2, 3))
    return conv_backward


def check_conv(slip, seed):
    return oracle.check_pair(conv_forward, make_conv_backward(slip), (2, 2, 4, 4),
                             {"w": (3, 2, 3, 3), "b": (3,)}, seed=seed,
                             against=lambda x, w, b: TF.conv2d(x, w, b, padding=1))


@pytest.mark.parametrize("seed", range(4))
def test_a_spatially_transposed_kernel_gradient_is_never_called_flipped(seed):
    check_conv(None, seed).assert_ok()
    transposed = check_conv("transpose", seed).row("dw")
    assert not any("flipped" in d for d in transposed.diagnoses), transposed.diagnoses
    assert any("spatial axes swapped" in d for d in transposed.diagnoses), transposed.diagnoses
    flipped = check_conv("flip", seed).row("dw")
    assert any("flipped in both spatial axes" in d for d in flipped.diagnoses)
    assert not any("swapped" in d for d in flipped.diagnoses), flipped.diagnoses


# ------------------------------------------------------------------ hypothesis stays inside
def make_unstable_value():
    """A Value engine whose backward visits nodes in an order taken from a set of ids:
    right for some runs, wrong for others (the order changes with memory addresses)."""
    Value = make_value()
    calls = {"n": 0}

    def backward(self):
        order, seen = [], set()

        def visit(v):
            if id(v) not in seen:
                seen.add(id(v))
                for child in v._prev:
                    visit(child)
                order.append(v)
        visit(self)
        calls["n"] += 1
        if calls["n"] % 3 == 0:                  # now and then, a shuffled order
            order = order[::2] + order[1::2]
        self.grad = 1.0
        for v in reversed(order):
            v._backward()
    Value.backward = backward
    return Value


def test_an_unstable_engine_ends_in_the_oracles_words_not_hypothesis():
    def expr(a, b):
        c = a * b + a
        return (c * c).tanh() + b
    with pytest.raises(oracle.NondeterministicError) as raised:
        oracle.check_scalar_graph(make_unstable_value(), expr, ("a", "b"), examples=40)
    assert not isinstance(raised.value, HypothesisException)
    assert "make it deterministic first" in str(raised.value)
