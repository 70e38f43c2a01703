"""One-step recurrent cells ``RNNCell``, ``LSTMCell`` and ``GRUCell``, as torch's
(torch keeps them in rnn.py).

``forward(input, hx=None)``: input (N, H_in) or unbatched (H_in,); hx (N, H) / (H,)
(``(h, c)`` for the LSTM cell), zeros when None. Returns h' (``(h', c')``).
``backward(dh[, dc])`` takes the upstream gradient of h' (and c'; None: zero) and returns
``(dx, dhx)`` (``(dx, (dh, dc))``), each of the shape of what forward received; every
parameter's ``.grad`` is set. Parameters ``weight_ih`` (G*H, H_in), ``weight_hh`` (G*H, H),
``bias_ih``, ``bias_hh`` (G*H,), G = 1, 4 (i, f, g, o) or 3 (r, z, n), all
U(-1/sqrt(H), 1/sqrt(H)) from the keyword-only ``generator`` (default: the one
:func:`scratch.manual_seed` seeds). The input and hx must have the parameters' dtype
(torch refuses a mix; so do we).
"""
from __future__ import annotations

import math

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch import random as R
from scratch.nn.module import Module, Parameter


class RNNCellBase(Module):
    """Parameters, shapes and checks shared by the three cells."""

    _gates = 1
    _states = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None, *,
                 generator=None):
        super().__init__()
        self.input_size = checks.count(self, "input_size", input_size)
        self.hidden_size = checks.count(self, "hidden_size", hidden_size)
        self.bias = checks.flag(self, "bias", bias)
        checks.device(self, device)
        dtype = checks.param_dtype(self, dtype)
        size = self._gates * self.hidden_size
        shapes = {"weight_ih": (size, self.input_size), "weight_hh": (size, self.hidden_size),
                  "bias_ih": (size,), "bias_hh": (size,)}
        for key, shape in shapes.items():           # bias=False: torch's empty bias slots
            self._params[key] = (Parameter(np.zeros(shape, dtype))
                                 if bias or key.startswith("weight") else None)
        self.reset_parameters(R.generator(type(self).__name__, generator))

    def reset_parameters(self, generator=None):
        """Every parameter U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), in state_dict order."""
        rng = R.generator(type(self).__name__, generator)
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters(recurse=False):
            p.data[...] = rng.uniform(-stdv, stdv, size=p.data.shape)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _weights(self):
        return tuple(None if self._params.get(k) is None else self._params[k].data
                     for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def _input(self, x):
        """Checks x; returns it as (N, H_in) and whether it was batched."""
        name = type(self).__name__
        dtype = self._params["weight_ih"].data.dtype
        checks.input_array(self, x, "(N, H_in) or unbatched (H_in,)", dtype=dtype)
        if x.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {x.ndim}D instead")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has inconsistent input_size: got {x.shape[-1]} "
                             f"expected {self.input_size}")
        return (x, True) if x.ndim == 2 else (x[None], False)

    def _state(self, h, x, batched, what):
        """A state as (N, H): zeros when None, else checked against x."""
        name = type(self).__name__
        if h is None:
            return np.zeros((x.shape[0], self.hidden_size), x.dtype)
        checks.input_array(self, h, "(N, hidden_size) or unbatched (hidden_size,)",
                           dtype=x.dtype, what=what)
        if h.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected hidden to be 1D or 2D, got {h.ndim}D instead")
        if h.ndim != (2 if batched else 1):
            raise ValueError(f"{name}: {what} must be {'2' if batched else '1'}-D for "
                             f"{'batched' if batched else 'unbatched'} input, got shape "
                             f"{h.shape}")
        h = h if batched else h[None]
        if h.shape[0] != x.shape[0]:
            raise ValueError(f"{name}: Input batch size {x.shape[0]} doesn't match hidden0 "
                             f"batch size {h.shape[0]}")
        if h.shape[1] != self.hidden_size:
            raise ValueError(f"{name}: hidden0 has inconsistent hidden_size: got "
                             f"{h.shape[1]}, expected {self.hidden_size}")
        return h

    def _grads_in(self, grads):
        """Check the upstream gradients against h' (None: zero); as (N, H)."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward "
                               f"(each forward allows one backward)")
        shape, dtype, batched = self._out
        result = []
        for what, g in grads:
            if g is None:
                g = np.zeros(shape, dtype)
            checks.grad(self, g, shape, dtype, what)
            result.append(g if batched else g[None])
        return result

    def _set_grads(self, dw_ih, dw_hh, db_ih, db_hh):
        self._params["weight_ih"].grad, self._params["weight_hh"].grad = dw_ih, dw_hh
        if db_ih is not None:
            self._params["bias_ih"].grad, self._params["bias_hh"].grad = db_ih, db_hh

    def _take(self):
        cache, self._cache = self._cache, None
        return cache, self._out[2]

    def __call__(self, input, hx=None):
        return self.forward(input, hx)


def _squeeze(a, batched):
    return a if batched else a[0]


class RNNCell(RNNCellBase):
    """``h' = act(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)``, act tanh or relu."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None, *, generator=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype, generator=generator)

    def forward(self, input, hx=None):
        x, batched = self._input(input)
        h, self._cache = F.rnn_step_forward(x, self._state(hx, x, batched, "hx"),
                                            *self._weights(), self.nonlinearity)
        self._out = (_squeeze(h, batched).shape, h.dtype, batched)
        return _squeeze(h, batched)

    def backward(self, dh):
        """dh of h''s shape (None: zero). Returns ``(dx, dhx)``."""
        (dh,) = self._grads_in([("dh", dh)])
        cache, batched = self._take()
        dx, dh0, dw_ih, dw_hh, db = F.rnn_step_backward(dh, cache)
        self._set_grads(dw_ih, dw_hh, db, None if db is None else db.copy())
        return _squeeze(dx, batched), _squeeze(dh0, batched)


class GRUCell(RNNCellBase):
    """One GRU step, gates r, z, n (see :mod:`scratch.functional.gru`)."""

    _gates = 3

    def forward(self, input, hx=None):
        x, batched = self._input(input)
        h, self._cache = F.gru_step_forward(x, self._state(hx, x, batched, "hx"),
                                            *self._weights())
        self._out = (_squeeze(h, batched).shape, h.dtype, batched)
        return _squeeze(h, batched)

    def backward(self, dh):
        """dh of h''s shape (None: zero). Returns ``(dx, dhx)``."""
        (dh,) = self._grads_in([("dh", dh)])
        cache, batched = self._take()
        dx, dh0, dw_ih, dw_hh, db_ih, db_hh = F.gru_step_backward(dh, cache)
        self._set_grads(dw_ih, dw_hh, db_ih, db_hh)
        return _squeeze(dx, batched), _squeeze(dh0, batched)


class LSTMCell(RNNCellBase):
    """One LSTM step, gates i, f, g, o; hx is ``(h, c)``."""

    _gates = 4

    def forward(self, input, hx=None):
        x, batched = self._input(input)
        if hx is None:
            h0 = c0 = None
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"LSTMCell expects hx as a tuple (h_0, c_0), got "
                            f"{type(hx).__name__}")
        else:
            h0, c0 = hx
        h0, c0 = (self._state(s, x, batched, w) for s, w in ((h0, "h_0"), (c0, "c_0")))
        h, c, self._cache = F.lstm_step_forward(x, h0, c0, *self._weights())
        self._out = (_squeeze(h, batched).shape, h.dtype, batched)
        return _squeeze(h, batched), _squeeze(c, batched)

    def backward(self, dh, dc=None):
        """dh, dc of h''s shape (None: zero). Returns ``(dx, (dh0, dc0))``."""
        dh, dc = self._grads_in([("dh", dh), ("dc", dc)])
        cache, batched = self._take()
        dx, dh0, dc0, dw_ih, dw_hh, db = F.lstm_step_backward(dh, dc, cache)
        self._set_grads(dw_ih, dw_hh, db, None if db is None else db.copy())
        return _squeeze(dx, batched), (_squeeze(dh0, batched), _squeeze(dc0, batched))
