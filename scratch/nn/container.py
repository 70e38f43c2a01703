"""Containers: ``Sequential`` (named layers in order, backward in reverse), and
``ModuleList`` / ``ModuleDict`` (children held in a list or a dict, as torch's), all
registering their layers as children in ``_modules``."""
from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping

from scratch import checks
from scratch.backends import fast
from scratch.nn.activation import ReLU
from scratch.nn.module import Module, _addindent, _typename
from scratch.nn.pooling import MaxPool2d


def _index(container, idx) -> int:
    """``idx`` as a position in ``0 .. len - 1`` (negative from the end), as torch's."""
    size = len(container)
    idx = operator.index(idx)
    if not -size <= idx < size:
        raise IndexError(f"index {idx} is out of range")
    return idx % size


def _renumber(container) -> None:
    """Names ``'0'``, ``'1'``, ... again after a deletion (torch's containers do this)."""
    object.__setattr__(container, "_modules", {str(i): m for i, m in
                                               enumerate(container._modules.values())})


class ModuleList(Module):
    """Child modules held in a list, as torch's ``ModuleList``: registered (so their
    parameters are the owner's), named ``'0'``, ``'1'``, ...; indexing (negative
    and slices), assignment, deletion (the rest renumbered), ``len``, iteration,
    ``append``, ``extend``, ``insert``, ``pop`` and ``+``. It has no forward or
    backward: the module that holds it calls its layers."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index(self, idx))]

    def __setitem__(self, idx, module):
        setattr(self, str(_index(self, idx)), module)

    def __delitem__(self, idx):
        if isinstance(idx, slice):
            for k in range(len(self._modules))[idx]:
                delattr(self, str(k))
        else:
            delattr(self, str(_index(self, idx)))
        _renumber(self)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        combined = ModuleList()
        for i, module in enumerate([*self, *other]):
            combined.add_module(str(i), module)
        return combined

    def append(self, module):
        """Add ``module`` at the end; returns this list."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]):
        """Append each module of the iterable ``modules``; returns this list."""
        if not isinstance(modules, Iterable):
            raise TypeError("ModuleList.extend should be called with an iterable, but got "
                            + type(modules).__name__)
        offset = len(self)
        for i, module in enumerate(modules):
            self.add_module(str(offset + i), module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``, as torch's for ``0 <= index <= len``;
        a negative index, or one past either end, as ``list.insert`` takes it (torch's
        raises ``KeyError`` for a negative index and leaves a gap past the end)."""
        if not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        n = len(self._modules)
        index = operator.index(index)
        index = min(max(index + n if index < 0 else index, 0), n)
        for i in range(n, index, -1):
            self._modules[str(i)] = self._modules[str(i - 1)]
        self._modules[str(index)] = module

    def pop(self, key):
        """Remove and return the module at ``key`` (the rest renumbered)."""
        module = self[key]
        del self[key]
        return module

    def __repr__(self):
        """torch's: runs of equal children compressed to ``(0-2): 3 x Linear(...)``."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return f"{self._get_name()}()"
        runs = []                                    # [start, end, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = [_addindent(f"({a}): {r}" if a == b else f"({a}-{b}): {b - a + 1} x {r}")
                 for a, b, r in runs]
        return f"{self._get_name()}(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """Child modules held in an ordered dict, as torch's ``ModuleDict``: registered under
    their keys; ``[]`` to get, set and delete, ``in``, ``len``, iteration over the
    keys, ``keys``, ``items``, ``values``, ``update``, ``pop`` and ``clear``. Built
    from a mapping or an iterable of ``(key, module)`` pairs."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self) -> None:
        self._modules.clear()

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules) -> None:
        """Add (or replace) the modules of a mapping, or of an iterable of
        ``(key, module)`` pairs, in their order."""
        if not isinstance(modules, Iterable):
            raise TypeError("ModuleDict.update should be called with an iterable of key/value "
                            "pairs, but got " + type(modules).__name__)
        if isinstance(modules, (Mapping, ModuleDict)):
            for key, module in modules.items():
                self[key] = module
            return
        for j, pair in enumerate(modules):
            if not isinstance(pair, Iterable):
                raise TypeError(f"ModuleDict update sequence element #{j} should be Iterable; "
                                f"is{type(pair).__name__}")
            if len(pair) != 2:
                raise ValueError(f"ModuleDict update sequence element #{j} has length "
                                 f"{len(pair)}; 2 is required")
            self[pair[0]] = pair[1]


class Sequential(Module):
    """Layers applied in order; ``backward`` runs them in reverse.

    As torch's: ``Sequential(Linear(4, 3), ReLU())`` names the layers ``'0'``,
    ``'1'``, ...; ``Sequential({'fc': Linear(4, 3), 'act': ReLU()})`` (a dict or
    an ``OrderedDict``) names them. ``model[0]``, ``model[-1]``, ``model[1:]``
    (a new Sequential of the same layers), ``len(model)``, iteration over the
    layers, ``model.fc`` and ``append`` work as in torch; ``model.layers`` is
    the name -> layer dict (the registered children, ``_modules``).

    The layers run in the order written, unless ``relu_after_max_pool`` is set
    (default False; :func:`scratch.model.build` sets it): then a ``ReLU``
    directly followed by a ``MaxPool2d`` runs after the pool instead, the same
    numbers for less work (see :func:`run_order`), and the ReLU's cache holds
    the pooled map's mask. ``scratch.backends.fast.enabled = False`` runs the
    written order even then. An error raised in forward names the layer that
    raised it, so bad input to such a pair is reported by the pool.
    """
    relu_after_max_pool = False      # opt-in fast path: see run_order

    def __init__(self, *args):
        super().__init__()
        for name, layer in checks.layers(self, args, Module).items():
            self.add_module(name, layer)
        self._order = None           # the order the last forward ran the layers in

    @property
    def layers(self) -> dict[str, Module]:
        """name -> layer, in order: the registered children."""
        return self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        """A layer by position (negative from the end), or a slice as a new Sequential."""
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(dict(items[idx]))
        if isinstance(idx, bool) or not hasattr(idx, "__index__"):
            raise TypeError(f"Sequential indices must be integers or slices, got {idx!r}")
        if not -len(items) <= idx < len(items):
            raise IndexError(f"index {idx} is out of range for a Sequential of "
                             f"{len(items)} layers")
        return items[idx][1]

    def append(self, module):
        """Add ``module`` at the end, named by its position; returns this Sequential."""
        checks.layers(self, (module,), Module)           # refuses anything but a module
        self.add_module(str(len(self)), module)
        return self

    def __setitem__(self, idx, module):
        setattr(self, list(self._modules)[_index(self, idx)], module)

    def __delitem__(self, idx):
        keys = list(self._modules)
        for key in (keys[idx] if isinstance(idx, slice) else [keys[_index(self, idx)]]):
            delattr(self, key)
        _renumber(self)

    def insert(self, index: int, module):
        """Insert ``module`` before position ``index`` (``-len <= index <= len``), as torch's."""
        checks.layers(self, (module,), Module)
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index}")
        index = index + n if index < 0 else index
        for i in range(n, index, -1):
            self._modules[str(i)] = self._modules[str(i - 1)]
        self._modules[str(index)] = module
        return self

    def extend(self, sequential):
        """Append each layer of ``sequential``; returns this Sequential."""
        for layer in sequential:
            self.append(layer)
        return self

    def pop(self, key):
        """Remove and return the layer at ``key`` (the rest renumbered)."""
        layer = self[key]
        del self[key]
        return layer

    def forward(self, x):
        """Errors raised by a layer are re-raised with its name: ``layer 'fc1' (Linear): ...``."""
        self._order = run_order(self._modules, self.relu_after_max_pool)
        try:
            for name, layer in self._order:
                x = layer.forward(x)
        except Exception as err:
            checks.name_layer(err, name, layer)
            raise
        return x

    def backward(self, dout, input_grad=True):
        """Backpropagate ``dout``; ``input_grad=False`` skips the gradient of the network input
        (returns None; a first layer without parameters computes it anyway, unused).

        ``dout`` is checked against the output of the last layer as written, so a
        wrong ``dout`` is blamed on that layer whatever order forward ran in.
        """
        written = list(self._modules.items())
        layers = self._order or written      # before forward: the layers' own error
        if not written:
            return dout if input_grad else None
        try:
            name, layer = written[-1]
            if self._order is not None and layers[-1][1] is not layer:
                checks.grad(layer, dout, *layer._out)
            for i, (name, layer) in enumerate(reversed(layers)):
                first = i == len(layers) - 1
                dout = layer.backward(dout, input_grad=input_grad or not first)
        except Exception as err:
            checks.name_layer(err, name, layer)
            raise
        self._order = None                   # a second backward: the written order's error
        return dout if input_grad else None


def run_order(layers: dict[str, Module],
              relu_after_max_pool: bool = False) -> list[tuple[str, Module]]:
    """The ``(name, layer)`` pairs in the order forward runs them: as written, or with
    ``relu_after_max_pool`` (and the fast paths on, :mod:`scratch.backends.fast`)
    each ``ReLU`` that directly precedes a ``MaxPool2d`` (without ``return_indices``)
    moved after it.

    ``max(relu(a), relu(b)) = relu(max(a, b))``: ReLU never changes which element
    of a window is the first maximum when that maximum is positive, and when it
    is not, ReLU's gradient zeroes the window's gradient in either order. So the
    outputs and every gradient are the same numbers (a zero gradient may differ
    in sign: this order gives torch's +0 where the written one gives -0), while
    ReLU's forward and backward passes run on the pooled map (4 times smaller
    after a 2x2 pool) instead of on the largest activation of the network.
    """
    order = list(layers.items())
    if not (relu_after_max_pool and fast.is_enabled()):
        return order
    for i in range(len(order) - 1):
        (_, first), (_, second) = order[i], order[i + 1]
        if (type(first) is ReLU and type(second) is MaxPool2d
                and not second.return_indices):
            order[i], order[i + 1] = order[i + 1], order[i]
    return order
