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

import numpy as np

from scratch import checks


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
            raise RuntimeError(f"{type(self).__name__}.backward called before forward "
                               f"(each forward allows one backward)")
        checks.grad(self, dout, *self._out)
        cache, self._cache = self._cache, None
        return cache

    def _children(self) -> dict[str, "Module"]:
        """name -> child module, in order (containers override this)."""
        return {}

    def children(self):
        """The child modules, as torch's ``children()`` (an iterator)."""
        return iter(self._children().values())

    def named_children(self):
        """``(name, child)`` pairs, as torch's ``named_children()``."""
        return iter(self._children().items())

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
            yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                           remove_duplicate)

    def modules(self):
        """This module and every descendant, as torch's ``modules()``."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix=""):
        for name, p in self._params.items():
            yield prefix + name, p
        for cname, child in self._children().items():
            yield from child.named_parameters(f"{prefix}{cname}.")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def _named_arrays(self, prefix=""):
        """Parameter then buffer arrays of each module, depth first: torch's state_dict order."""
        for name, p in self._params.items():
            yield prefix + name, p.data
        for name, b in self._buffers.items():
            yield prefix + name, b
        for cname, child in self._children().items():
            yield from child._named_arrays(f"{prefix}{cname}.")

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed and ordered as torch's state_dict."""
        return {name: a.copy() for name, a in self._named_arrays()}

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays into this module in place; keys and shapes must match exactly."""
        targets = dict(self._named_arrays())
        missing = sorted(set(targets) - set(state))
        unexpected = sorted(set(state) - set(targets))
        if missing or unexpected:
            raise KeyError(f"state dict mismatch: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        for name, target in targets.items():
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(f"state dict entry {name!r} has shape {value.shape}, "
                                 f"expected {target.shape}")
            np.copyto(target, value, casting="same_kind")

    def train(self, mode=True):
        self.training = mode
        for child in self._children().values():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

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
