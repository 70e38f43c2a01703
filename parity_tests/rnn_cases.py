"""Recurrent-layer cases shared by the RNN parity tests and parity_tests/rnn_budget.py:
the layer pair for a drawn case, its inputs and states, a run of each side, the budgets."""
from __future__ import annotations

import numpy as np
import torch

from parity_tests.helpers import TORCH_DTYPE, upstream
from reference import convert
from scratch import nn


# --------------------------------------------------------------------------- the two sides
def scratch_layer(case, dtype):
    cls = nn.LSTM if case.mode == "LSTM" else nn.RNN
    return cls(case.input_size, case.hidden_size, **case.kwargs, dtype=dtype, seed=0)


def torch_layer(case, dtype):
    cls = torch.nn.LSTM if case.mode == "LSTM" else torch.nn.RNN
    return cls(case.input_size, case.hidden_size, **case.kwargs,
               dtype=TORCH_DTYPE[np.dtype(dtype)])


def contractive_state(layer, seed):
    """Weights with ``|w| <= 1 / max(rows, cols)`` (so row and column sums of |w| are <= 1),
    biases within 1 / hidden_size; float32-representable, in float64."""
    rng = np.random.default_rng(seed)
    state = {}
    for name, value in layer.state_dict().items():
        scale = 1 / max(value.shape) if value.ndim == 2 else 1 / layer.hidden_size
        state[name] = rng.uniform(-scale, scale, value.shape).astype(np.float32).astype(
            np.float64)
    return state


def draws(case, layer, dtype):
    """Initial states (or None) and upstream gradients, all from ``case.seed``."""
    d = 2 if case.bidirectional else 1
    state_shape = ((case.num_layers * d, case.hidden_size) if case.batch is None
                   else (case.num_layers * d, case.batch, case.hidden_size))
    out_shape = case.x.shape[:-1] + (d * case.hidden_size,)
    rng = np.random.default_rng(case.seed)
    states = None
    if case.initial_state:
        states = [rng.uniform(-1, 1, state_shape).astype(dtype) for _ in range(2)]
    grads = {"dout": upstream(case.seed + 1, out_shape, dtype),
             "dh_n": upstream(case.seed + 2, state_shape, dtype),
             "dc_n": upstream(case.seed + 3, state_shape, dtype)}
    return states, grads


def run_scratch(case, dtype, state, states, grads):
    layer = scratch_layer(case, dtype)
    layer.load_state_dict(state)
    x = case.x.astype(dtype)
    if case.mode == "LSTM":
        out, (h_n, c_n) = layer.forward(x, None if states is None else tuple(states))
        dx, (dh0, dc0) = layer.backward(grads["dout"], grads["dh_n"], grads["dc_n"])
        result = dict(out=out, h_n=h_n, c_n=c_n, dx=dx, dh0=dh0, dc0=dc0)
    else:
        out, h_n = layer.forward(x, None if states is None else states[0])
        dx, dh0 = layer.backward(grads["dout"], grads["dh_n"])
        result = dict(out=out, h_n=h_n, dx=dx, dh0=dh0)
    if states is None:
        result = {k: v for k, v in result.items() if k not in ("dh0", "dc0")}
    result.update({f"grad.{name}": p.grad for name, p in layer.named_parameters()})
    return result


def run_torch(case, dtype, state, states, grads):
    layer = torch_layer(case, dtype)
    convert.load_numpy_state(layer, state)
    x = torch.tensor(case.x, dtype=TORCH_DTYPE[np.dtype(dtype)], requires_grad=True)
    hx = None if states is None else [torch.tensor(s, requires_grad=True) for s in states]
    g = {k: torch.from_numpy(v) for k, v in grads.items()}
    if case.mode == "LSTM":
        out, (h_n, c_n) = layer(x, None if hx is None else tuple(hx))
        loss = (out * g["dout"]).sum() + (h_n * g["dh_n"]).sum() + (c_n * g["dc_n"]).sum()
        result = dict(out=out, h_n=h_n, c_n=c_n)
    else:
        out, h_n = layer(x, None if hx is None else hx[0])
        loss = (out * g["dout"]).sum() + (h_n * g["dh_n"]).sum()
        result = dict(out=out, h_n=h_n)
    loss.backward()
    result["dx"] = x.grad
    if hx is not None:
        result["dh0"] = hx[0].grad
        if case.mode == "LSTM":
            result["dc0"] = hx[1].grad
    result.update({f"grad.{name}": p.grad for name, p in layer.named_parameters()})
    return result


def budgets(case, names):
    """The reduction size ``K`` behind each compared tensor (see the module docstring)."""
    d = 2 if case.bidirectional else 1
    k = max(case.input_size, d * case.hidden_size) + case.hidden_size + 2
    paths = case.num_layers * case.steps
    cell = case.steps + 1 if case.mode == "LSTM" else 1
    n = case.batch or 1
    forward, backward = k * paths * cell, 2 * k * paths * cell
    return {name: (forward if name in ("out", "h_n", "c_n")
                   else n * case.steps * backward if name.startswith("grad.")
                   else backward) for name in names}


# --------------------------------------------------------------------------- parity
