"""A custom module with its own backward: the residual block of ``scripts/residual_block.py``
(children registered by attribute, a backward that adds the two branches' input
gradients) against the same block written as a torch module, through the suite's
comparison and through the gradient oracle.

Tolerances: the suite's (``parity_tests/helpers.py``): a per-term budget times the
sum of the block's reduction sizes (each convolution's longest sum, each batch norm's
N*H*W), times the batch-norm conditioning of the draw. float64 is then tight (about
1e-11 absolute for the largest blocks drawn), float32 no looser than its arithmetic.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from hypothesis import assume, given

from parity_tests import module_trees as T
from parity_tests.helpers import (
    TORCH_DTYPE,
    assert_module_matches_torch,
    batch_norm_conditioning,
    dtypes,
)
from scripts import example_residual_block
from scripts.residual_block import ResidualBlock, TorchResidualBlock


def _twins(case, dtype):
    """The scratch block and the torch block holding the same random state (running
    variances positive)."""
    ours = ResidualBlock(case.in_channels, case.out_channels, case.stride, dtype=dtype,
                         generator=case.seed)
    theirs = TorchResidualBlock(case.in_channels, case.out_channels, case.stride,
                                dtype=TORCH_DTYPE[np.dtype(dtype)])
    rng = np.random.default_rng(case.seed)
    state = {k: rng.uniform(-1, 1, v.shape).astype(v.dtype) if v.dtype.kind == "f" else v
             for k, v in ours.state_dict().items()}
    state = {k: 1 + np.abs(v) if k.endswith("running_var") else v for k, v in state.items()}
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return ours, theirs


def _reduction(case) -> int:
    """The block's rounding budget: each layer's longest sum, added up."""
    n, c, h, w = case.shape
    positions = n * ((h - 1) // case.stride + 1) * ((w - 1) // case.stride + 1)
    total = max(c * 9, positions) + positions + max(case.out_channels * 9, positions) + positions
    if case.stride != 1 or case.in_channels != case.out_channels:
        total += max(c, positions) + positions
    return total


def _seen(theirs, x):
    """What each batch norm and each ReLU sees, from a float64 copy of the torch block."""
    probe = copy.deepcopy(theirs).double().train()
    seen = {torch.nn.BatchNorm2d: [], torch.nn.ReLU: []}
    for module in probe.modules():
        if type(module) in seen:
            module.register_forward_pre_hook(
                lambda m, inp: seen[type(m)].append(inp[0].detach().numpy().copy()))
    with torch.no_grad():
        probe(torch.from_numpy(x.astype(np.float64)))
    return seen[torch.nn.BatchNorm2d], seen[torch.nn.ReLU]


@dtypes
@given(case=T.residual_cases())
def test_residual_block_forward_and_every_gradient_match_torch(case, dtype):
    """Output, input gradient (both branches' contributions added), every parameter
    gradient of body and shortcut, and the running statistics, with a random upstream
    gradient. Draws with a ReLU input within 1e-4 of its kink are skipped (rounding
    may put it on either side there)."""
    ours, theirs = _twins(case, dtype)
    x = np.random.default_rng(case.seed + 1).standard_normal(case.shape).astype(dtype)
    bn_inputs, relu_inputs = _seen(theirs, x)
    assume(min(np.abs(v).min() for v in relu_inputs) > 1e-4)
    conditioning = max(batch_norm_conditioning(v) for v in bn_inputs)
    assert_module_matches_torch(ours, theirs, x, dtype, case.seed,
                                reduction=_reduction(case) * conditioning)


@given(case=T.residual_cases())
def test_residual_block_without_input_grad_sets_the_same_parameter_gradients(case):
    ours, _ = _twins(case, np.float64)
    x = np.random.default_rng(case.seed).standard_normal(case.shape)
    runs = []
    for input_grad in (True, False):
        out = ours.forward(x)
        dx = ours.backward(np.random.default_rng(case.seed + 2).standard_normal(out.shape),
                           input_grad=input_grad)
        assert (dx is None) == (not input_grad)
        runs.append({n: p.grad.copy() for n, p in ours.named_parameters()})
    for name, grad in runs[0].items():
        np.testing.assert_array_equal(runs[1][name], grad, err_msg=name)


def test_residual_block_registers_the_torch_blocks_children():
    for shape in ((3, 3, 1), (2, 4, 2)):
        ours, theirs = ResidualBlock(*shape), TorchResidualBlock(*shape)
        assert T.shapes_of(ours.state_dict()) == T.shapes_of(theirs.state_dict())
        assert "Torch" + repr(ours) == repr(theirs)


@dtypes
def test_residual_block_passes_the_gradient_oracle(dtype):
    """The oracle's own tolerances: float64 rtol 1e-7, float32 rtol 1e-4 (atol scaled by
    each tensor's magnitude, reference/oracle/tolerance.py)."""
    for shape in example_residual_block.SHAPES:
        example_residual_block.check(ResidualBlock, *shape, dtype, seed=4).assert_ok()


def test_example_script_passes_and_catches_its_planted_bug(capsys):
    assert example_residual_block.main(["--seed", "1"]) == 0
    assert "verdict: WRONG in dx" in capsys.readouterr().out
