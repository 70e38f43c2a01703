"""The optimizer base class, the twin of ``torch.optim.Optimizer``.

Parameters live in ``param_groups``: a list of dicts, each with ``"params"``
(a list of :class:`~scratch.nn.Parameter`) and that group's hyperparameters;
hyperparameters a group does not give are filled in from ``defaults``, the
constructor's arguments. ``state`` maps each Parameter to its buffers
(momentum, moments, step count), created at its first update.

Hyperparameters are read from the group at every step, so a scheduler (or
you) may change ``group["lr"]`` between steps. A 0-d ``np.ndarray`` lr is
read at each step too (as torch reads a tensor lr), so filling it in place
changes the next step. Hyperparameters are applied as Python floats: a
float32 parameter stays float32 even when they are NumPy float64 scalars.

``state_dict()`` has torch's packed layout: ``{"state": {index: {...}},
"param_groups": [{..., "params": [indices]}]}``, indices counting the
parameters in group order. Unlike torch's, it is a snapshot (arrays and
groups are copies that later steps leave alone), and ``load_state_dict``
copies what it is given.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np

from scratch.nn.module import Parameter


class _Required:
    """A hyperparameter every group must give (torch's ``required``)."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()

def scalar(value) -> float:
    """A hyperparameter as a Python float (a 0-d array is read now, not at construction)."""
    return float(value)


def non_negative(value, message: str) -> None:
    """ValueError(message) unless ``value >= 0`` (NaN is refused too; torch's SGD lets a
    NaN lr through)."""
    if not 0.0 <= float(np.asarray(value).reshape(())):
        raise ValueError(message)


def check_lr(lr) -> None:
    """torch's check of ``lr``: a number or a 1-element array, not negative."""
    if isinstance(lr, np.ndarray) and lr.size != 1:
        raise ValueError("Tensor lr must be 1-element")
    non_negative(lr, f"Invalid learning rate: {lr}")


def check_switches(name: str, **switches) -> None:
    """Refuse fused/capturable/differentiable=True. Scratch has one implementation,
    torch's single-tensor arithmetic (what torch runs on the CPU by default); foreach
    is accepted and changes nothing (torch's multi-tensor path agrees within
    rounding), the others ask for what NumPy cannot do."""
    for key, value in switches.items():
        if value:
            raise ValueError(f"{name}({key}=True): scratch has only torch's single-tensor "
                             f"implementation; leave {key} at its default")


def lerp_(start: np.ndarray, end, weight: float) -> None:
    """``start.lerp_(end, weight)`` in place, as torch evaluates it: for a weight >= 0.5
    the form ``end - (end - start) * (1 - weight)`` avoids the cancellation in
    ``start - weight * start`` (``1 - weight`` rounded in the array's dtype)."""
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - start.dtype.type(weight))


def new_step() -> np.ndarray:
    """The step count as torch keeps it on the CPU: a float32 scalar, here a 0-d array
    (incremented in place; exact up to 2**24 steps, as torch's)."""
    return np.zeros((), np.float32)


class Optimizer:
    """Base class: parameter groups, state, ``zero_grad`` and state dicts.

    Args:
        params: an iterable of Parameters, of ``(name, Parameter)`` pairs, or of
            dicts defining parameter groups (``{"params": [...], "lr": ...}``).
        defaults: the hyperparameters a group does not specify.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        if isinstance(params, Parameter):
            raise TypeError("params argument given to the optimizer should be an iterable "
                            "of Parameters or dicts, but got scratch.nn.Parameter")
        self.state: dict = {}
        self.param_groups: list[dict] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __repr__(self):
        """torch's layout: each group after a blank line, its keys sorted."""
        text = f"{type(self).__name__} ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            text += "".join(f"    {k}: {group[k]}\n" for k in sorted(group) if k != "params")
        return text + ")"

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict) -> None:
        """Append a group; its missing hyperparameters come from ``defaults``.

        As torch: a set of params is refused (its order changes between runs), every
        param must be a Parameter, all or none of the groups give names, and a
        parameter may belong to one group only.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Parameter):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        param_group["params"] = params
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. "
                                 "Some param names are missing")
            param_group["param_names"] = names
        for p in params:
            if not isinstance(p, Parameter):
                hint = (" (wrap arrays in scratch.nn.Parameter)"
                        if isinstance(p, np.ndarray) else "")
                raise TypeError("optimizer can only optimize Parameters, but one of the "
                                f"params is {type(p).__module__}.{type(p).__qualname__}{hint}")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if not seen.isdisjoint(id(p) for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Set every gradient to None (or, with ``set_to_none=False``, fill it with 0)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad[...] = 0

    # ------------------------------------------------------------------ stepping
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s
        loss when a closure is given (called first, as torch does)."""
        loss = None if closure is None else closure()
        for group in self.param_groups:
            for p, grad in self._with_grads(group):
                state = self.state.get(p, {})
                self._update(p, grad, state, group)
                if state:  # SGD without momentum keeps no state, as torch's
                    self.state[p] = state
        return loss

    def _with_grads(self, group):
        """(param, grad) for the group's params whose grad is not None; the grad negated
        under ``maximize``; a grad of another shape or dtype is refused."""
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            grad = np.asarray(grad)
            if grad.shape != p.data.shape or grad.dtype != p.data.dtype:
                error = ValueError if grad.shape != p.data.shape else TypeError
                raise error(f"{type(self).__name__}.step: a parameter of shape "
                            f"{p.data.shape} and dtype {p.data.dtype} has a .grad of "
                            f"shape {grad.shape} and dtype {grad.dtype}")
            yield p, (-grad if group.get("maximize") else grad)

    def _update(self, p: Parameter, grad: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ state dicts
    def state_dict(self) -> dict:
        """``{"state": {index: {key: value}}, "param_groups": [...]}`` as torch packs it:
        indices number the parameters in group order; a copy, not a view."""
        index: dict[int, int] = {}
        groups = []
        start = 0
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {index[id(p)]: {k: _copy(v) for k, v in s.items()}
                 for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what :meth:`state_dict` returned (from scratch, or a torch state dict
        converted by ``reference.convert.optimizer_state_to_numpy``).

        The saved groups replace the current ones (keeping the current parameters);
        state arrays are copied in the parameter's dtype, ``step`` as it was saved.
        """
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't "
                             "match the size of optimizer's group")
        id_map = {saved: p for g, s in zip(groups, saved_groups)
                  for saved, p in zip(s["params"], g["params"])}
        state: dict = {}
        for key, values in state_dict["state"].items():
            if key not in id_map:
                raise KeyError(f"optimizer state for parameter id {key!r}, which no parameter "
                               f"group lists (ids: {sorted(id_map)})")
            p = id_map[key]
            state[p] = {name: _cast(name, value, p, key) for name, value in values.items()}
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
        self.state = state
        self.param_groups = saved_groups


def _copy(value):
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else copy.deepcopy(value)


def _cast(name: str, value, p: Parameter, key) -> np.ndarray:
    """A copy of a loaded state entry: ``step`` as saved, arrays in the parameter's dtype
    and of its shape."""
    value = np.array(value, copy=True)
    if name == "step":  # a count saved as an integer becomes torch's float32 step
        return value.astype(np.float32) if value.dtype.kind in "iub" else value
    if name in ("mu_product", "eta", "mu") and value.ndim == 0:   # NAdam's, ASGD's scalars:
        return value.astype(p.data.dtype)                         # torch casts them too
        return value.astype(p.data.dtype)
    if value.shape != p.data.shape:
        raise ValueError(f"optimizer state {name!r} of parameter {key} has shape "
                         f"{value.shape}, expected {p.data.shape}")
    return value.astype(p.data.dtype, copy=False)
