"""A learner's own LayerNorm, spatial GroupNorm and Conv1d, with CS231n's parameter names
(``gamma``/``beta``, ``w``/``b``) and layouts, checked against the torch layer alone
(no ``mapping=``): the right one passes, one with a backward slip is WRONG in the slipped
tensor and only there."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from reference import oracle

EPS = 1e-5


def _normalise(x, axis):
    mu, var = x.mean(axis, keepdims=True), x.var(axis, keepdims=True)
    std = np.sqrt(var + EPS)
    return (x - mu) / std, std


def _dx(dxh, xh, std, axis, slip):
    """The normalisation's input gradient; ``slip`` drops the variance term."""
    term = 0 if slip else xh * (dxh * xh).mean(axis, keepdims=True)
    return (dxh - dxh.mean(axis, keepdims=True) - term) / std


class LayerNorm:
    """CS231n's layer norm: params dict with gamma, beta (D,)."""

    def __init__(self, d, slip=False):
        self.params, self.grads, self.slip = {"gamma": np.ones(d), "beta": np.zeros(d)}, {}, slip

    def forward(self, x):
        self.xh, self.std = _normalise(x, -1)
        return self.params["gamma"] * self.xh + self.params["beta"]

    def backward(self, dout):
        d = self.xh.shape[-1]
        self.grads["gamma"] = (dout * self.xh).reshape(-1, d).sum(0)
        self.grads["beta"] = dout.reshape(-1, d).sum(0)
        return _dx(dout * self.params["gamma"], self.xh, self.std, -1, self.slip)


class SpatialGroupNorm:
    """CS231n's spatial group norm: gamma, beta of shape (1, C, 1, 1) (torch's are (C,))."""

    def __init__(self, c, groups, slip=False):
        self.params = {"gamma": np.ones((1, c, 1, 1)), "beta": np.zeros((1, c, 1, 1))}
        self.grads, self.groups, self.slip = {}, groups, slip

    def forward(self, x):
        n = x.shape[0]
        xh, self.std = _normalise(x.reshape(n, self.groups, -1), 2)
        self.xh = xh.reshape(x.shape)
        return self.params["gamma"] * self.xh + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xh).sum((0, 2, 3), keepdims=True)
        self.grads["beta"] = dout.sum((0, 2, 3), keepdims=True)
        n = dout.shape[0]
        dxh = (dout * self.params["gamma"]).reshape(n, self.groups, -1)
        return _dx(dxh, self.xh.reshape(n, self.groups, -1), self.std, 2,
                   self.slip).reshape(dout.shape)


class Conv1d:
    """A loop-over-taps 1-D convolution, stride 1, no padding: w (F, C, K), b (F,)."""

    def __init__(self, c, f, k, slip=False):
        self.params = {"w": np.zeros((f, c, k)), "b": np.zeros(f)}
        self.grads, self.slip = {}, slip

    def forward(self, x):
        self.x = x
        w, b = self.params["w"], self.params["b"]
        length = x.shape[2] - w.shape[2] + 1
        return sum(np.einsum("fc,ncl->nfl", w[:, :, k], x[:, :, k:k + length])
                   for k in range(w.shape[2])) + b[None, :, None]

    def backward(self, dout):
        w, x = self.params["w"], self.x
        kernel = w[:, :, ::-1] if self.slip else w       # slip: the kernel flipped
        length = dout.shape[2]
        dx = np.zeros_like(x)
        self.grads["w"] = np.zeros_like(w)
        for k in range(w.shape[2]):
            dx[:, :, k:k + length] += np.einsum("fc,nfl->ncl", kernel[:, :, k], dout)
            self.grads["w"][:, :, k] = np.einsum("nfl,ncl->fc", dout, x[:, :, k:k + length])
        self.grads["b"] = dout.sum((0, 2))
        return dx


CASES = {
    "layer_norm": (lambda slip: LayerNorm(5, slip), (3, 4, 5), torch.nn.LayerNorm(5), "dx"),
    "group_norm": (lambda slip: SpatialGroupNorm(6, 3, slip), (2, 6, 3, 3),
                   torch.nn.GroupNorm(3, 6), "dx"),
    "conv1d": (lambda slip: Conv1d(2, 3, 3, slip), (2, 2, 7), torch.nn.Conv1d(2, 3, 3), "dx"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_right_learner_layer_passes_against_the_torch_layer_alone(case):
    make, x, layer, _ = CASES[case]
    oracle.check_module(make(False), x, against=layer).assert_ok()


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_slipped_learner_layer_is_wrong_in_that_tensor_only(case):
    make, x, layer, slipped = CASES[case]
    report = oracle.check_module(make(True), x, against=layer)
    assert not report.ok
    assert [r.tensor for r in report.failures] == [slipped], report


def test_the_customary_gradient_names_keep_the_learners_names_and_shapes():
    report = oracle.check_module(SpatialGroupNorm(4, 2), (2, 4, 2, 2),
                                 against=torch.nn.GroupNorm(2, 4))
    assert report.row("dgamma").verdict == "ok" and report.row("dbeta").verdict == "ok"


def test_a_name_given_in_mapping_is_not_overridden():
    """gamma sent to bias and beta to weight: torch's weight then scales by beta, so the
    output is wrong; the customary names do not quietly put them back."""
    layer = LayerNorm(5)
    layer.params["gamma"], layer.params["beta"] = np.full(5, 2.0), np.full(5, 0.5)
    report = oracle.check_module(layer, (3, 5), against=torch.nn.LayerNorm(5), randomize=False,
                                 mapping={"gamma": "bias", "beta": "weight"})
    assert report.row("out").verdict == "WRONG"
