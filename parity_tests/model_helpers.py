"""Whole-model comparison helpers: a scratch model and its torch mirror from one
Architecture, one training step compared, state compared, and the rounding budget of a
whole network (residual blocks included)."""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
from hypothesis import assume

from parity_tests.helpers import TORCH_DTYPE, assert_parity, batch_norm_conditioning
from reference import convert
from reference import model as reference_model
from scratch import arch as A
from scratch import model as scratch_model
from scratch import nn


def model_reduction(architecture: A.Architecture, batch: int) -> int:
    """Rounding budget of a whole network: the per-layer reduction sizes added up.

    Each layer adds the error of its longest sum (forward fan-in, or the batch
    and spatial sum of a parameter gradient); errors from earlier layers pass
    through later ones with roughly unit gain, so the budgets add. A residual
    block adds the budgets of both its branches.
    """
    return chain_reduction(architecture.layers, architecture.input_shape, batch)


def chain_reduction(layers, input_shape, batch: int) -> int:
    """:func:`model_reduction` of a chain of ``(name, spec)`` pairs."""
    total = 0
    shapes = A.walk(layers, input_shape)
    for (_, spec), shape_in, shape_out in zip(layers, shapes, shapes[1:]):
        spatial = math.prod(shape_out[1:]) if len(shape_out) > 1 else 1
        if isinstance(spec, A.Residual):
            total += (chain_reduction(spec.body, shape_in, batch)
                      + chain_reduction(spec.shortcut, shape_in, batch))
        elif isinstance(spec, A.Conv2d):
            kh, kw = ((spec.kernel_size,) * 2 if isinstance(spec.kernel_size, int)
                      else spec.kernel_size)
            total += max(shape_in[0] * kh * kw, batch * spatial)
        elif isinstance(spec, A.ConvTranspose2d):   # dw: a sum over the batch's input pixels
            kh, kw = ((spec.kernel_size,) * 2 if isinstance(spec.kernel_size, int)
                      else spec.kernel_size)
            total += max(shape_in[0] * kh * kw, shape_out[0] * kh * kw,
                         batch * math.prod(shape_in[1:]))
        elif isinstance(spec, A.Linear):   # weight gradient: a sum over every leading row
            total += max(shape_in[-1], batch * math.prod(shape_in[:-1]))
        elif isinstance(spec, (A.BatchNorm1d, A.BatchNorm2d, A.PReLU)):
            total += batch * math.prod(shape_in[1:])
    return total


def twins(architecture, dtype, seed=0):
    """A scratch model and its torch mirror holding the same weights."""
    scratch = scratch_model.build(architecture, seed=seed, dtype=dtype)
    torch_model = reference_model.build(architecture, dtype=TORCH_DTYPE[np.dtype(dtype)])
    convert.load_numpy_state(torch_model, scratch.state_dict())
    return scratch, torch_model


def batch_for(architecture, n, seed, dtype):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *architecture.input_shape)).astype(dtype)
    y = rng.integers(0, architecture.num_outputs, n)
    return x, y


def compare_step(scratch, torch_model, x, y, dtype, k, train=True):
    """One forward/backward on both; assert logits, loss, input and every parameter grad agree."""
    scratch.train(train)
    torch_model.train(train)
    loss_fn = nn.CrossEntropyLoss()
    logits = scratch.forward(x)
    loss = loss_fn(logits, y)
    dx = scratch.backward(loss_fn.backward(np.asarray(1.0, dtype)))

    tx = torch.tensor(x, requires_grad=True)
    t_logits = torch_model(tx)
    t_loss = torch.nn.functional.cross_entropy(t_logits, torch.from_numpy(y))
    torch_model.zero_grad()
    t_loss.backward()

    grads = {name: p.grad for name, p in scratch.named_parameters()}
    t_grads = {name: p.grad for name, p in torch_model.named_parameters()}
    assert_parity(dict(logits=logits, loss=loss, dx=dx, **grads),
                  dict(logits=t_logits, loss=t_loss, dx=tx.grad, **t_grads), dtype,
                  reductions={name: k for name in ["logits", "loss", "dx", *grads]})


def assert_same_state(scratch, torch_model, dtype, k):
    """Floating entries agree within the budget ``k``; integer counters exactly."""
    state, t_state = scratch.state_dict(), torch_model.state_dict()
    assert list(state) == list(t_state)
    floats = {name: v for name, v in state.items() if v.dtype.kind == "f"}
    for name in state.keys() - floats.keys():
        assert int(state[name]) == int(t_state[name]), name
    assert_parity(floats, {name: t_state[name] for name in floats}, dtype,
                  reductions={name: k for name in floats})


def batch_norm_inputs(torch_model, x) -> list[np.ndarray]:
    """What each batch-norm layer sees in a training-mode forward pass of ``x``."""
    seen = []
    probe = copy.deepcopy(torch_model).train()  # its running statistics may change
    for m in probe.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.register_forward_hook(lambda m, inp, out: seen.append(inp[0].numpy()))
    with torch.no_grad():
        probe(torch.from_numpy(x))
    return seen


def has_constant_channel(bn_input: np.ndarray) -> bool:
    """Whether a batch-norm channel sees one value across the whole batch.

    Such a channel normalises 0/0: its output is rounding noise scaled by
    1/sqrt(eps), and a ReLU after it lets the gradient through or not
    depending on the sign of that noise. Both implementations are right there
    and may disagree, so whole-model comparisons skip those draws; the layer
    tests check constant channels and exact zeros directly.
    """
    axes = (0,) + tuple(range(2, bn_input.ndim))
    return bool((bn_input.max(axis=axes) == bn_input.min(axis=axes)).any())


def comparison_budget(architecture, torch_model, x, skip_constant=True) -> float:
    """Rounding budget for one step on ``x``: the network's reductions times the
    batch-norm conditioning; draws with a constant batch-norm channel are skipped
    (``skip_constant=False``, outside hypothesis: such an input is an error)."""
    bn_inputs = batch_norm_inputs(torch_model, x)
    constant = any(has_constant_channel(b) for b in bn_inputs)
    if skip_constant:
        assume(not constant)
    elif constant:
        raise ValueError("a batch-norm channel sees one value across the batch")
    conditioning = max(map(batch_norm_conditioning, bn_inputs), default=1.0)
    return model_reduction(architecture, len(x)) * conditioning


def compare_train_and_eval(architecture, n, seed, dtype):
    """Twins of ``architecture`` on one drawn batch of ``n``: a training step (logits,
    loss, input and every parameter gradient), the batch-norm running statistics it
    left, then the same in eval mode, each within the comparison budget."""
    scratch, torch_model = twins(architecture, dtype, seed)
    x, y = batch_for(architecture, n, seed, dtype)
    k = comparison_budget(architecture, torch_model, x)
    compare_step(scratch, torch_model, x, y, dtype, k, train=True)
    assert_same_state(scratch, torch_model, dtype, k)  # batch-norm running statistics
    compare_step(scratch, torch_model, x, y, dtype, k, train=False)
