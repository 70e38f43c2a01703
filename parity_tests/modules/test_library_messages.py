"""Messages of the library that say what happened, as torch's do: a state_dict that is not
a mapping, a second backward after one forward, a negative seed for ``model.build``."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from scratch import arch, model, nn


@pytest.mark.parametrize("state", [[1, 2, 3], "weight", 3.0, None])
def test_load_state_dict_of_a_non_mapping_is_torchs_type_error(state):
    with pytest.raises(TypeError) as ours:
        nn.Linear(2, 2).load_state_dict(state)
    with pytest.raises(TypeError) as theirs:
        torch.nn.Linear(2, 2).load_state_dict(state)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("make, x", [
    (lambda: nn.Linear(3, 2), np.ones((4, 3), np.float32)),
    (lambda: nn.Sequential(nn.Linear(3, 2), nn.ReLU()), np.ones((4, 3), np.float32)),
    (lambda: nn.RNN(3, 2), np.ones((5, 4, 3), np.float32)),
])
def test_a_second_backward_after_one_forward_says_so(make, x):
    module = make()
    out = module(x)
    out = out[0] if isinstance(out, tuple) else out
    dout = np.ones_like(out)
    module.backward(dout)
    with pytest.raises(RuntimeError, match="backward called a second time after one forward"):
        module.backward(dout)
    module(x)                                   # a new forward allows a new backward
    module.backward(dout)


def test_a_loss_backward_twice_says_so_and_before_forward_says_that():
    loss = nn.CrossEntropyLoss()
    with pytest.raises(RuntimeError, match="backward called before forward"):
        loss.backward()
    loss(np.zeros((3, 4), np.float32), np.array([0, 1, 2]))
    loss.backward()
    with pytest.raises(RuntimeError, match="called a second time after one forward"):
        loss.backward()


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_build_refuses_a_seed_that_is_not_a_whole_number_from_zero(seed):
    with pytest.raises(ValueError, match=r"build: seed must be a whole number >= 0 or a "
                                         r"numpy.random.Generator, got " + repr(seed)):
        model.build(arch.mnist_cnn(), seed=seed)


def test_build_takes_zero_and_a_generator():
    a = model.build(arch.mnist_cnn(), seed=0)
    b = model.build(arch.mnist_cnn(), seed=np.random.default_rng(0))
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x, y, err_msg=name)
