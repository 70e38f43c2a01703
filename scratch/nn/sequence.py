"""Recurrent layers inside a ``Sequential``: one array in, one array out.

``Rows`` turns (N, C, H, W) images into (N, C*H, W) sequences (torch's
``nn.Flatten(1, 2)``). ``RNNOutput`` / ``LSTMOutput`` / ``GRUOutput`` are the recurrent layers
with ``batch_first=True`` whose forward returns ``output[:, -1]`` (N, D*H)
when ``last_step`` (else the whole output (N, L, D*H)); the final states are
dropped, so their upstream gradients are zero. Parameter names are those of
``RNN`` / ``LSTM`` / ``GRU``, as in the torch mirror (``reference.model``).
"""
from __future__ import annotations

import numpy as np

from scratch import checks
from scratch.nn.module import Module
from scratch.nn.rnn import GRU, LSTM, RNN


class Rows(Module):
    """(N, C, H, W) -> (N, C*H, W)."""

    def forward(self, x):
        checks.input_array(self, x, "(N, C, H, W)", (4,))
        self._cache, self._out = x.shape, ((x.shape[0], x.shape[1] * x.shape[2], x.shape[3]),
                                           x.dtype)
        return x.reshape(self._out[0])

    def backward(self, dout, input_grad=True):
        return dout.reshape(self._take_cache(dout))


class _Output:
    """Mixin over RNN / LSTM: forward(x) -> last step or whole output; backward(dout) -> dx."""

    def __init__(self, *args, last_step=True, **kwargs):
        super().__init__(*args, batch_first=True, **kwargs)
        self.last_step = last_step

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        out, _ = super().forward(x)
        self._sequence_shape = out.shape
        return out[:, -1] if self.last_step else out

    def backward(self, dout, input_grad=True):
        if self.last_step and self._cache is not None:
            checks.grad(self, dout, self._sequence_shape[:1] + self._sequence_shape[2:],
                        self._out[1])
            full = np.zeros(self._sequence_shape, dout.dtype)
            full[:, -1] = dout
            dout = full
        dx, _ = super().backward(dout)
        return dx


class RNNOutput(_Output, RNN):
    """``RNN(..., batch_first=True)`` whose forward returns one array (see the module doc)."""


class LSTMOutput(_Output, LSTM):
    """``LSTM(..., batch_first=True)`` whose forward returns one array (see the module doc)."""


class GRUOutput(_Output, GRU):
    """``GRU(..., batch_first=True)`` whose forward returns one array (see the module doc)."""
