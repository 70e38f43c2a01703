"""Whole models: scratch.model.build against reference.model.build from one Architecture."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, note
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import dtypes
from parity_tests.model_helpers import (
    assert_same_state,
    batch_for,
    compare_step,
    compare_train_and_eval,
    comparison_budget,
    model_reduction,
    twins,
)
from reference import convert
from reference import model as reference_model
from scratch import arch as A
from scratch import model as scratch_model
from scratch import nn, optim


def test_mnist_architecture_flattened_size_is_computed():
    shapes = A.mnist_cnn().shapes()
    assert shapes[7] == (32 * 7 * 7,)
    assert shapes[-1] == (10,)


@dtypes
def test_mnist_model_state_dict_keys_and_shapes_equal_torch(dtype):
    scratch, torch_model = twins(A.mnist_cnn(), dtype)
    state = scratch.state_dict()
    t_state = torch_model.state_dict()
    assert list(state) == list(t_state)
    assert {k: v.shape for k, v in state.items()} == {k: tuple(v.shape) for k, v in t_state.items()}


@dtypes
@given(seed=S.SEEDS)
def test_mnist_model_logits_loss_and_gradients_match_torch(seed, dtype):
    arch = A.mnist_cnn(channels=(4, 8), hidden=16)
    scratch, torch_model = twins(arch, dtype, seed)
    x, y = batch_for(arch, 3, seed, dtype)
    compare_step(scratch, torch_model, x, y, dtype, model_reduction(arch, 3))


@dtypes
@given(architecture=S.architectures(), seed=S.SEEDS, n=st.integers(2, 4))
def test_drawn_model_matches_torch_in_train_and_eval(architecture, seed, n, dtype):
    note(repr(architecture.shapes()))
    compare_train_and_eval(architecture, n, seed, dtype)


@pytest.mark.parametrize("nesterov", [False, True])
@dtypes
@given(architecture=S.architectures(), seed=S.SEEDS)
def test_sgd_steps_give_the_same_weights_as_torch_optim(architecture, seed, nesterov, dtype):
    """Whole-model training steps. Adam is left to test_optim, on identical gradients:
    it divides by sqrt(v), so a gradient element at rounding-noise level becomes a
    step of order lr with a random sign, and whole-model weights need not agree."""
    scratch, torch_model = twins(architecture, dtype, seed)
    hyper = dict(lr=0.1, momentum=0.9, weight_decay=1e-3, nesterov=nesterov)
    opt = optim.SGD(scratch.parameters(), **hyper)
    t_opt = torch.optim.SGD(torch_model.parameters(), **hyper)
    loss_fn = nn.CrossEntropyLoss()
    k = 0.0
    for step in range(3):
        x, y = batch_for(architecture, 4, seed + step, dtype)
        k += comparison_budget(architecture, torch_model, x)
        loss_fn(scratch.forward(x), y)
        scratch.backward(loss_fn.backward(np.asarray(1.0, dtype)), input_grad=False)
        opt.step()
        t_opt.zero_grad()
        torch.nn.functional.cross_entropy(torch_model(torch.from_numpy(x)),
                                          torch.from_numpy(y)).backward()
        t_opt.step()
    assert_same_state(scratch, torch_model, dtype, k)


@dtypes
def test_state_dict_round_trip_scratch_torch_scratch_is_exact(dtype):
    arch = A.Architecture((1, 6, 6), (("conv", A.Conv2d(2, 3, padding=1)),
                                      ("bn", A.BatchNorm2d()), ("act", A.PReLU()),
                                      ("flatten", A.Flatten()), ("fc", A.Linear(3))))
    scratch, torch_model = twins(arch, dtype, seed=5)
    scratch.forward(np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(dtype))
    state = scratch.state_dict()
    torch_model.load_state_dict(convert.to_torch_state(state))   # through a torch module
    back = convert.to_numpy_state(torch_model.state_dict())
    other = scratch_model.build(arch, seed=99, dtype=dtype)
    other.load_state_dict(back)
    for name, value in other.state_dict().items():
        assert value.dtype == state[name].dtype, name
        np.testing.assert_array_equal(value, state[name], err_msg=name)


def test_load_state_dict_names_missing_and_unexpected_keys_as_torch_and_copies_nothing():
    model, twin = twins(A.mnist_cnn(), np.float32)
    before = model.state_dict()
    state = {k: v + 1 for k, v in before.items()}
    state["fc3.weight"] = state.pop("fc2.weight")
    for module, arrays in ((model, state), (twin, {k: torch.from_numpy(v)
                                                   for k, v in state.items()})):
        with pytest.raises(RuntimeError, match=r"^Error\(s\) in loading state_dict for "
                           r"Sequential:\n\tMissing key\(s\) in state_dict: \"fc2.weight\"\. "
                           r"\n\tUnexpected key\(s\) in state_dict: \"fc3.weight\"\. $"):
            module.load_state_dict(arrays)
    assert all(np.array_equal(v, before[k]) for k, v in model.state_dict().items())
    result, t_result = model.load_state_dict(state, strict=False), twin.load_state_dict(
        {k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    assert tuple(result) == tuple(t_result) == (["fc2.weight"], ["fc3.weight"])
    assert np.array_equal(model.state_dict()["fc1.weight"], state["fc1.weight"])
    assert repr(model.load_state_dict(model.state_dict())) == repr(
        twin.load_state_dict(twin.state_dict())) == "<All keys matched successfully>"


@pytest.mark.parametrize("strict", [True, False])
def test_load_state_dict_names_a_wrong_shape_and_copies_nothing(strict):
    model = scratch_model.build(A.mnist_cnn(), seed=0)
    before = model.state_dict()
    state = {k: v + 1 for k, v in before.items()}
    state["fc1.bias"] = np.zeros(7, np.float32)
    with pytest.raises(RuntimeError, match=r"size mismatch for fc1.bias: copying an array of "
                                           r"shape \(7,\), the shape in this module is \(128,\)"):
        model.load_state_dict(state, strict=strict)
    assert all(np.array_equal(v, before[k]) for k, v in model.state_dict().items())
    state["fc1.bias"] = before["fc1.bias"].astype(np.complex64)      # after fc1.weight
    with pytest.raises(RuntimeError, match="dtype mismatch for fc1.bias: cannot copy complex64"):
        model.load_state_dict(state, strict=strict)
    assert all(np.array_equal(v, before[k]) for k, v in model.state_dict().items())


def test_module_zero_grad_sets_none_or_zeros_as_torch():
    model = scratch_model.build(A.mnist_cnn(channels=(2, 2), hidden=4), seed=0)
    model.zero_grad(set_to_none=False)                  # nothing to zero yet: stays None
    assert all(p.grad is None for p in model.parameters())
    x = np.zeros((2, 1, 28, 28), np.float32)
    model.backward(np.ones_like(model.forward(x)))
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_architecture_linear_acts_on_the_last_axis_like_torch():
    """Linear takes (*, in_features) as torch's does: without a Flatten it maps the last
    axis, and both builders agree on the shape."""
    spec = A.Architecture((1, 6, 6), (("conv", A.Conv2d(2, 3)), ("fc", A.Linear(3))))
    assert spec.shapes()[-1] == (2, 4, 3)
    x = np.zeros((5, 1, 6, 6))
    assert scratch_model.build(spec, dtype=np.float64).forward(x).shape == (5, 2, 4, 3)
    assert tuple(reference_model.build(spec)(torch.zeros(5, 1, 6, 6)).shape) == (5, 2, 4, 3)


@dtypes
@given(architecture=S.option_architectures(), seed=S.SEEDS, n=st.integers(2, 4))
def test_drawn_model_with_layer_options_matches_torch_in_train_and_eval(architecture, seed, n,
                                                                        dtype):
    """Conv padding forms and modes, every pooling kind (adaptive, divisor_override,
    ceil_mode), batch norm without running statistics or bias, through both builders."""
    note(repr(architecture.shapes()))
    compare_train_and_eval(architecture, n, seed, dtype)
