"""Layers that hold parameters and call the functional pairs, the twin of ``torch.nn``.

Every module has ``forward(x)`` (keeps what backward needs) and
``backward(dout)`` (returns ``dx`` and *sets* each parameter's ``.grad``;
it does not accumulate). Parameter and buffer names and shapes equal those of
the torch module of the same name, so ``state_dict()`` moves across by a
plain dict copy plus an array conversion.

Bad input is refused with an error naming the layer, what it expected and
what it got (see :mod:`scratch.checks`): ``ValueError`` for shapes and
values, ``TypeError`` for dtypes (a float input must have the parameters'
dtype: no hidden upcasting), ``RuntimeError`` for backward before forward.
``backward(dout)`` requires ``dout`` of the forward output's shape and dtype.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from scratch import checks


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` did not match (torch's ``_IncompatibleKeys``)."""
    missing_keys: list
    unexpected_keys: list

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")


def _dotted(prefix: str, name: str) -> str:
    """``'block.fc'``: a name below ``prefix`` (the root's prefix is ``''``)."""
    return f"{prefix}.{name}" if prefix else name


def _quoted(keys) -> str:
    return ", ".join(f'"{k}"' for k in keys) + ". "


class Parameter:
    """A trainable array and its gradient (None until a backward pass)."""
    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray):
        self.data = data
        self.grad = None

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class: named parameters, buffers and child modules."""

    def __init__(self):
        self.training = True
        self._buffers: dict[str, np.ndarray] = {}
        self._params: dict[str, Parameter] = {}    # last: attribute lookup starts with it
        self._cache = None
        self._out = None  # (shape, dtype) of the last forward output

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout, input_grad=True):
        raise NotImplementedError

    def _keep(self, out, cache):
        """Remember ``cache`` for backward and the output's shape and dtype; return ``out``."""
        self._cache, self._out = cache, (out.shape, out.dtype)
        return out

    def _take_cache(self, dout):
        """The forward cache (used once), after checking ``dout`` against the output."""
        if self._cache is None:
            raise backward_without_cache(self, forward_ran=self._out is not None)
        checks.grad(self, dout, *self._out)
        cache, self._cache = self._cache, None
        return cache

    def _children(self) -> dict[str, "Module"]:
        """name -> child module, in order (containers override this)."""
        return {}

    def children(self):
        """The child modules, each once, as torch's ``children()``."""
        for _, child in self.named_children():
            yield child

    def named_children(self):
        """``(name, child)`` pairs, a child held under two names given once, as torch's."""
        seen = set()
        for name, child in self._children().items():
            if id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """``(name, module)`` for this module (``prefix``, default ``''``) and every
        descendant, depth first, as torch's ``named_modules()``: ``'block.fc'``; a module
        reached twice is given once unless ``remove_duplicate=False``."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._children().items():
            yield from child.named_modules(memo, _dotted(prefix, name), remove_duplicate)

    def modules(self):
        """This module and every descendant, as torch's ``modules()``."""
        for _, module in self.named_modules():
            yield module

    def _named_members(self, members, prefix, recurse):
        """``(dotted name, member)`` of each module's ``members`` dict, each member once."""
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        seen = set()
        for module_name, module in modules:
            for name, member in members(module).items():
                if id(member) not in seen:
                    seen.add(id(member))
                    yield _dotted(module_name, name), member

    def named_parameters(self, prefix="", recurse=True):
        """``('fc1.weight', Parameter)`` pairs in torch's order (each module's own, then
        its children's), each parameter once, as torch's ``named_parameters()``."""
        yield from self._named_members(lambda m: m._params, prefix, recurse)

    def parameters(self, recurse=True) -> list[Parameter]:
        return [p for _, p in self.named_parameters(recurse=recurse)]

    def named_buffers(self, prefix="", recurse=True):
        """``('bn.running_mean', array)`` pairs, as torch's ``named_buffers()``."""
        yield from self._named_members(lambda m: m._buffers, prefix, recurse)

    def buffers(self, recurse=True) -> list[np.ndarray]:
        return [b for _, b in self.named_buffers(recurse=recurse)]

    def apply(self, fn):
        """``fn(module)`` on every child (recursively), then on this module; returns this
        module, as torch's ``apply`` (``model.apply(init_weights)``)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def _named_arrays(self):
        """Parameter then buffer arrays of each module, depth first, a module reached twice
        under each of its names: torch's state_dict keys and order."""
        for module_name, module in self.named_modules(remove_duplicate=False):
            for name, p in module._params.items():
                yield _dotted(module_name, name), p.data
            for name, b in module._buffers.items():
                yield _dotted(module_name, name), b

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed and ordered as torch's state_dict."""
        return {name: a.copy() for name, a in self._named_arrays()}

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> "IncompatibleKeys":
        """Copy arrays into this module in place, as torch's ``load_state_dict``.

        ``strict`` (default): the keys must be exactly this module's. Otherwise the
        matching keys are loaded and the others reported. A shape mismatch is an error
        either way. On any error a ``RuntimeError`` lists every problem (torch's
        wording) and nothing is copied (torch may have copied some entries by then).
        Returns ``(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, Mapping):    # torch's TypeError and wording
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        targets = dict(self._named_arrays())
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        errors = []
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + _quoted(missing))
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + _quoted(unexpected))
        values = {k: np.asarray(state_dict[k]) for k in targets if k in state_dict}
        errors += [f"size mismatch for {k}: copying an array of shape {v.shape}, the shape in "
                   f"this module is {targets[k].shape}." for k, v in values.items()
                   if v.shape != targets[k].shape]
        errors += [f"dtype mismatch for {k}: cannot copy {v.dtype} into {targets[k].dtype}."
                   for k, v in values.items()
                   if not np.can_cast(v.dtype, targets[k].dtype, casting="same_kind")]
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for name, value in values.items():
            np.copyto(targets[name], value, casting="same_kind")
        return IncompatibleKeys(missing, unexpected)

    def train(self, mode=True):
        self.training = mode
        for child in self._children().values():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True):
        """Every parameter's gradient to None (or, with ``set_to_none=False``, to zeros)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = np.zeros_like(p.grad)

    # ------------------------------------------------------------ torch's attribute access
    def __getattr__(self, name):
        """``layer.weight``, ``bn.running_mean``, ``model.fc1``: parameters (the
        :class:`Parameter`), buffers and child modules by name, as torch's."""
        state = self.__dict__
        if "_params" in state:                 # not during __init__ or unpickling
            for found in (state["_params"], state["_buffers"], self._children()):
                if name in found:
                    return found[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name, value):
        """Assigning to a parameter's, buffer's or child's name replaces it (torch's
        rule): a parameter takes only a :class:`Parameter`, a buffer an array, a child
        a module; anything else is refused rather than silently shadowing it."""
        state = self.__dict__
        if "_params" in state:
            for found, kind, cls, expected in (
                    (state["_params"], "parameter", Parameter, "scratch.nn.Parameter"),
                    (state["_buffers"], "buffer", np.ndarray, "numpy.ndarray"),
                    (self._children(), "child module", Module, "scratch.nn.Module")):
                if name in found:
                    if not isinstance(value, cls):
                        raise TypeError(f"cannot assign {type(value).__name__!r} as {kind} "
                                        f"{name!r} ({expected} expected)")
                    found[name] = value
                    return
        object.__setattr__(self, name, value)

    # ------------------------------------------------------------ torch's repr
    def extra_repr(self) -> str:
        """The arguments shown inside ``Name(...)``, as the torch module of the same name
        shows them (each module overrides this)."""
        return ""

    def __repr__(self):
        """torch's layout: ``Linear(in_features=4, out_features=2, bias=True)``, and a
        container's children one per line as ``(name): repr``, indented two spaces."""
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): " + repr(child).replace("\n", "\n  ")
                    for name, child in self._children().items()]
        if len(lines) == 1 and not children:
            return f"{type(self).__name__}({lines[0]})"
        if not lines and not children:
            return f"{type(self).__name__}()"
        body = "\n  ".join(lines + children)
        return f"{type(self).__name__}(\n  {body}\n)"


def backward_without_cache(module, forward_ran: bool) -> RuntimeError:
    """The error for a backward with no forward cache: none ran yet, or a backward used it."""
    name = type(module).__name__
    if forward_ran:
        return RuntimeError(f"{name}.backward called a second time after one forward: the "
                            f"first backward used up the forward's cache (each forward allows "
                            f"one backward; run forward again before the next backward)")
    return RuntimeError(f"{name}.backward called before forward (each forward allows one "
                        f"backward)")
