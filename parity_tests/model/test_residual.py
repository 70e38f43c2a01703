"""Residual blocks as data: ``scratch.arch.Residual`` built by both builders, against torch
autograd (outputs, input gradient, every parameter gradient, running statistics, SGD
steps), its shape walk against real forwards, the ResNet basic block against
torchvision's, and the architecture file format.

Tolerances are the suite's (``parity_tests.helpers``): per tensor, the rounding budget of
the sums behind it (:func:`parity_tests.model_helpers.chain_reduction`, a residual block
adding both branches') times batch norm's conditioning: float64 about 2e-14 per term,
float32 1e-5 per term. Drift after SGD steps in float64 is also held below 1e-10
relative, the lockstep bound.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torchvision
from hypothesis import given, note
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import TORCH_DTYPE, assert_parity, dtypes, upstream
from parity_tests.model_helpers import (
    assert_same_state,
    batch_for,
    compare_train_and_eval,
    comparison_budget,
    twins,
)
from reference import convert
from reference import model as reference_model
from scratch import arch as A
from scratch import model as scratch_model
from scratch import nn, optim
from scripts.lib.drift import parameter_drift


def block_architecture(block, in_channels, size):
    return A.Architecture((in_channels, size, size), (("block", block),))


@st.composite
def blocks_with_inputs(draw):
    """(architecture of one drawn block, input (N, C, H, W))."""
    c, size, n = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(2, 3))
    architecture = block_architecture(draw(S.residual_blocks(c)), c, size)
    return architecture, draw(S.array((n, c, size, size)))


@dtypes
@given(case=blocks_with_inputs(), seed=S.SEEDS)
def test_drawn_residual_block_output_input_and_parameter_gradients_match_torch(case, seed,
                                                                              dtype):
    """A random upstream gradient into one block (identity or projection shortcut,
    stride 1 or 2, channels changed or not, ReLU or not) in training mode: output, input
    gradient, every parameter gradient and the running statistics equal torch's; the
    input and the upstream gradient are left unchanged."""
    architecture, x = case
    x = x.astype(dtype)
    note(repr(architecture.layers[0][1]))
    scratch, torch_model = twins(architecture, dtype, seed)
    k = comparison_budget(architecture, torch_model, x)
    out = scratch.forward(x)
    dout = upstream(seed, out.shape, dtype)
    x_before, dout_before = x.copy(), dout.copy()
    dx = scratch.backward(dout)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dout, dout_before)

    tx = torch.tensor(x, requires_grad=True)
    t_out = torch_model(tx)
    t_out.backward(torch.from_numpy(dout))
    grads = {f"grad:{n}": p.grad for n, p in scratch.named_parameters()}
    t_grads = {f"grad:{n}": p.grad for n, p in torch_model.named_parameters()}
    assert_parity(dict(out=out, dx=dx, **grads), dict(out=t_out, dx=tx.grad, **t_grads), dtype,
                  reductions={name: k for name in ["out", "dx", *grads]})
    assert_same_state(scratch, torch_model, dtype, k)


@dtypes
@given(architecture=S.residual_architectures(), seed=S.SEEDS, n=st.integers(2, 4))
def test_drawn_residual_model_matches_torch_in_train_and_eval(architecture, seed, n, dtype):
    """Whole residual networks (stem, 1-2 blocks, pooling, linear) through the loss:
    logits, loss, input gradient and every parameter gradient, in training and in eval
    mode, and the batch-norm running statistics between."""
    note(repr(architecture.shapes()))
    compare_train_and_eval(architecture, n, seed, dtype)


def sgd_steps(architecture, dtype, seed, steps=3, batch=4, drawn=True):
    """Twins after ``steps`` SGD steps (momentum, weight decay) on the same batches, and
    the summed rounding budget of those steps."""
    scratch, torch_model = twins(architecture, dtype, seed)
    hyper = dict(lr=0.1, momentum=0.9, weight_decay=1e-3)
    opt = optim.SGD(scratch.parameters(), **hyper)
    t_opt = torch.optim.SGD(torch_model.parameters(), **hyper)
    loss_fn = nn.CrossEntropyLoss()
    k = 0.0
    for step in range(steps):
        x, y = batch_for(architecture, batch, seed + step, dtype)
        k += comparison_budget(architecture, torch_model, x, skip_constant=drawn)
        loss_fn(scratch.forward(x), y)
        scratch.backward(loss_fn.backward(np.asarray(1.0, dtype)), input_grad=False)
        opt.step()
        t_opt.zero_grad()
        torch.nn.functional.cross_entropy(torch_model(torch.from_numpy(x)),
                                          torch.from_numpy(y)).backward()
        t_opt.step()
    return scratch, torch_model, k


@dtypes
@given(architecture=S.residual_architectures(), seed=S.SEEDS)
def test_sgd_steps_on_drawn_residual_models_give_torch_weights(architecture, seed, dtype):
    scratch, torch_model, k = sgd_steps(architecture, dtype, seed)
    assert_same_state(scratch, torch_model, dtype, k)
    if np.dtype(dtype) == np.float64:
        drift, name = parameter_drift(scratch.state_dict(),
                                      convert.to_numpy_state(torch_model.state_dict()))
        assert drift < 1e-10, (name, drift)


@dtypes
def test_the_mnist_resnet_steps_with_torch(dtype):
    """The named ResNet (narrow, so it is quick): three SGD steps on 28x28 inputs."""
    architecture = A.mnist_resnet(channels=(2, 3, 4))
    scratch, torch_model, k = sgd_steps(architecture, dtype, seed=0, drawn=False)
    assert_same_state(scratch, torch_model, dtype, k)
    if np.dtype(dtype) == np.float64:
        drift, name = parameter_drift(scratch.state_dict(),
                                      convert.to_numpy_state(torch_model.state_dict()))
        assert drift < 1e-10, (name, drift)


# --------------------------------------------------------------------------- the shape walk
def walked_shapes(layers, shape, prefix=""):
    """Dotted module name -> computed per-sample output shape, residual branches included
    (``block.body``, ``block.body.conv1``, ``block.shortcut``...)."""
    shapes = {}
    walked = A.walk(layers, shape)
    for (name, spec), shape_in, shape_out in zip(layers, walked, walked[1:]):
        dotted = prefix + name
        shapes[dotted] = shape_out
        if isinstance(spec, A.Residual):
            body, shortcut = spec.branch_shapes(shape_in)
            shapes[dotted + ".body"], shapes[dotted + ".shortcut"] = body[-1], shortcut[-1]
            shapes.update(walked_shapes(spec.body, shape_in, dotted + ".body."))
            shapes.update(walked_shapes(spec.shortcut, shape_in, dotted + ".shortcut."))
    return shapes


def scratch_forward_shapes(model, x) -> dict:
    """Dotted name -> per-sample output shape of every module's forward (each recorded by
    wrapping the module's own forward)."""
    seen = {}
    for name, module in model.named_modules():
        if name:
            def record(x, forward=module.forward, name=name):
                out = forward(x)
                seen[name] = tuple(out.shape[1:])
                return out
            module.forward = record
    model.forward(x)
    return seen


def torch_forward_shapes(model, x) -> dict:
    seen = {}
    for name, module in model.named_modules():
        if name:
            module.register_forward_hook(
                lambda m, i, out, name=name: seen.__setitem__(name, tuple(out.shape[1:])))
    with torch.no_grad():
        model(torch.from_numpy(x))
    return seen


@given(architecture=S.residual_architectures(), seed=S.SEEDS)
def test_the_shape_walk_equals_real_forward_shapes_inside_and_out(architecture, seed):
    """Every layer's computed output shape, inside both branches of every block too,
    equals the shape its module really gives, in scratch and in torch."""
    computed = walked_shapes(architecture.layers, architecture.input_shape)
    note(f"computed {computed}")
    scratch, torch_model = twins(architecture, np.float64, seed)
    x, _ = batch_for(architecture, 2, seed, np.float64)
    assert torch_forward_shapes(torch_model, x) == computed
    assert scratch_forward_shapes(scratch, x) == computed


MISMATCHED = [
    ("stride 2, identity shortcut", A.Residual((("conv", A.Conv2d(2, 3, 2, 1)),)), (2, 6, 6)),
    ("channels change, identity", A.Residual((("conv", A.Conv2d(4, 3, padding=1)),)), (2, 5, 5)),
    ("projection without the stride", A.Residual((("conv", A.Conv2d(2, 3, 2, 1)),),
                                                 A.projection(2, 1)), (2, 4, 4)),
    ("projection to other channels", A.Residual((("conv", A.Conv2d(3, 1)),),
                                                A.projection(2, 1)), (2, 4, 4)),
]


@pytest.mark.parametrize("block, in_shape", [m[1:] for m in MISMATCHED],
                         ids=[m[0] for m in MISMATCHED])
def test_a_block_whose_branches_disagree_is_refused_before_building(block, in_shape):
    architecture = A.Architecture(in_shape, (("block", block), ("flatten", A.Flatten()),
                                             ("fc", A.Linear(2))))
    body, shortcut = block.branch_shapes(in_shape)
    message = (rf"layer 'block' \(Residual\) cannot take input of shape "
               rf"{re_shape(in_shape)}: the body gives shape {re_shape(body[-1])} but the "
               rf"shortcut gives {re_shape(shortcut[-1])}")
    for build in (architecture.shapes, lambda: scratch_model.build(architecture),
                  lambda: reference_model.build(architecture)):
        with pytest.raises(ValueError, match=message):
            build()


def re_shape(shape) -> str:
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_a_hand_built_block_whose_branches_disagree_says_so_in_forward():
    block = nn.Residual(nn.Conv2d(2, 3, 1, dtype=np.float64), nn.Identity())
    with pytest.raises(ValueError, match=r"Residual: the body gives shape \(1, 3, 4, 4\) but "
                                         r"the shortcut gives \(1, 2, 4, 4\)"):
        block.forward(np.zeros((1, 2, 4, 4)))


def test_an_empty_body_is_refused():
    with pytest.raises(ValueError, match="Residual needs at least one layer in its body"):
        A.Residual(())


# --------------------------------------------------------------------------- vs torchvision
TORCHVISION_NAMES = {"body.conv1": "conv1", "body.bn1": "bn1", "body.conv2": "conv2",
                     "body.bn2": "bn2", "shortcut.conv": "downsample.0",
                     "shortcut.bn": "downsample.1"}


@pytest.mark.parametrize("in_channels, out_channels, stride",
                         [(3, 3, 1), (3, 5, 1), (3, 3, 2), (2, 4, 2)])
def test_basic_block_is_torchvisions_basic_block(in_channels, out_channels, stride):
    """``basic_block`` against ``torchvision.models.resnet.BasicBlock`` (an oracle written
    independently of ours): same parameters under the mapped names, and in float64 the
    same output, input gradient and parameter gradients for a random upstream gradient."""
    from torchvision.models.resnet import BasicBlock, conv1x1
    size = 5
    architecture = block_architecture(A.basic_block(in_channels, out_channels, stride),
                                      in_channels, size)
    scratch = scratch_model.build(architecture, seed=3, dtype=np.float64)
    projection = stride != 1 or in_channels != out_channels
    downsample = torch.nn.Sequential(conv1x1(in_channels, out_channels, stride),
                                     torch.nn.BatchNorm2d(out_channels)) if projection else None
    oracle = BasicBlock(in_channels, out_channels, stride, downsample).double()
    ours = {key.removeprefix("block."): value for key, value in scratch.state_dict().items()}
    renamed = {}
    for key, value in ours.items():
        module, leaf = key.rsplit(".", 1)
        renamed[f"{TORCHVISION_NAMES[module]}.{leaf}"] = torch.from_numpy(value)
    assert list(renamed) == list(oracle.state_dict())
    oracle.load_state_dict(renamed)
    x = np.random.default_rng(0).standard_normal((2, in_channels, size, size))
    k = comparison_budget(architecture, oracle, x, skip_constant=False)
    out = scratch.forward(x)
    dout = upstream(1, out.shape, np.float64)
    dx = scratch.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    t_out = oracle(tx)
    t_out.backward(torch.from_numpy(dout))
    t_params = dict(oracle.named_parameters())
    grads = {}
    for name, p in scratch.named_parameters():
        module, leaf = name.removeprefix("block.").rsplit(".", 1)
        grads[f"{TORCHVISION_NAMES[module]}.{leaf}"] = p.grad
    assert_parity(dict(out=out, dx=dx, **grads),
                  dict(out=t_out, dx=tx.grad, **{n: t_params[n].grad for n in grads}),
                  np.float64, reductions=dict.fromkeys(["out", "dx", *grads], k))


def test_mnist_resnet_pools_then_halves_the_map_twice_and_ends_in_ten_logits():
    shapes = A.mnist_resnet().shapes()
    names = [name for name, _ in A.mnist_resnet().layers]
    at = dict(zip(names, shapes[1:]))
    assert (at["stage1"], at["stage2"], at["stage3"]) == ((8, 14, 14), (16, 7, 7),
                                                           (32, 4, 4))
    assert at["fc"] == (10,)
    assert torchvision.__version__   # the oracle above is importable here


# --------------------------------------------------------------------------- the file format
@given(architecture=S.residual_architectures())
def test_drawn_residual_architectures_round_trip_through_json(architecture):
    text = json.dumps(A.to_dict(architecture))
    assert A.from_dict(json.loads(text)) == architecture


def test_a_residual_block_reads_from_toml(tmp_path):
    path = tmp_path / "net.toml"
    path.write_text('''input_shape = [2, 6, 6]

[[layers]]
name = "block"
type = "Residual"
relu = false

[[layers.body]]
name = "conv1"
type = "Conv2d"
out_channels = 4
kernel_size = 3
stride = 2
padding = 1

[[layers.shortcut]]
name = "conv"
type = "Conv2d"
out_channels = 4
kernel_size = 1
stride = 2
bias = false

[[layers.shortcut]]
name = "bn"
type = "BatchNorm2d"

[[layers]]
name = "flatten"
type = "Flatten"
''')
    expected = A.Architecture((2, 6, 6), (
        ("block", A.Residual((("conv1", A.Conv2d(4, 3, 2, 1)),), A.projection(4, 2),
                             relu=False)),
        ("flatten", A.Flatten())))
    assert A.load(path) == expected
    assert A.from_dict(A.to_dict(expected)) == expected


@pytest.mark.parametrize("layers, message", [
    ([{"name": "block", "type": "Residual", "body": []}],
     r"layer 1 \('block'\) body: layers must be a non-empty list of tables"),
    ([{"name": "block", "type": "Residual",
       "body": [{"name": "c", "type": "Conv2d", "out_channels": 2, "kernel_size": 1,
                 "strides": 2}]}],
     r"layer 1 \('block'\) body: layer 1 \('c'\): Conv2d has no field\(s\) \['strides'\]"),
    ([{"name": "block", "type": "Residual",
       "body": [{"name": "c", "type": "Conv2d", "out_channels": 3, "kernel_size": 1}]}],
     r"the body gives shape \(3, 4, 4\) but the shortcut gives \(2, 4, 4\)"),
])
def test_a_bad_residual_block_in_a_file_says_where_and_what(layers, message):
    with pytest.raises(A.ArchitectureFileError, match=message):
        A.from_dict({"input_shape": [2, 4, 4], "layers": layers}, "net.json")


def test_module_reprs_and_state_dict_keys_equal_the_mirror():
    """The scratch block prints and names its parameters as its torch twin."""
    architecture = A.mnist_resnet(channels=(2, 3, 4))
    scratch = scratch_model.build(architecture, dtype=np.float64)
    twin = reference_model.build(architecture, dtype=TORCH_DTYPE[np.dtype(np.float64)])
    assert repr(scratch) == repr(twin)
    assert [(k, v.shape) for k, v in scratch.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in twin.state_dict().items()]
