"""torch's empty parameter and buffer slots: a layer built without a bias (``bias=False``),
without affine parameters (``affine=False``, ``elementwise_affine=False``), without
running statistics (``track_running_stats=False``) or with separate q/k/v projections
keeps the names torch keeps, set to None (``layer.bias is None``, torch's
``register_parameter('bias', None)``), and leaves them out of ``state_dict()`` and
``named_parameters()``. Every scratch module with a ``bias=`` argument is covered, each
flag drawn; a torch state_dict loads strictly into the scratch layer."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from scratch import nn

FLAG = st.booleans()
# class -> (positional arguments, {keyword argument: strategy}): every flag that empties a slot
LAYERS = {
    "Linear": ((3, 2), {"bias": FLAG}),
    "Conv1d": ((2, 3, 3), {"bias": FLAG}),
    "Conv2d": ((2, 3, 3), {"bias": FLAG}),
    "ConvTranspose1d": ((2, 3, 3), {"bias": FLAG}),
    "ConvTranspose2d": ((2, 3, 3), {"bias": FLAG}),
    "BatchNorm1d": ((3,), {"affine": FLAG, "track_running_stats": FLAG, "bias": FLAG}),
    "BatchNorm2d": ((3,), {"affine": FLAG, "track_running_stats": FLAG, "bias": FLAG}),
    "BatchNorm3d": ((3,), {"affine": FLAG, "track_running_stats": FLAG, "bias": FLAG}),
    "InstanceNorm1d": ((3,), {"affine": FLAG, "track_running_stats": FLAG, "bias": FLAG}),
    "InstanceNorm2d": ((3,), {"affine": FLAG, "track_running_stats": FLAG, "bias": FLAG}),
    "GroupNorm": ((2, 4), {"affine": FLAG, "bias": FLAG}),
    "LayerNorm": ((4,), {"elementwise_affine": FLAG, "bias": FLAG}),
    "RMSNorm": ((4,), {"elementwise_affine": FLAG}),
    "MultiheadAttention": ((4, 2), {"bias": FLAG, "add_bias_kv": FLAG,
                                    "kdim": st.sampled_from([None, 3]),
                                    "vdim": st.sampled_from([None, 5])}),
    "RNNCell": ((3, 4), {"bias": FLAG}),
    "LSTMCell": ((3, 4), {"bias": FLAG}),
    "GRUCell": ((3, 4), {"bias": FLAG}),
    "RNN": ((3, 4), {"bias": FLAG, "num_layers": st.integers(1, 2)}),
    "LSTM": ((3, 4), {"bias": FLAG, "num_layers": st.integers(1, 2)}),
    "GRU": ((3, 4), {"bias": FLAG, "num_layers": st.integers(1, 2)}),
    "TransformerEncoderLayer": ((4, 2, 8), {"bias": FLAG}),
}
if not S.BATCH_NORM_HAS_BIAS:             # torch before the norms' bias= keyword (2.11)
    for name in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d",
                 "InstanceNorm2d"):
        LAYERS[name][1].pop("bias")


def test_every_module_with_a_bias_argument_is_covered():
    """A new module with bias= (or affine=, elementwise_affine=) joins LAYERS."""
    flags = {"bias", "affine", "elementwise_affine", "track_running_stats"}
    with_flags = {name for name in nn.__all__ if isinstance(getattr(nn, name), type)
                  and flags & set(inspect.signature(getattr(nn, name).__init__).parameters)}
    assert with_flags <= set(LAYERS), sorted(with_flags - set(LAYERS))


def slots(module):
    """``{dotted name: 'None' or 'set'}`` of every parameter and buffer slot, and of the
    plain attributes torch sets to None (MultiheadAttention's bias_k, bias_v), per module."""
    out = {}
    for prefix, m in module.named_modules():
        registered = (m._parameters, m._buffers) if isinstance(m, torch.nn.Module) else (
            m._params, m._buffers)
        for table in registered:
            for name, value in table.items():
                out[f"{prefix}.{name}"] = "None" if value is None else "set"
        for name in ("bias_k", "bias_v"):
            if f"{prefix}.{name}" not in out and name in vars(m):
                out[f"{prefix}.{name}"] = "None" if vars(m)[name] is None else "set"
    return out


@st.composite
def flags(draw, cls):
    """The class's positional arguments and its slot flags drawn."""
    args, strategies = LAYERS[cls]
    return cls, args, {k: draw(s, label=k) for k, s in strategies.items()}


@pytest.mark.parametrize("cls", sorted(LAYERS))
@given(data=st.data())
def test_empty_slots_are_none_as_torchs(cls, data):
    """Each slot torch keeps is kept, None exactly where torch's is None, reachable as an
    attribute (``layer.bias is None``); state_dict and named_parameters hold the same
    names in the same order, without the empty slots."""
    _, args, kwargs = data.draw(flags(cls), label="case")
    mine, theirs = getattr(nn, cls)(*args, **kwargs), getattr(torch.nn, cls)(*args, **kwargs)
    assert slots(mine) == slots(theirs)
    modules = dict(mine.named_modules())
    for prefix, m in theirs.named_modules():
        for name, value in [*m._parameters.items(), *m._buffers.items()]:
            assert (getattr(modules[prefix], name) is None) == (value is None), (prefix, name)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in mine.named_buffers()] == [n for n, _ in theirs.named_buffers()]


@pytest.mark.parametrize("cls", sorted(LAYERS))
@given(data=st.data())
def test_torchs_state_dict_loads_strictly(cls, data):
    """No missing and no unexpected key either way: an empty slot is in neither."""
    _, args, kwargs = data.draw(flags(cls), label="case")
    mine, theirs = getattr(nn, cls)(*args, **kwargs), getattr(torch.nn, cls)(*args, **kwargs)
    state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    mine.load_state_dict(state)
    for key, value in mine.state_dict().items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in
                            mine.state_dict().items()})


def test_linear_without_bias_uses_a_bias_assigned_later_as_torch():
    """``layer.bias = Parameter(...)`` fills the empty slot; forward then adds it, as in
    torch; ``layer.bias = None`` empties it again."""
    x = np.random.default_rng(0).standard_normal((2, 3))
    mine, theirs = nn.Linear(3, 2, bias=False, dtype=np.float64), torch.nn.Linear(
        3, 2, bias=False, dtype=torch.float64)
    theirs.weight.data = torch.from_numpy(mine.weight.data.copy())
    assert mine.bias is None and theirs.bias is None
    mine.bias = nn.Parameter(np.array([1.0, -2.0]))
    theirs.bias = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    np.testing.assert_allclose(mine(x), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-14)
    assert list(mine.state_dict()) == list(theirs.state_dict()) == ["weight", "bias"]
    mine.bias, theirs.bias = None, None
    assert list(mine.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert repr(mine) == repr(theirs)
