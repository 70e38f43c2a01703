"""scratch.nn's container and module protocol, against torch's.

``Sequential`` takes torch's forms (the layers themselves, named '0', '1', ...,
or one dict of name -> layer), indexes, slices, iterates and appends as torch's
does, names parameters like torch and runs backward in reverse; every module
prints as the torch module of the same name prints, and parameters, buffers and
children are reached as attributes. The layers' own parity tests follow torch's
package split: test_conv, test_linear, test_pooling, test_batchnorm,
test_activation, test_loss, test_dropout, test_rnn; test_module_args compares
every drawn layer's repr with torch's.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import assert_module_matches_torch, dtypes, same_state_twins
from scratch import nn


def test_sequential_names_parameters_like_torch_and_skips_input_grad_on_request():
    model = nn.Sequential({"fc": nn.Linear(3, 2, dtype=np.float64), "act": nn.Tanh()})
    assert [n for n, _ in model.named_parameters()] == ["fc.weight", "fc.bias"]
    out = model.forward(np.ones((2, 3)))
    assert model.backward(np.ones_like(out), input_grad=False) is None
    assert model.layers["fc"]._params["weight"].grad.shape == (2, 3)


def _pair(dtype):
    """The same small network in scratch and torch, written in torch's positional form
    (a nested Sequential included), with the same random state."""
    ours = nn.Sequential(nn.Linear(5, 4, dtype=dtype), nn.Tanh(),
                         nn.Sequential(nn.Linear(4, 3, dtype=dtype), nn.ReLU()),
                         nn.Linear(3, 2, dtype=dtype))
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(),
                                 torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()),
                                 torch.nn.Linear(3, 2))
    return ours, theirs


@dtypes
@given(seed=S.SEEDS, n=st.integers(1, 4))
def test_positional_sequential_matches_torch_keys_output_and_gradients(seed, n, dtype):
    """Positional layers are named '0', '1', ... as in torch (state_dict keys equal,
    nested ones '2.0.weight'); output, input gradient and every parameter gradient
    equal torch's with a random upstream gradient."""
    ours, theirs = _pair(dtype)
    theirs = same_state_twins(ours, theirs, dtype, seed)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = np.random.default_rng(seed).uniform(-2, 2, (n, 5)).astype(dtype)
    assert_module_matches_torch(ours, theirs, x, dtype, seed, reduction=5)


def test_sequential_indexing_slicing_iteration_and_append_follow_torch():
    ours, theirs = _pair(np.float32)
    assert len(ours) == len(theirs) == 4
    for i in range(-4, 4):
        assert type(ours[i]).__name__ == type(theirs[i]).__name__
        assert ours[i] is list(ours.layers.values())[i]
    for part in (slice(1, None), slice(None, 2), slice(None, None, 2), slice(-1, None)):
        assert repr(ours[part]) == repr(theirs[part])
        assert all(a is b for a, b in zip(ours[part], list(ours)[part]))
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert repr(ours.append(nn.Sigmoid())) == repr(theirs.append(torch.nn.Sigmoid()))
    for bad, error in ((4 + 1, IndexError), (-6, IndexError), ("0", TypeError),
                       (1.0, TypeError)):
        with pytest.raises(error):
            theirs[bad]
        with pytest.raises(error):
            ours[bad]


def test_sequential_takes_a_dict_or_ordered_dict_and_refuses_what_torch_refuses():
    layers = {"fc": nn.Linear(2, 2), "act": nn.ReLU()}
    for form in (layers, OrderedDict(layers)):
        assert list(nn.Sequential(form).layers) == ["fc", "act"]
    assert repr(nn.Sequential(OrderedDict(layers))) == repr(
        torch.nn.Sequential(OrderedDict(fc=torch.nn.Linear(2, 2), act=torch.nn.ReLU())))
    for bad, error in (([nn.ReLU()], TypeError), ((nn.ReLU(), 3), TypeError),
                       ({1: nn.ReLU()}, TypeError), ({"a.b": nn.ReLU()}, KeyError),
                       ({"": nn.ReLU()}, KeyError)):
        with pytest.raises(error):
            nn.Sequential(*bad) if isinstance(bad, tuple) else nn.Sequential(bad)
    with pytest.raises(TypeError):
        torch.nn.Sequential().append(5)
    with pytest.raises(TypeError, match="is a int, not a scratch.nn Module"):
        nn.Sequential().append(5)
    x = np.arange(6.0).reshape(2, 3)
    empty = nn.Sequential()
    assert repr(empty) == repr(torch.nn.Sequential()) == "Sequential()"
    assert empty.forward(x) is x and empty.backward(x) is x


def test_parameters_buffers_and_children_are_attributes_as_in_torch():
    """``model.fc.weight`` is the Parameter the layer computes with: assigning a new one
    changes the output; assigning anything else to its name is refused."""
    model = nn.Sequential({"fc": nn.Linear(3, 2, dtype=np.float64),
                           "bn": nn.BatchNorm1d(2, dtype=np.float64)})
    assert model.fc is model.layers["fc"] and model.bn.running_mean is model.bn._buffers[
        "running_mean"]
    assert model.fc.weight is model.fc._params["weight"] and model.fc.weight.grad is None
    x = np.random.default_rng(0).normal(size=(4, 3))
    model.forward(x)
    model.backward(np.ones((4, 2)))
    assert model.fc.weight.grad is model.fc._params["weight"].grad is not None
    model.eval()
    before = model.forward(x)
    model.fc.weight = nn.Parameter(2 * model.fc.weight.data)
    assert not np.allclose(model.forward(x), before)
    model.bn.running_mean = np.ones(2)
    assert model.bn._buffers["running_mean"] is model.bn.running_mean
    for target, name, value in ((model.fc, "weight", np.zeros((2, 3))), (model.fc, "bias", 1.0),
                                (model.bn, "running_var", [1.0, 1.0]), (model, "fc", np.eye(2))):
        with pytest.raises(TypeError, match=f"cannot assign .* '{name}'"):
            setattr(target, name, value)
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'weights'"):
        model.fc.weights
    model.fc = nn.Linear(3, 2, dtype=np.float64)              # a child is replaced
    assert model.layers["fc"] is model.fc


def test_default_network_prints_as_its_torch_mirror():
    from reference import model as reference_model
    from scratch import arch
    from scratch import model as scratch_model
    assert repr(scratch_model.build(arch.mnist_cnn())) == repr(
        reference_model.build(arch.mnist_cnn()))


def test_children_and_modules_are_walked_as_torch_walks_them():
    """children() gives modules (not names), named_children() pairs, named_modules()
    every module once with dotted names, depth first, as torch's."""
    shared = (nn.ReLU(), torch.nn.ReLU())
    ours = nn.Sequential({"block": nn.Sequential({"fc": nn.Linear(2, 2), "act": shared[0]}),
                          "act": shared[0], "out": nn.Linear(2, 1)})
    theirs = torch.nn.Sequential(OrderedDict(
        block=torch.nn.Sequential(OrderedDict(fc=torch.nn.Linear(2, 2), act=shared[1])),
        act=shared[1], out=torch.nn.Linear(2, 1)))
    assert [type(m).__name__ for m in ours.children()] == [
        type(m).__name__ for m in theirs.children()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    for kwargs in ({}, {"prefix": "net"}, {"remove_duplicate": False}):
        assert [(n, type(m).__name__) for n, m in ours.named_modules(**kwargs)] == [
            (n, type(m).__name__) for n, m in theirs.named_modules(**kwargs)]
    assert [type(m).__name__ for m in ours.modules()] == [
        type(m).__name__ for m in theirs.modules()]


def test_parameters_buffers_and_apply_follow_torch():
    """named_parameters/named_buffers with a prefix and recurse=False, a layer used twice
    given once, and apply's order (children first, then the module itself)."""
    shared, t_shared = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    ours = nn.Sequential({"a": shared, "bn": nn.BatchNorm1d(2), "b": shared,
                          "inner": nn.Sequential({"fc": nn.Linear(2, 1)})})
    theirs = torch.nn.Sequential(OrderedDict(a=t_shared, bn=torch.nn.BatchNorm1d(2), b=t_shared,
                                             inner=torch.nn.Sequential(OrderedDict(
                                                 fc=torch.nn.Linear(2, 1)))))
    for kwargs in ({}, {"prefix": "net"}, {"recurse": False}):
        assert [n for n, _ in ours.named_parameters(**kwargs)] == [
            n for n, _ in theirs.named_parameters(**kwargs)]
        assert [n for n, _ in ours.named_buffers(**kwargs)] == [
            n for n, _ in theirs.named_buffers(**kwargs)]
    assert len(ours.parameters()) == len(list(theirs.parameters())) == 6
    assert list(ours.state_dict()) == list(theirs.state_dict())    # the shared layer twice
    assert len(ours.buffers()) == len(list(theirs.buffers())) == 3
    assert ours.bn.parameters(recurse=False)[0] is ours.bn.weight
    order, t_order = [], []
    assert ours.apply(lambda m: order.append(type(m).__name__)) is ours
    theirs.apply(lambda m: t_order.append(type(m).__name__))
    assert order == t_order


def test_identity_passes_input_and_gradient_through_as_torch():
    """torch's placeholder: any arguments, the input itself out, the gradient back, and
    inside a Sequential a layer that can stand in for a removed one."""
    ours, theirs = nn.Identity(54, unused=0.1), torch.nn.Identity(54, unused=0.1)
    assert repr(ours) == repr(theirs) == "Identity()"
    x = np.random.default_rng(0).standard_normal((2, 3))
    assert ours.forward(x) is x
    dout = np.random.default_rng(1).standard_normal((2, 3))
    assert ours.backward(dout) is dout
    with pytest.raises(ValueError, match="dout"):
        ours.forward(x)
        ours.backward(np.ones((3, 2)))
    ours, theirs = _pair(np.float64)
    ours.layers["1"], theirs[1] = nn.Identity(), torch.nn.Identity()
    theirs = same_state_twins(ours, theirs, np.float64, 0)
    assert repr(ours) == repr(theirs)
    assert_module_matches_torch(ours, theirs, x[:, :1].repeat(5, axis=1), np.float64, 0,
                                reduction=5)
