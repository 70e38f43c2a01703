"""State-dict conversion between NumPy arrays (scratch) and torch tensors (reference)."""
from __future__ import annotations

import numpy as np
import torch


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


def optimizer_state_to_numpy(optimizer: torch.optim.Optimizer) -> dict[str, np.ndarray]:
    """A torch optimizer's per-parameter state as flat ``"<index>.<name>"`` NumPy arrays
    (the same layout as ``scratch.optim.Optimizer.state_dict``)."""
    return {f"{i}.{key}": (value.detach().cpu().numpy().copy() if torch.is_tensor(value)
                           else np.asarray(value))
            for i, state in optimizer.state_dict()["state"].items()
            for key, value in state.items()}


def load_optimizer_state(optimizer: torch.optim.Optimizer, arrays: dict[str, np.ndarray]) -> None:
    """Restore what :func:`optimizer_state_to_numpy` returned; hyperparameters stay as they are."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state: dict[int, dict] = {}
    for name, value in arrays.items():
        index, _, key = name.partition(".")
        i = int(index)
        state.setdefault(i, {})[key] = torch.from_numpy(np.array(value, copy=True)).to(
            params[i].device, params[i].dtype if np.asarray(value).ndim else None)
    optimizer.load_state_dict({"state": state,
                               "param_groups": optimizer.state_dict()["param_groups"]})
