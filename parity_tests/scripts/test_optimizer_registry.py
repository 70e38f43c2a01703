"""The scripts' optimizer registry (scripts/lib/optimizers.py) against torch's signatures:
every hyperparameter default is torch's, but for the scripts' documented choice of SGD
momentum 0.9; the five later optimizers also take torch's default learning rate."""
from __future__ import annotations

import inspect

import pytest

from scripts.lib.optimizers import HYPERPARAMETERS, OPTIMIZERS

SCRIPTS_OWN = {("sgd", "momentum"): 0.9}     # the scripts' choice; torch's is 0
TORCH_LR = ("nadam", "radam", "adamax", "rprop", "asgd")


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_default_is_torchs(name):
    choice = OPTIMIZERS[name]
    params = inspect.signature(choice.torch).parameters
    for key, value in choice.defaults.items():
        assert key in HYPERPARAMETERS, key
        expected = SCRIPTS_OWN.get((name, key), params[key].default)
        assert value == (tuple(expected) if isinstance(expected, tuple) else expected), key


@pytest.mark.parametrize("name", TORCH_LR)
def test_the_later_optimizers_take_torchs_learning_rate(name):
    assert OPTIMIZERS[name].lr == inspect.signature(OPTIMIZERS[name].torch).parameters[
        "lr"].default
