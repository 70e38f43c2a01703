"""``Sequential``: named layers in order, backward in reverse."""
from __future__ import annotations

from scratch import checks
from scratch.nn.module import Module


class Sequential(Module):
    """Named layers applied in order; ``backward`` runs them in reverse."""

    def __init__(self, layers: dict[str, Module]):
        super().__init__()
        self.layers = checks.layers(self, layers, Module)

    def children(self):
        return self.layers

    def forward(self, x):
        """Errors raised by a layer are re-raised with its name: ``layer 'fc1' (Linear): ...``."""
        try:
            for name, layer in self.layers.items():
                x = layer.forward(x)
        except Exception as err:
            checks.name_layer(err, name, layer)
            raise
        return x

    def backward(self, dout, input_grad=True):
        """Backpropagate ``dout``; ``input_grad=False`` skips the gradient of the network input."""
        layers = list(self.layers.items())
        try:
            for i, (name, layer) in enumerate(reversed(layers)):
                first = i == len(layers) - 1
                dout = layer.backward(dout, input_grad=input_grad or not first)
        except Exception as err:
            checks.name_layer(err, name, layer)
            raise
        return dout
