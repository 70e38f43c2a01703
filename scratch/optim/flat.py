"""Optimizer state dicts as flat NumPy arrays, for ``np.savez`` and reading back with
``allow_pickle=False`` (training checkpoints).

Layout: ``"<param index>.<key>"`` for each state entry (``"0.momentum_buffer"``,
``"3.step"``) and ``"param_groups"``: the groups as UTF-8 JSON in a uint8 array
(tuples and 0-d arrays tagged so they come back as they were).
"""
from __future__ import annotations

import json

import numpy as np

GROUPS_KEY = "param_groups"


def _encode(value):
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value):
    if isinstance(value, dict) and "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if isinstance(value, dict) and "__array__" in value:
        return np.array(value["__array__"], dtype=value["dtype"])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def flatten_state_dict(state_dict: dict) -> dict[str, np.ndarray]:
    """A (NumPy) optimizer state dict -> flat arrays (copies)."""
    arrays = {f"{i}.{key}": np.array(value, copy=True)
              for i, state in state_dict["state"].items() for key, value in state.items()}
    groups = [{k: _encode(v) for k, v in g.items()} for g in state_dict["param_groups"]]
    arrays[GROUPS_KEY] = np.frombuffer(json.dumps(groups).encode(), dtype=np.uint8).copy()
    return arrays


def unflatten_state_dict(arrays: dict[str, np.ndarray], param_groups=None) -> dict:
    """Flat arrays -> a state dict. Arrays saved without ``"param_groups"`` (checkpoints
    written before groups were saved) take ``param_groups`` as given."""
    state: dict[int, dict] = {}
    groups = param_groups
    for name, value in arrays.items():
        if name == GROUPS_KEY:
            groups = [{k: _decode(v) for k, v in g.items()}
                      for g in json.loads(np.asarray(value, np.uint8).tobytes().decode())]
            continue
        index, _, key = name.partition(".")
        if not index.isdigit() or not key:
            raise KeyError(f"optimizer state entry {name!r} is not '<param index>.<key>'")
        state.setdefault(int(index), {})[key] = np.array(value, copy=True)
    if groups is None:
        raise KeyError(f"no {GROUPS_KEY!r} among the arrays, and no param_groups given")
    return {"state": state, "param_groups": groups}
