"""scratch.nn's container: Sequential names parameters like torch and runs backward in reverse.

The layers' own parity tests follow torch's package split: test_conv, test_linear,
test_pooling, test_batchnorm, test_activation, test_loss, test_dropout, test_rnn.
"""
from __future__ import annotations

import numpy as np

from scratch import nn


def test_sequential_names_parameters_like_torch_and_skips_input_grad_on_request():
    model = nn.Sequential({"fc": nn.Linear(3, 2, dtype=np.float64), "act": nn.Tanh()})
    assert [n for n, _ in model.named_parameters()] == ["fc.weight", "fc.bias"]
    out = model.forward(np.ones((2, 3)))
    assert model.backward(np.ones_like(out), input_grad=False) is None
    assert model.layers["fc"]._params["weight"].grad.shape == (2, 3)
