"""Where your parameters and gradients live, and how their names map onto torch's.

An *accessor* reads and writes the parameters of a module-like object and
reads the gradients its ``backward`` left behind:

- :class:`NamedParameters`: ``obj.named_parameters()`` yields ``(name, p)``
  with ``p.data`` and ``p.grad`` (scratch's layers, and anything shaped alike);
- :class:`Dicts`: two dicts on the object, e.g. ``obj.params["W"]`` and
  ``obj.grads["W"]`` (the names of the two attributes are yours to give);
- :class:`Attributes`: one attribute per parameter and one per gradient,
  e.g. ``{"W": "dW", "b": "db"}`` for ``obj.W`` and ``obj.dW``.

Any object with the same methods serves as an accessor: ``names(obj)``,
``get(obj, name)``, ``set(obj, name, value)``, ``grad(obj, name)`` (None
when missing), ``clear(obj, name)`` and ``where(name)`` (for messages).

A :class:`Param` says which torch parameter one of yours is, and how its
layout differs: ``Param("weight", transpose=True)`` for a ``W`` stored as
(in, out) where ``torch.nn.Linear.weight`` is (out, in).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from reference.oracle.report import OracleError


class NamedParameters:
    """``obj.named_parameters()`` yielding ``(name, p)`` with ``p.data`` and ``p.grad``."""

    def names(self, obj) -> list[str]:
        return [name for name, _ in obj.named_parameters()]

    def get(self, obj, name):
        return dict(obj.named_parameters())[name].data

    def set(self, obj, name, value) -> None:
        dict(obj.named_parameters())[name].data = value

    def grad(self, obj, name):
        return dict(obj.named_parameters())[name].grad

    def clear(self, obj, name) -> None:
        dict(obj.named_parameters())[name].grad = None

    def where(self, name) -> str:
        return f"named_parameters()[{name!r}].grad"


@dataclass
class Dicts:
    """Parameters in ``getattr(obj, params)[name]``, gradients in ``getattr(obj, grads)[name]``."""
    params: str = "params"
    grads: str = "grads"

    def names(self, obj) -> list[str]:
        return list(_attribute(obj, self.params))

    def get(self, obj, name):
        return _attribute(obj, self.params)[name]

    def set(self, obj, name, value) -> None:
        _attribute(obj, self.params)[name] = value

    def grad(self, obj, name):
        return (getattr(obj, self.grads, None) or {}).get(name)

    def clear(self, obj, name) -> None:
        (getattr(obj, self.grads, None) or {}).pop(name, None)

    def where(self, name) -> str:
        return f"{self.grads}[{name!r}]"


@dataclass
class Attributes:
    """One attribute per parameter: ``{"W": "dW"}`` reads ``obj.W`` and, after
    backward, ``obj.dW``."""
    grads: dict

    def names(self, obj) -> list[str]:
        for name in self.grads:
            _attribute(obj, name)
        return list(self.grads)

    def get(self, obj, name):
        return getattr(obj, name)

    def set(self, obj, name, value) -> None:
        setattr(obj, name, value)

    def grad(self, obj, name):
        return getattr(obj, self.grads[name], None)

    def clear(self, obj, name) -> None:
        if hasattr(obj, self.grads[name]):
            setattr(obj, self.grads[name], None)

    def where(self, name) -> str:
        return f"attribute {self.grads[name]!r}"


def _attribute(obj, name):
    if not hasattr(obj, name):
        raise OracleError(f"{type(obj).__name__} has no attribute {name!r}; expected it to "
                          f"hold parameters (say where they are with params=Dicts(...) or "
                          f"params=Attributes(...))")
    return getattr(obj, name)


def find_accessor(obj, params=None):
    """``params`` if given, else the accessor the object's shape suggests (None if none fits)."""
    if params is not None:
        return params
    if callable(getattr(obj, "named_parameters", None)):
        return NamedParameters()
    if isinstance(getattr(obj, "params", None), dict):
        return Dicts()
    return None


def no_accessor_error(obj, needed: str) -> OracleError:
    return OracleError(
        f"cannot tell where {type(obj).__name__} keeps its parameters ({needed}): expected a "
        f"named_parameters() method or a 'params' dict. Say where they are, e.g. "
        f"params=Dicts('params', 'grads') or params=Attributes({{'W': 'dW', 'b': 'db'}}), "
        f"or params=Attributes({{}}) for a layer without parameters")


@dataclass(frozen=True)
class Param:
    """Which torch parameter one of yours is, and how to turn your layout into torch's.

    transpose: False (same layout), True (reverse the axes, ``W.T``) or an axes
        permutation for ``np.transpose``.
    to_torch / from_torch: any other layout change, as a pair of inverse
        functions (your array -> torch's, torch's gradient -> your layout),
        e.g. a reshape of a (1, M) bias into (M,).
    blocks: the order of stacked gate blocks along torch's first axis, as
        indices of your blocks: torch's block k is your block ``blocks[k]``.
        CS231n's LSTM stacks its gates i, f, o, g where torch stacks i, f, g, o:
        ``Param("weight_ih", transpose=True, blocks=(0, 1, 3, 2))``.
    """
    torch_name: str
    transpose: bool | tuple = False
    to_torch: Callable | None = None
    from_torch: Callable | None = None
    blocks: tuple | None = None

    def reorder(self, value, inverse=False):
        """Gate blocks along the first axis in torch's order (``inverse``: in yours)."""
        if self.blocks is None:
            return value
        order = np.argsort(self.blocks) if inverse else list(self.blocks)
        size = value.shape[0] // len(self.blocks)
        parts = [value[size * k:size * (k + 1)] for k in range(len(self.blocks))]
        parts = [parts[k] for k in order]
        if isinstance(value, np.ndarray):
            return np.concatenate(parts)
        import torch
        return torch.cat(parts)

    def _axes(self, ndim):
        if self.transpose is True:
            return tuple(reversed(range(ndim)))
        return tuple(self.transpose) if self.transpose else None

    def forward(self, value: np.ndarray) -> np.ndarray:
        """Your array in torch's layout."""
        axes = self._axes(value.ndim)
        if axes is not None:
            value = np.transpose(value, axes)
        if self.to_torch is not None:
            value = self.to_torch(value)
        return np.ascontiguousarray(self.reorder(value))

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """Torch's gradient in your layout (the inverse of :meth:`forward`)."""
        grad = self.reorder(grad, inverse=True)
        if self.from_torch is not None:
            grad = self.from_torch(grad)
        axes = self._axes(grad.ndim)
        if axes is not None:
            grad = np.transpose(grad, np.argsort(axes))
        return np.asarray(grad)


def resolve_mapping(yours: list[str], theirs: dict | None, required: set, mapping: dict | None,
                    counterpart: str) -> dict[str, Param]:
    """Your name -> :class:`Param`, checked both ways.

    ``theirs``: torch's parameter names (-> shapes or None); None when the
    counterpart accepts any keyword. ``required``: torch's names that one of
    yours must map onto. Unmapped names map to themselves.
    """
    mapping = dict(mapping or {})
    unknown = sorted(set(mapping) - set(yours))
    if unknown:
        raise OracleError(f"mapping names {unknown}, which your code does not have; "
                          f"your parameters are {yours}")
    bad = {k: v for k, v in mapping.items() if not isinstance(v, (str, Param))}
    if bad:
        raise OracleError(f"mapping values must be torch parameter names or Param(...); "
                          f"got {bad!r}")
    resolved = {n: _as_param(mapping.get(n, n)) for n in yours}
    strangers = [] if theirs is None else [n for n, p in resolved.items()
                                           if p.torch_name not in theirs]
    if strangers:
        name, target = strangers[0], resolved[strangers[0]].torch_name
        how = (f"mapping sends {name!r} to {target!r}" if name in mapping else
               f"your parameter {name!r} is not in mapping, so it keeps its name")
        raise OracleError(f"{how}, which {counterpart} does not have; its parameters "
                          f"are {sorted(theirs)} (map yours onto them with mapping=)")
    used = [p.torch_name for p in resolved.values()]
    twice = sorted({t for t in used if used.count(t) > 1})
    if twice:
        raise OracleError(f"mapping sends more than one of your parameters to {twice}")
    missing = sorted(set(required) - set(used))
    if missing:
        raise OracleError(f"{counterpart} has parameters {missing} that none of yours "
                          f"map onto (yours: {yours}); add them to mapping, or build the "
                          f"counterpart without them (e.g. bias=False)")
    return resolved


def _as_param(target) -> Param:
    return target if isinstance(target, Param) else Param(target)


def to_torch_layout(values: dict, mapping: dict[str, Param], shapes: dict | None,
                    counterpart: str) -> dict[str, np.ndarray]:
    """Your arrays -> torch's names and layout, shapes checked where torch declares them."""
    out = {}
    for name, value in values.items():
        param = mapping[name]
        converted = param.forward(value)
        want = (shapes or {}).get(param.torch_name)
        if want is not None and tuple(converted.shape) != tuple(want):
            hint = ("; it matches transposed: map it with Param(..., transpose=True)"
                    if converted.shape[::-1] == tuple(want) else "")
            raise OracleError(
                f"your {name!r} has shape {value.shape}, which becomes {converted.shape} in "
                f"torch's layout; {counterpart}'s {param.torch_name!r} has shape "
                f"{tuple(want)}{hint}")
        out[param.torch_name] = converted
    return out
