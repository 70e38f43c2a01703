"""Call forms every module shares, on one sample of each module: ``backward(dout,
input_grad=False)`` (what a network's first layer is given: a hint that the input
gradient is not needed, which a layer may use to skip work), ``device='cpu'`` at
construction, and ``buffers(recurse=False)``.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

import scratch
from scratch import nn

# name -> (constructor arguments, input shape): one float64 sample of each module
SAMPLES = {
    "Linear": ((4, 3), (2, 4)),
    "Conv2d": ((2, 3, 3), (2, 2, 6, 6)),
    "BatchNorm1d": ((4,), (3, 4)),
    "BatchNorm2d": ((2,), (3, 2, 4, 4)),
    "MaxPool2d": ((2,), (2, 3, 6, 6)),
    "AvgPool2d": ((2,), (2, 3, 6, 6)),
    "AdaptiveAvgPool2d": ((3,), (2, 3, 7, 7)),
    "AdaptiveMaxPool2d": ((3,), (2, 3, 7, 7)),
    "Flatten": ((), (2, 3, 4, 4)),
    "Identity": ((), (2, 5)),
    "PReLU": ((), (2, 5)),
    "ReLU": ((), (2, 5)),
    "Tanh": ((), (2, 5)),
    "LayerNorm": ((5,), (2, 3, 5)),
    "GroupNorm": ((2, 4), (3, 4, 5)),
    "RMSNorm": ((5,), (2, 3, 5)),
    "LocalResponseNorm": ((2,), (2, 4, 5, 5)),
    "Embedding": ((6, 3), np.array([[0, 2, 5], [4, 1, 2]])),
    "TransformerEncoderLayer": ((4, 2, 8, 0.0), (3, 2, 4)),
    "TransformerEncoder": ((lambda: nn.TransformerEncoderLayer(4, 2, 8, 0.0,
                                                               dtype=np.float64), 2),
                           (3, 2, 4)),
    "Conv1d": ((2, 3, 3), (2, 2, 7)),
    "Unflatten": ((1, (2, 3)), (2, 6)),
    "PixelShuffle": ((2,), (1, 8, 3, 3)),
    "PixelUnshuffle": ((2,), (1, 2, 4, 4)),
    "AdaptiveAvgPool1d": ((3,), (2, 3, 7)),
    "AdaptiveMaxPool1d": ((3,), (2, 3, 7)),
    "AvgPool1d": ((2,), (2, 3, 6)),
    "MaxPool1d": ((2,), (2, 3, 6)),
    "Upsample": ((None, 2), (1, 2, 3, 3)),
    "Patches": ((), (2, 4, 2, 2)),
    "ClassToken": ((4,), (2, 3, 4)),
    "PositionEmbedding": ((3, 4), (2, 3, 4)),
    "FirstToken": ((), (2, 3, 4)),
    "BatchNorm3d": ((2,), (3, 2, 2, 2, 2)),
    "EmbeddingBag": ((6, 3), np.array([[0, 2, 5], [4, 1, 2]])),
    # taken for device= only: their backward takes no input_grad
    "MultiheadAttention": ((4, 2), None),
    "GRU": ((3, 4), None),
    "RNNCell": ((3, 4), None),
}


def _args(name):
    """The sample's constructor arguments (a sub-module built fresh each time)."""
    return tuple(a() if callable(a) else a for a in SAMPLES[name][0])


def _pair(name):
    """The scratch module (float64 where it takes a dtype) and an input, seeded."""
    shape = SAMPLES[name][1]
    cls = getattr(nn, name)
    kwargs = {"dtype": np.float64} if "dtype" in inspect.signature(cls).parameters else {}
    scratch.manual_seed(0)
    module = cls(*_args(name), **kwargs)
    if isinstance(shape, np.ndarray):                  # indices, not values
        return module, shape
    return module, np.random.default_rng(1).standard_normal(shape)


@pytest.mark.parametrize("name", sorted(
    n for n in SAMPLES if "input_grad" in inspect.signature(getattr(nn, n).backward).parameters))
def test_backward_without_input_grad_changes_no_parameter_gradient(name):
    """``input_grad=False`` gives the same parameter gradients, and either no input
    gradient (None: the work was skipped) or the true one."""
    module, x = _pair(name)
    out = module(x)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    dx = module.backward(dout)
    grads = {n: p.grad.copy() for n, p in module.named_parameters()}
    module(x)
    skipped = module.backward(dout, input_grad=False)
    assert skipped is None or np.array_equal(skipped, dx)
    for n, p in module.named_parameters():
        np.testing.assert_array_equal(p.grad, grads[n], err_msg=n)


@pytest.mark.parametrize("name", sorted(
    n for n in SAMPLES if "device" in inspect.signature(getattr(nn, n)).parameters))
def test_device_cpu_is_accepted_and_other_devices_refused(name):
    """``device='cpu'`` builds the same module as ``device=None`` (torch's default is the
    CPU too); any other device is refused naming what scratch computes on."""
    cls = getattr(nn, name)
    scratch.manual_seed(0)
    default = cls(*_args(name)).state_dict()
    scratch.manual_seed(0)
    on_cpu = cls(*_args(name), device="cpu").state_dict()
    assert list(on_cpu) == list(default)
    for key in default:
        np.testing.assert_array_equal(on_cpu[key], default[key], err_msg=key)
    with pytest.raises(ValueError, match="cpu"):
        cls(*_args(name), device="cuda")


def test_lstm_takes_device_cpu_and_refuses_cuda():
    scratch.manual_seed(0)
    default = nn.LSTM(3, 4).state_dict()
    scratch.manual_seed(0)
    on_cpu = nn.LSTM(3, 4, device="cpu").state_dict()
    assert all(np.array_equal(on_cpu[k], default[k]) for k in default)
    with pytest.raises(ValueError, match="cpu"):
        nn.LSTM(3, 4, device="cuda")


@pytest.mark.parametrize("recurse", [True, False])
def test_buffers_with_and_without_recursion_equal_torchs(recurse):
    """A batch norm's running statistics are its own buffers, not its container's."""
    ours = nn.Sequential(nn.BatchNorm2d(2, dtype=np.float64))
    theirs = torch.nn.Sequential(torch.nn.BatchNorm2d(2, dtype=torch.float64))
    pairs = list(zip(ours.buffers(recurse), theirs.buffers(recurse), strict=True))
    assert len(pairs) == len(list(theirs.buffers(recurse))) == (3 if recurse else 0)
    for b, t in pairs:
        np.testing.assert_array_equal(b, t.numpy())
    assert len(ours[0].buffers(recurse=False)) == len(list(theirs[0].buffers(recurse=False)))


def test_max_unpool_backward_without_input_grad_gives_none_or_the_true_gradient():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    pooled, indices = nn.MaxPool2d(2, return_indices=True)(x)
    unpool = nn.MaxUnpool2d(2)
    out = unpool(pooled, indices)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    dx = unpool.backward(dout)
    unpool(pooled, indices)
    skipped = unpool.backward(dout, input_grad=False)
    assert skipped is None or np.array_equal(skipped, dx)


def test_adaptive_max_pool1d_returns_torchs_indices_and_gradient():
    """``return_indices=True``: the output and the argmax indices equal torch's, and the
    gradient still flows to the maxima."""
    x = np.random.default_rng(3).standard_normal((2, 3, 7))
    out, indices = nn.AdaptiveMaxPool1d(3, return_indices=True)(x)
    module = nn.AdaptiveMaxPool1d(3, return_indices=True)
    out, indices = module(x)
    tx = torch.tensor(x, requires_grad=True)
    t_out, t_indices = torch.nn.AdaptiveMaxPool1d(3, return_indices=True)(tx)
    np.testing.assert_array_equal(out, t_out.detach().numpy())
    np.testing.assert_array_equal(indices, t_indices.numpy())
    dout = np.random.default_rng(4).standard_normal(out.shape)
    t_out.backward(torch.from_numpy(dout))
    np.testing.assert_array_equal(module.backward(dout), tx.grad.numpy())
