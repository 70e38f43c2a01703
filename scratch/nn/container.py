"""``Sequential``: named layers in order, backward in reverse."""
from __future__ import annotations

from scratch import checks
from scratch.backends import fast
from scratch.nn.activation import ReLU
from scratch.nn.module import Module
from scratch.nn.pooling import MaxPool2d


class Sequential(Module):
    """Layers applied in order; ``backward`` runs them in reverse.

    As torch's: ``Sequential(Linear(4, 3), ReLU())`` names the layers ``'0'``,
    ``'1'``, ...; ``Sequential({'fc': Linear(4, 3), 'act': ReLU()})`` (a dict or
    an ``OrderedDict``) names them. ``model[0]``, ``model[-1]``, ``model[1:]``
    (a new Sequential of the same layers), ``len(model)``, iteration over the
    layers, ``model.fc`` and ``append`` work as in torch; ``model.layers`` is
    the name -> layer dict.

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
        self.layers = checks.layers(self, args, Module)
        self._order = None           # the order the last forward ran the layers in

    def _children(self):
        return self.__dict__.get("layers", {})

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers.values())

    def __getitem__(self, idx):
        """A layer by position (negative from the end), or a slice as a new Sequential."""
        items = list(self.layers.items())
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
        self.layers[str(len(self))] = module
        return self

    def forward(self, x):
        """Errors raised by a layer are re-raised with its name: ``layer 'fc1' (Linear): ...``."""
        self._order = run_order(self.layers, self.relu_after_max_pool)
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
        written = list(self.layers.items())
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
