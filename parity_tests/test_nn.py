"""scratch.nn modules against torch.nn modules holding the same state."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import (
    TORCH_DTYPE,
    assert_parity,
    batch_norm_conditioning,
    dtypes,
    upstream,
)
from reference import convert
from scratch import nn

# name -> (scratch constructor, torch constructor, input shape (N, ...), reduction size)
MODULES = {
    "conv2d": (lambda d: nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2),
                                   dtype=d),
               lambda: torch.nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2)),
               (2, 2, 7, 6), 2 * 7 * 6),
    "conv2d_groups": (lambda d: nn.Conv2d(4, 6, 3, padding=1, groups=2, dtype=d),
                      lambda: torch.nn.Conv2d(4, 6, 3, padding=1, groups=2), (2, 4, 5, 5),
                      2 * 5 * 5),
    "conv2d_no_bias": (lambda d: nn.Conv2d(1, 2, 3, bias=False, dtype=d),
                       lambda: torch.nn.Conv2d(1, 2, 3, bias=False), (2, 1, 5, 5), 2 * 3 * 3),
    "linear": (lambda d: nn.Linear(5, 3, dtype=d), lambda: torch.nn.Linear(5, 3), (4, 5), 5),
    "max_pool2d": (lambda d: nn.MaxPool2d(3, 2, 1, ceil_mode=True),
                   lambda: torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 2, 6, 7), 4),
    "avg_pool2d": (lambda d: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
                   lambda: torch.nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
                   (2, 2, 6, 7), 9),
    "flatten": (lambda d: nn.Flatten(), torch.nn.Flatten, (2, 3, 2, 2), 1),
    "batch_norm2d": (lambda d: nn.BatchNorm2d(3, dtype=d), lambda: torch.nn.BatchNorm2d(3),
                     (4, 3, 3, 3), 4 * 3 * 3),
    "batch_norm1d": (lambda d: nn.BatchNorm1d(3, momentum=None, dtype=d),
                     lambda: torch.nn.BatchNorm1d(3, momentum=None), (5, 3), 5),
    "batch_norm1d_3d_input": (lambda d: nn.BatchNorm1d(2, affine=False, dtype=d),
                              lambda: torch.nn.BatchNorm1d(2, affine=False), (3, 2, 4), 12),
}


def pair_of(name, dtype, seed):
    """A scratch module and its torch twin with the same (random) parameters."""
    make_scratch, make_torch, shape, k = MODULES[name]
    scratch = make_scratch(np.dtype(dtype))
    twin = make_torch().to(TORCH_DTYPE[np.dtype(dtype)])
    rng = np.random.default_rng(seed)
    state = {key: (rng.uniform(-1, 1, v.shape).astype(dtype) if v.dtype.kind == "f" else v)
             for key, v in scratch.state_dict().items()}
    if "running_var" in state:
        state["running_var"] = 1 + np.abs(state["running_var"])
    scratch.load_state_dict(state)
    convert.load_numpy_state(twin, state)
    return scratch, twin, shape, k


@dtypes
@pytest.mark.parametrize("name", MODULES)
def test_module_state_dict_keys_and_shapes_equal_torch(name, dtype):
    scratch, twin, _, _ = pair_of(name, dtype, 0)
    assert {k: v.shape for k, v in scratch.state_dict().items()} == {
        k: tuple(v.shape) for k, v in twin.state_dict().items()}
    assert list(scratch.state_dict()) == list(twin.state_dict())


@dtypes
@pytest.mark.parametrize("name", MODULES)
@given(seed=S.SEEDS, training=st.booleans())
def test_module_forward_backward_and_buffers_match_torch_over_steps(name, seed, training,
                                                                     dtype):
    """Three forward/backward steps: outputs, input and parameter gradients, and the
    buffers (batch-norm running statistics, batch counter) agree after each."""
    scratch, twin, shape, k = pair_of(name, dtype, seed)
    scratch.train(training)
    twin.train(training)
    rng = np.random.default_rng(seed)
    for step in range(3):
        x = rng.standard_normal(shape).astype(dtype)
        out = scratch.forward(x)
        dout = upstream(seed + step, out.shape, dtype)
        dx = scratch.backward(dout)
        tx = torch.tensor(x, requires_grad=True)
        t_out = twin(tx)
        twin.zero_grad()
        t_out.backward(torch.from_numpy(dout))
        budget = k * (batch_norm_conditioning(x) if "batch_norm" in name else 1)
        grads = {f"grad:{n}": p.grad for n, p in scratch.named_parameters()}
        t_grads = {f"grad:{n}": p.grad for n, p in twin.named_parameters()}
        state = {n: v for n, v in scratch.state_dict().items() if v.dtype.kind == "f"}
        t_state = twin.state_dict()
        assert_parity(dict(out=out, dx=dx, **grads, **state),
                      dict(out=t_out, dx=tx.grad, **t_grads, **{n: t_state[n] for n in state}),
                      dtype, reductions={n: budget for n in ["out", "dx", *grads, *state]})
        for n, v in scratch.state_dict().items():
            if v.dtype.kind == "i":
                assert int(v) == int(t_state[n]), n


def test_sequential_names_parameters_like_torch_and_skips_input_grad_on_request():
    model = nn.Sequential({"fc": nn.Linear(3, 2, dtype=np.float64), "act": nn.Tanh()})
    assert [n for n, _ in model.named_parameters()] == ["fc.weight", "fc.bias"]
    out = model.forward(np.ones((2, 3)))
    assert model.backward(np.ones_like(out), input_grad=False) is None
    assert model.layers["fc"]._params["weight"].grad.shape == (2, 3)


@pytest.mark.parametrize("name", MODULES)
def test_backward_before_forward_is_a_clear_error(name):
    scratch = MODULES[name][0](np.dtype(np.float64))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        scratch.backward(np.ones((1, 1)))


def test_eval_mode_batch_norm_leaves_running_stats_alone():
    bn = nn.BatchNorm2d(2, dtype=np.float64).eval()
    before = bn.state_dict()
    bn.forward(np.random.default_rng(0).standard_normal((3, 2, 2, 2)))
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
