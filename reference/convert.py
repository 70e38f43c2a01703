"""State-dict conversion between NumPy arrays (scratch) and torch tensors (reference):
module state dicts, and optimizer state dicts (buffers and parameter groups) both ways,
so a run can move between a scratch optimizer and its torch twin."""
from __future__ import annotations

import copy

import numpy as np
import torch

from scratch.optim.flat import flatten_state_dict, unflatten_state_dict


def to_torch_state(state: dict[str, np.ndarray], device="cpu", dtype=None) -> dict:
    """NumPy arrays -> tensors on ``device``; floating arrays cast to ``dtype`` when given.

    Integer buffers (BatchNorm's ``num_batches_tracked``) keep their integer type.
    """
    out = {}
    for name, value in state.items():
        t = torch.from_numpy(np.array(value, copy=True))
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        out[name] = t.to(device)
    return out


def to_numpy_state(state: dict[str, torch.Tensor], dtype=None) -> dict[str, np.ndarray]:
    """Tensors (any device) -> NumPy arrays; floating ones cast to ``dtype`` when given."""
    out = {}
    for name, t in state.items():
        a = t.detach().cpu().numpy().copy()
        if dtype is not None and np.issubdtype(a.dtype, np.floating):
            a = a.astype(dtype)
        out[name] = a
    return out


def load_numpy_state(module: torch.nn.Module, state: dict[str, np.ndarray]) -> None:
    """Copy a scratch ``state_dict()`` into a torch module, keeping the module's dtype/device."""
    ref = module.state_dict()
    missing, unexpected = sorted(set(ref) - set(state)), sorted(set(state) - set(ref))
    if missing or unexpected:
        raise KeyError(f"state dict mismatch: missing keys {missing}, "
                       f"unexpected keys {unexpected}")
    converted = {}
    for name, t in ref.items():
        value = torch.from_numpy(np.array(state[name], copy=True))
        if tuple(value.shape) != tuple(t.shape):
            raise ValueError(f"state dict entry {name!r} has shape {tuple(value.shape)}, "
                             f"expected {tuple(t.shape)}")
        converted[name] = value.to(device=t.device, dtype=t.dtype)
    module.load_state_dict(converted)


def _tensors_to_numpy(value):
    if torch.is_tensor(value):
        return value.detach().cpu().numpy().copy()
    if isinstance(value, (list, tuple)):
        return type(value)(_tensors_to_numpy(v) for v in value)
    return copy.deepcopy(value)


def _arrays_to_torch(value, device):
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True)).to(device)
    if isinstance(value, (list, tuple)):
        return type(value)(_arrays_to_torch(v, device) for v in value)
    return copy.deepcopy(value)


def optimizer_state_dict_to_numpy(state_dict: dict) -> dict:
    """A torch optimizer's ``state_dict()`` -> one a scratch optimizer loads: every tensor
    (state buffers, ``step``, a tensor lr or betas in a group) becomes a NumPy array."""
    return {"state": {i: {k: _tensors_to_numpy(v) for k, v in s.items()}
                      for i, s in state_dict["state"].items()},
            "param_groups": [{k: (list(v) if k == "params" else _tensors_to_numpy(v))
                              for k, v in g.items()} for g in state_dict["param_groups"]]}


def optimizer_state_dict_to_torch(state_dict: dict, device="cpu") -> dict:
    """A scratch optimizer's ``state_dict()`` -> one a torch optimizer loads: arrays become
    tensors (torch's ``load_state_dict`` then casts buffers to each parameter's dtype and
    device; ``step`` stays a float32 CPU tensor, as torch keeps it)."""
    return {"state": {i: {k: _arrays_to_torch(v, "cpu" if k == "step" else device)
                          for k, v in s.items()}
                      for i, s in state_dict["state"].items()},
            "param_groups": [{k: (list(v) if k == "params" else _arrays_to_torch(v, "cpu"))
                              for k, v in g.items()} for g in state_dict["param_groups"]]}


def optimizer_state_to_numpy(optimizer: torch.optim.Optimizer) -> dict[str, np.ndarray]:
    """A torch optimizer's state (buffers and parameter groups) as flat NumPy arrays, the
    layout of :func:`scratch.optim.flat.flatten_state_dict` (for ``.npz`` checkpoints)."""
    return flatten_state_dict(optimizer_state_dict_to_numpy(optimizer.state_dict()))


def load_optimizer_state(optimizer: torch.optim.Optimizer, arrays: dict[str, np.ndarray]) -> None:
    """Restore what :func:`optimizer_state_to_numpy` (or a scratch optimizer's flattened
    state) gave; arrays without parameter groups keep the optimizer's groups."""
    groups = optimizer_state_dict_to_numpy(optimizer.state_dict())["param_groups"]
    device = next(p.device for g in optimizer.param_groups for p in g["params"])
    optimizer.load_state_dict(optimizer_state_dict_to_torch(
        unflatten_state_dict(arrays, groups), device))
