"""Recurrent layers ``RNN``, ``LSTM``, ``GRU`` and the one-step cells ``RNNCell``,
``LSTMCell``, ``GRUCell``, with torch's constructor and call conventions.

``forward(input, hx=None)`` returns ``(output, h_n)`` (RNN) or
``(output, (h_n, c_n))`` (LSTM), for input (L, N, H_in), (N, L, H_in) with
``batch_first=True``, or unbatched (L, H_in). States are
(num_layers * num_directions, N, H) ((.., H) unbatched), zeros when ``hx`` is None.

``backward(dout, dh_n=None[, dc_n=None])`` backpropagates through time the
upstream gradients of the output and of the final states (None: zero) and
returns ``(dx, dh0)`` (RNN) or ``(dx, (dh0, dc0))`` (LSTM), each of the shape of
what forward received; every parameter's ``.grad`` is set (not accumulated).

Parameters, in torch's state_dict order, per layer ``k`` and direction
(suffix ``_reverse`` for the backward direction of a bidirectional layer):
``weight_ih_l{k}`` (G*H, H_in or D*H), ``weight_hh_l{k}`` (G*H, H),
``bias_ih_l{k}``, ``bias_hh_l{k}`` (G*H,), G = 1 (RNN), 4 (LSTM, gates i, f, g, o)
or 3 (GRU, gates r, z, n; see :mod:`scratch.functional.rnn`). A GRU's ``bias_ih`` and
``bias_hh`` get different gradients: ``b_hn`` is multiplied by the reset gate.
All start as U(-1/sqrt(H), 1/sqrt(H)) like torch's ``reset_parameters``,
drawn from the keyword-only ``generator`` (a NumPy Generator or an int seed) or
``seed``; with neither, from the default generator that :func:`scratch.manual_seed`
seeds (as ``Linear`` and ``Conv2d``).

Dropout between stacked layers (``dropout > 0``, ``num_layers > 1``, training mode):
the output of every layer but the last is multiplied by a keep-mask / (1 - p) of
its time-major shape (L, N, D*H) (N = 1 unbatched), as torch does; the masks are
drawn from the layer's generator (``generator``/``seed``, after the weights), the
last ones kept in ``layer.masks``; setting ``layer.mask_source`` to a callable
``f(layer_output, layer_index) -> mask`` hands them in instead (to share torch's).
With one layer torch applies no dropout and warns; so do we.

``LSTM(proj_size=P)`` (0 < P < hidden_size) projects each step's hidden state to P
features with ``weight_hr_l{k}`` (P, H) (torch's): the output, h_0 and h_n have P
features, c_0 and c_n keep H, and ``weight_hh_l{k}`` is (4H, P).

The cells ``RNNCell``, ``LSTMCell`` and ``GRUCell`` (after the sequence layers):
``forward(input, hx=None)``: input (N, H_in) or unbatched (H_in,); hx (N, H) / (H,)
(``(h, c)`` for the LSTM cell), zeros when None. Returns h' (``(h', c')``).
``backward(dh[, dc])`` takes the upstream gradient of h' (and c'; None: zero) and returns
``(dx, dhx)`` (``(dx, (dh, dc))``), each of the shape of what forward received; every
parameter's ``.grad`` is set. Parameters ``weight_ih`` (G*H, H_in), ``weight_hh`` (G*H, H),
``bias_ih``, ``bias_hh`` (G*H,), G = 1, 4 (i, f, g, o) or 3 (r, z, n), all
U(-1/sqrt(H), 1/sqrt(H)) from the keyword-only ``generator`` (default: the one
:func:`scratch.manual_seed` seeds). The input and hx must have the parameters' dtype
(torch refuses a mix; so do we).

Not implemented (refused with a clear error): devices other than the CPU.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch import random as R
from scratch.nn.module import Module, Parameter, backward_without_cache


def _check_bool(layer, what, value):
    if not isinstance(value, bool):
        raise TypeError(f"{layer}: {what} should be of type bool, got: {type(value).__name__}")


def _check_size(layer, what, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{layer}: {what} should be of type int, got: {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{layer}: {what} must be greater than zero, got {value}")
    return int(value)


class RNNBase(Module):
    """Shared by :class:`RNN` and :class:`LSTM`: parameters, shapes, layers and directions."""

    _gates = 1

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None,
                 *, generator=None, seed=None):
        super().__init__()
        name = type(self).__name__
        self.input_size = _check_size(name, "input_size", input_size)
        self.hidden_size = _check_size(name, "hidden_size", hidden_size)
        self.num_layers = _check_size(name, "num_layers", num_layers)
        for what, value in (("bias", bias), ("batch_first", batch_first),
                            ("bidirectional", bidirectional)):
            _check_bool(name, what, value)
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        if (isinstance(dropout, bool) or not isinstance(dropout, numbers.Number)
                or not 0 <= dropout <= 1):
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing "
                             f"the probability of an element being zeroed, got {dropout!r}")
        self.dropout = float(dropout)
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn(f"{name}: dropout option adds dropout after all but last recurrent "
                          f"layer, so non-zero dropout expects num_layers greater than 1, but "
                          f"got dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        self.proj_size = self._check_proj_size(name, proj_size)
        self._out_size = self.proj_size or self.hidden_size     # h's size: P or H
        if device is not None and str(device) != "cpu":
            raise ValueError(f"{name}: scratch layers live on the CPU (NumPy), got "
                             f"device={device!r}; use device=None or 'cpu'")
        dtype = checks.param_dtype(self, np.float32 if dtype is None else dtype)

        self.num_directions = 2 if bidirectional else 1
        size = self._gates * self.hidden_size
        for layer in range(self.num_layers):
            width = self.input_size if layer == 0 else self._out_size * self.num_directions
            for suffix in ("", "_reverse")[:self.num_directions]:
                shapes = {"weight_ih": (size, width), "weight_hh": (size, self._out_size)}
                if bias:
                    shapes.update(bias_ih=(size,), bias_hh=(size,))
                if self.proj_size:
                    shapes["weight_hr"] = (self.proj_size, self.hidden_size)
                for key, shape in shapes.items():
                    self._params[f"{key}_l{layer}{suffix}"] = Parameter(np.zeros(shape, dtype))
        self.generator = R.generator(name, generator if generator is not None else seed)
        self.reset_parameters(self.generator)
        self.mask_source, self.masks = None, []

    @staticmethod
    def _check_proj_size(name, proj_size):
        if proj_size != 0:
            raise ValueError(f"proj_size argument is only supported for LSTM, not {name}")
        return 0

    def reset_parameters(self, generator: np.random.Generator):
        """Every parameter U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), in state_dict order."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self._params.values():
            p.data[...] = generator.uniform(-stdv, stdv, size=p.data.shape)

    def _weights(self, layer, direction):
        """``(w_ih, w_hh, b_ih, b_hh[, w_hr])`` arrays of one layer and direction (biases
        None; ``w_hr`` only with a projection)."""
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        keys = ("weight_ih", "weight_hh", "bias_ih", "bias_hh") + (
            ("weight_hr",) if self.proj_size else ())
        return tuple(self._params[k + suffix].data if k + suffix in self._params else None
                     for k in keys)

    # ------------------------------------------------------------------ shapes
    def _state_shape(self, batch, size=None):
        """(layers*directions, N, size) ((.., size) unbatched); size: hidden_size by default."""
        layers, size = self.num_layers * self.num_directions, size or self.hidden_size
        return (layers, size) if batch is None else (layers, batch, size)

    def _to_time_major(self, x):
        """Checks the input; returns it as (L, N, H_in) and N (None when unbatched)."""
        name = type(self).__name__
        dtype = self._params["weight_ih_l0"].data.dtype
        checks.input_array(self, x, "(L, N, H_in), (N, L, H_in) with batch_first=True, or "
                           "unbatched (L, H_in)", (2, 3), dtype=dtype)
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input.size(-1) must be equal to input_size. Expected "
                             f"{self.input_size}, got {x.shape[-1]} (input shape {x.shape})")
        if x.ndim == 2:
            x, batch = x[:, None], None
        else:
            if self.batch_first:
                x = np.ascontiguousarray(x.transpose(1, 0, 2))  # (L, N, H_in); x[t] contiguous
            batch = x.shape[1]
        if x.shape[0] == 0:
            raise ValueError(f"{name}: the sequence must have at least one step, got input "
                             f"of shape {x.shape}")
        return x, batch

    def _from_time_major(self, out, batch):
        if batch is None:
            return out[:, 0]
        return out.transpose(1, 0, 2) if self.batch_first else out

    def _state(self, state, batch, dtype, what, size=None):
        """An initial state as (layers*directions, N, size); zeros when ``state`` is None."""
        shape = self._state_shape(batch, size)
        if state is None:
            return np.zeros(self._state_shape(1 if batch is None else batch, size), dtype)
        checks.input_array(self, state, str(shape), (), dtype=dtype, what=what)
        if state.shape != shape:
            raise ValueError(f"{type(self).__name__}: expected {what} of shape {shape} "
                             f"(num_layers * num_directions, N, hidden_size) for input with "
                             f"batch {batch}, got {state.shape}")
        return state if batch is not None else state[:, None]

    def _unbatch(self, state, batch):
        return state[:, 0] if batch is None else state

    # ------------------------------------------------------------------ layers
    def _run(self, x, states):
        """Every layer and direction over time-major ``x``; states: tuple of (layers*D, N, H).

        Returns the top layer's output (L, N, D*H) and the final states, each as ``states``.
        """
        finals = [np.empty_like(s) for s in states]
        caches, self.masks, self._drop = [], [], []
        for layer in range(self.num_layers):
            if layer:                                       # dropout between layers
                x, scale = F.dropout_forward(x, self.dropout, self._layer_mask(x, layer - 1))
                self._drop.append(scale)
            outs = []
            for d in range(self.num_directions):
                k = layer * self.num_directions + d
                seq = x[::-1] if d else x
                out, *final, cache = self._sequence_forward(
                    seq, *(s[k] for s in states), *self._weights(layer, d))
                outs.append(out[::-1] if d else out)
                for f, value in zip(finals, [out[-1], *final]):
                    f[k] = value
                caches.append(cache)
            x = np.concatenate(outs, axis=2) if self.num_directions == 2 else outs[0]
        self._cache = caches
        return x, finals

    def _layer_mask(self, out, index):
        """The keep-mask for the output (L, N, D*H) of layer ``index``, or None (no dropout)."""
        if not self.training or self.dropout == 0:
            return None
        if self.dropout == 1:                               # torch: zeros, nothing drawn
            mask = np.zeros(out.shape)
        elif self.mask_source is not None:
            mask = np.asarray(self.mask_source(out, index), np.float64)
            if mask.shape != out.shape:
                raise ValueError(f"{type(self).__name__}: mask_source gave a mask of shape "
                                 f"{mask.shape} for layer {index}, expected {out.shape}")
        else:
            mask = F.draw_keep_mask(self.generator, out.shape, self.dropout)
        self.masks.append(mask)
        return mask

    def _run_backward(self, dout, dfinals):
        """Reverse of :meth:`_run`: returns dx (L, N, H_in) and the initial-state gradients."""
        caches, self._cache = self._cache, None
        dinit = [np.empty_like(d) for d in dfinals]
        h = self._out_size
        for layer in reversed(range(self.num_layers)):
            dx = 0
            for d in range(self.num_directions):
                k = layer * self.num_directions + d
                dseq = dout[..., d * h:(d + 1) * h]
                grads = self._sequence_backward(dseq[::-1] if d else dseq,
                                                *(g[k] for g in dfinals),
                                                caches[k])
                dx_dir, *dstates = grads[:1 + len(dfinals)]
                dx = dx + (dx_dir[::-1] if d else dx_dir)
                for g, value in zip(dinit, dstates):
                    g[k] = value
                self._set_grads(layer, d, *grads[1 + len(dfinals):])
            dout = F.dropout_backward(dx, self._drop[layer - 1]) if layer else dx
        return dout, dinit

    def _set_grads(self, layer, direction, dw_ih, dw_hh, db, dw_hr=None):
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        if dw_hr is not None:
            self._params["weight_hr" + suffix].grad = dw_hr
        self._params["weight_ih" + suffix].grad = dw_ih
        self._params["weight_hh" + suffix].grad = dw_hh
        if db is not None:
            self._params["bias_ih" + suffix].grad = db
            self._params["bias_hh" + suffix].grad = db.copy()

    def _check_backward(self, dout, dstates):
        if self._cache is None:
            raise backward_without_cache(self, forward_ran=self._out is not None)
        shape, dtype, state_shape, batch, *cell_shape = self._out
        checks.grad(self, dout, shape, dtype)
        result = []
        for what, g in dstates:
            if g is not None:
                checks.grad(self, g, cell_shape[0] if what == "dc_n" else state_shape, dtype,
                            what)
                g = g if batch is not None else g[:, None]
            result.append(g)
        return result

    def __call__(self, input, hx=None):
        return self.forward(input, hx)

    def extra_repr(self):
        """torch's: the sizes, then only the arguments that differ from their defaults
        (``nonlinearity`` is not shown, as in torch)."""
        s = f"{self.input_size}, {self.hidden_size}"
        shown = (("proj_size", 0), ("num_layers", 1), ("bias", True), ("batch_first", False),
                 ("dropout", 0), ("bidirectional", False))
        for name, default in shown:
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)``,
    act = tanh or relu, as ``torch.nn.RNN``."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None,
                 *, generator=None, seed=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' "
                             f"or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype, generator=generator, seed=seed)

    def _sequence_forward(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        out, cache = F.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, self.nonlinearity)
        return out, cache

    def _sequence_backward(self, dout, dh_n, cache):
        return F.rnn_backward(dout, dh_n, cache)

    def forward(self, input, hx=None):
        """input (L, N, H_in) / (N, L, H_in) / (L, H_in); hx (layers*D, N, H) / (layers*D, H).

        Returns ``(output, h_n)``: output (L, N, D*H) (batch_first: (N, L, D*H);
        unbatched: (L, D*H)), h_n of hx's shape.
        """
        x, batch = self._to_time_major(input)
        h0 = self._state(hx, batch, x.dtype, "hx")
        out, (h_n,) = self._run(x, (h0,))
        output = self._from_time_major(out, batch)
        h_n = self._unbatch(h_n, batch)
        self._out = (output.shape, output.dtype, h_n.shape, batch)
        return output, h_n

    def backward(self, dout, dh_n=None):
        """dout of output's shape, dh_n of h_n's (None: zero). Returns ``(dx, dh0)``."""
        (dh_n,) = self._check_backward(dout, [("dh_n", dh_n)])
        batch = self._out[3]
        dout = dout[:, None] if batch is None else (
            dout.transpose(1, 0, 2) if self.batch_first else dout)
        if dh_n is None:
            dh_n = np.zeros(self._state_shape(1 if batch is None else batch), dout.dtype)
        dx, (dh0,) = self._run_backward(dout, [dh_n])
        return self._from_time_major(dx, batch), self._unbatch(dh0, batch)


class LSTM(RNNBase):
    """Long short-term memory, as ``torch.nn.LSTM`` (gates i, f, g, o)."""

    _gates = 4

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None,
                 *, generator=None, seed=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype, generator=generator,
                         seed=seed)

    def _check_proj_size(self, name, proj_size):
        if isinstance(proj_size, bool) or not isinstance(proj_size, (int, np.integer)):
            raise TypeError(f"{name}: proj_size should be of type int, got: "
                            f"{type(proj_size).__name__}")
        if proj_size < 0:
            raise ValueError(f"{name}: proj_size should be a positive integer or zero to "
                             f"disable projections, got {proj_size}")
        if proj_size >= self.hidden_size:
            raise ValueError(f"{name}: proj_size has to be smaller than hidden_size, got "
                             f"proj_size={proj_size} and hidden_size={self.hidden_size}")
        return int(proj_size)

    def _sequence_forward(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr=None):
        return F.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)

    def _sequence_backward(self, dout, dh_n, dc_n, cache):
        return F.lstm_backward(dout, dh_n, dc_n, cache)

    def forward(self, input, hx=None):
        """input as :class:`RNN`; hx None or ``(h_0, c_0)``, each (layers*D, N, H) or
        (layers*D, H) unbatched. Returns ``(output, (h_n, c_n))``."""
        x, batch = self._to_time_major(input)
        if hx is None:
            h0 = c0 = None
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"LSTM expects hx as a tuple (h_0, c_0), got "
                            f"{type(hx).__name__}")
        else:
            h0, c0 = hx
        h0 = self._state(h0, batch, x.dtype, "h_0", self._out_size)
        c0 = self._state(c0, batch, x.dtype, "c_0")
        out, (h_n, c_n) = self._run(x, (h0, c0))
        output = self._from_time_major(out, batch)
        h_n, c_n = self._unbatch(h_n, batch), self._unbatch(c_n, batch)
        self._out = (output.shape, output.dtype, h_n.shape, batch, c_n.shape)
        return output, (h_n, c_n)

    def backward(self, dout, dh_n=None, dc_n=None):
        """dout of output's shape; dh_n, dc_n of h_n's (None: zero).
        Returns ``(dx, (dh0, dc0))``."""
        dh_n, dc_n = self._check_backward(dout, [("dh_n", dh_n), ("dc_n", dc_n)])
        batch = self._out[3]
        dout = dout[:, None] if batch is None else (
            dout.transpose(1, 0, 2) if self.batch_first else dout)
        n = 1 if batch is None else batch
        if dh_n is None:
            dh_n = np.zeros(self._state_shape(n, self._out_size), dout.dtype)
        if dc_n is None:
            dc_n = np.zeros(self._state_shape(n), dout.dtype)
        dx, (dh0, dc0) = self._run_backward(dout, [dh_n, dc_n])
        return self._from_time_major(dx, batch), (self._unbatch(dh0, batch),
                                                  self._unbatch(dc0, batch))


class GRU(RNNBase):
    """Gated recurrent unit over a sequence, as ``torch.nn.GRU`` (gates r, z, n)."""

    _gates = 3

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, *, generator=None,
                 seed=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype, generator=generator, seed=seed)

    def _sequence_forward(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        return F.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh)

    def _sequence_backward(self, dout, dh_n, cache):
        return F.gru_backward(dout, dh_n, cache)

    def _set_grads(self, layer, direction, dw_ih, dw_hh, db):
        """As RNN's, but ``db`` is the pair ``(db_ih, db_hh)`` (or None)."""
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        self._params["weight_ih" + suffix].grad = dw_ih
        self._params["weight_hh" + suffix].grad = dw_hh
        if db is not None:
            self._params["bias_ih" + suffix].grad, self._params["bias_hh" + suffix].grad = db

    forward = RNN.forward        # one state, h: the same call as RNN's
    backward = RNN.backward


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


class GRUCell(RNNCellBase):
    """One GRU step, gates r, z, n (see :mod:`scratch.functional.rnn`)."""

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
