"""Recurrent layers: one step and a whole sequence, forward/backward pairs.

Shapes (time-major, as torch's default ``batch_first=False``):
``T`` time steps, ``N`` sequences, ``D`` input features, ``H`` hidden units.
Weights follow torch's layout: ``w_ih`` (G*H, D), ``w_hh`` (G*H, H), biases
(G*H,) or None, with ``G = 1`` for the plain RNN and ``G = 4`` for the LSTM,
whose gate blocks are stacked in torch's order **i, f, g, o**.

Backprop through time: the gradient reaching ``h[t]`` is the upstream
gradient of the output at step ``t`` *plus* the gradient that step ``t + 1``
sends back through ``w_hh`` (and, for the LSTM, the cell gradient through the
forget gate). The sequence backward walks the steps in reverse and carries both.
"""
from __future__ import annotations

import numpy as np


def _sigmoid(a):
    """Logistic function without overflow for large negative ``a``."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def _affine(x, h_prev, w_ih, w_hh, b_ih, b_hh):
    """``x @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh``: (N, G*H)."""
    a = x @ w_ih.T + h_prev @ w_hh.T
    if b_ih is not None:
        a += b_ih + b_hh
    return a


def _affine_backward(da, cache_in):
    """Gradients of :func:`_affine` for ``da`` (N, G*H): dx, dh_prev, dw_ih, dw_hh, db."""
    x, h_prev, w_ih, w_hh, has_bias = cache_in
    db = da.sum(axis=0) if has_bias else None
    return da @ w_ih, da @ w_hh, da.T @ x, da.T @ h_prev, db


# --------------------------------------------------------------------------- RNN
def rnn_step_forward(x, h_prev, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """One step ``h = act(x @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh)``.

    x: (N, D); h_prev: (N, H); w_ih: (H, D); w_hh: (H, H); b_ih, b_hh: (H,) or None
    (both or neither); nonlinearity: 'tanh' or 'relu'.
    Returns h (N, H) and cache ``(x, h_prev, w_ih, w_hh, has_bias, nonlinearity, h)``.
    """
    a = _affine(x, h_prev, w_ih, w_hh, b_ih, b_hh)
    h = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
    return h, (x, h_prev, w_ih, w_hh, b_ih is not None, nonlinearity, h)


def rnn_step_backward(dh, cache):
    """Gradients of one step for ``dh`` (N, H), the total gradient reaching ``h``.

    Returns ``(dx, dh_prev, dw_ih, dw_hh, db)``: db (H,) is the gradient of
    both ``b_ih`` and ``b_hh`` (they enter as a sum), None without bias.
    tanh' = 1 - h**2; relu' = 1 where h > 0 (0 at the kink, as torch).
    """
    *cache_in, nonlinearity, h = cache
    da = dh * (1 - h * h) if nonlinearity == "tanh" else dh * (h > 0)
    return _affine_backward(da, cache_in)


def rnn_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """A whole sequence: ``h[t] = step(x[t], h[t-1])`` with ``h[-1] = h0``.

    x: (T, N, D); h0: (N, H). Returns out (T, N, H), the hidden state at every
    step (the last one is ``h_n``), and cache: the list of step caches.
    """
    out = np.empty((x.shape[0], *h0.shape), dtype=h0.dtype)
    caches, h = [], h0
    for t in range(x.shape[0]):
        h, cache = rnn_step_forward(x[t], h, w_ih, w_hh, b_ih, b_hh, nonlinearity)
        out[t] = h
        caches.append(cache)
    return out, caches


def rnn_backward(dout, dh_n, cache):
    """Backprop through time.

    dout: (T, N, H) upstream gradient of ``out``; dh_n: (N, H) or None, that of
    the final state (which is ``out[-1]``, so both add up).
    Returns ``(dx (T, N, D), dh0 (N, H), dw_ih, dw_hh, db)``.
    """
    dx = np.empty((dout.shape[0], *cache[0][0].shape), dtype=dout.dtype)
    dh_prev = np.zeros_like(dout[0]) if dh_n is None else dh_n
    dw_ih = dw_hh = db = 0
    for t in reversed(range(dout.shape[0])):
        dx[t], dh_prev, dwi, dwh, dbt = rnn_step_backward(dout[t] + dh_prev, cache[t])
        dw_ih, dw_hh = dw_ih + dwi, dw_hh + dwh
        db = None if dbt is None else db + dbt
    return dx, dh_prev, dw_ih, dw_hh, db


# --------------------------------------------------------------------------- LSTM
def lstm_step_forward(x, h_prev, c_prev, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step, torch's gate order i, f, g, o:

        i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);  g = tanh(a_g)
        c = f * c_prev + i * g;  h = o * tanh(c)

    with ``a = x @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh`` (N, 4H).
    x: (N, D); h_prev, c_prev: (N, H); w_ih: (4H, D); w_hh: (4H, H); biases (4H,) or None.
    Returns h (N, H), c (N, H) and cache ``(affine inputs, c_prev, i, f, g, o, tanh(c))``.
    """
    a = _affine(x, h_prev, w_ih, w_hh, b_ih, b_hh)
    ai, af, ag, ao = np.split(a, 4, axis=1)  # each (N, H)
    i, f, g, o = _sigmoid(ai), _sigmoid(af), np.tanh(ag), _sigmoid(ao)
    c = f * c_prev + i * g
    tc = np.tanh(c)
    h = o * tc
    return h, c, ((x, h_prev, w_ih, w_hh, b_ih is not None), c_prev, i, f, g, o, tc)


def lstm_step_backward(dh, dc, cache):
    """Gradients of one step for ``dh``, ``dc`` (N, H), the totals reaching h and c.

    Returns ``(dx, dh_prev, dc_prev, dw_ih, dw_hh, db)``; db (4H,) is the gradient
    of both ``b_ih`` and ``b_hh``, None without bias.
    """
    cache_in, c_prev, i, f, g, o, tc = cache
    dc = dc + dh * o * (1 - tc * tc)
    dc_prev = dc * f
    da = np.concatenate([dc * g * i * (1 - i),          # d a_i
                         dc * c_prev * f * (1 - f),     # d a_f
                         dc * i * (1 - g * g),          # d a_g
                         dh * tc * o * (1 - o)], axis=1)  # d a_o; (N, 4H)
    dx, dh_prev, dw_ih, dw_hh, db = _affine_backward(da, cache_in)
    return dx, dh_prev, dc_prev, dw_ih, dw_hh, db


def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """A whole sequence from ``(h0, c0)`` (N, H) each; x: (T, N, D).

    Returns out (T, N, H) (the hidden state at every step), c_n (N, H) (the
    final cell state; ``h_n`` is ``out[-1]``) and cache: the step caches.
    """
    out = np.empty((x.shape[0], *h0.shape), dtype=h0.dtype)
    caches, h, c = [], h0, c0
    for t in range(x.shape[0]):
        h, c, cache = lstm_step_forward(x[t], h, c, w_ih, w_hh, b_ih, b_hh)
        out[t] = h
        caches.append(cache)
    return out, c, caches


def lstm_backward(dout, dh_n, dc_n, cache):
    """Backprop through time: dout (T, N, H); dh_n, dc_n (N, H) or None.

    Returns ``(dx (T, N, D), dh0, dc0 (N, H), dw_ih, dw_hh, db)``.
    """
    dx = np.empty((dout.shape[0], *cache[0][0][0].shape), dtype=dout.dtype)
    dh_prev = np.zeros_like(dout[0]) if dh_n is None else dh_n
    dc_prev = np.zeros_like(dout[0]) if dc_n is None else dc_n
    dw_ih = dw_hh = db = 0
    for t in reversed(range(dout.shape[0])):
        dx[t], dh_prev, dc_prev, dwi, dwh, dbt = lstm_step_backward(
            dout[t] + dh_prev, dc_prev, cache[t])
        dw_ih, dw_hh = dw_ih + dwi, dw_hh + dwh
        db = None if dbt is None else db + dbt
    return dx, dh_prev, dc_prev, dw_ih, dw_hh, db
