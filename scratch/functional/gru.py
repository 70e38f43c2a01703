"""Gated recurrent unit: one step and a whole sequence, forward/backward pairs.

torch's GRU, gate blocks stacked in the order **r, z, n** (reset, update, new):

    r = sigmoid(x W_ir.T + b_ir + h W_hr.T + b_hr)
    z = sigmoid(x W_iz.T + b_iz + h W_hz.T + b_hz)
    n = tanh(x W_in.T + b_in + r * (h W_hn.T + b_hn))
    h' = (1 - z) * n + z * h

The reset gate multiplies the hidden product *after* it is taken (``r * (h W_hn.T +
b_hn)``, not ``(r * h) W_hn.T``), so ``b_hn`` sits inside the product with ``r`` and its
gradient differs from ``b_in``'s: the two biases get separate gradients here, unlike
the plain RNN and the LSTM. Shapes as in :mod:`scratch.functional.rnn`: x (T, N, D),
h (N, H), w_ih (3H, D), w_hh (3H, H), biases (3H,) or None (both or neither).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scratch.functional.rnn import _sigmoid


class GRUStepCache(NamedTuple):
    x: np.ndarray           # (N, D)
    h_prev: np.ndarray      # (N, H)
    w_ih: np.ndarray
    w_hh: np.ndarray
    has_bias: bool
    r: np.ndarray           # the gates, (N, H) each
    z: np.ndarray
    n: np.ndarray
    hn: np.ndarray          # h_prev W_hn.T + b_hn, what r multiplies


class GRUCache(NamedTuple):
    x: np.ndarray           # (T, N, D)
    h0: np.ndarray          # (N, H)
    out: np.ndarray         # (T, N, H): the hidden state after every step
    w_ih: np.ndarray
    w_hh: np.ndarray
    has_bias: bool
    gates: np.ndarray       # (T, 4, N, H): r, z, n, hn of every step


def _gates(ax, ah):
    """From the input part ``ax`` and hidden part ``ah`` (N, 3H): r, z, n, hn (N, H) each."""
    xr, xz, xn = np.split(ax, 3, axis=-1)
    hr, hz, hn = np.split(ah, 3, axis=-1)
    r, z = _sigmoid(xr + hr), _sigmoid(xz + hz)
    return r, z, np.tanh(xn + r * hn), hn


def _gates_backward(dh, h_prev, r, z, n, hn):
    """From the total ``dh`` (N, H) reaching a step's output: the gradients of the input
    part and of the hidden part (N, 3H each), and of h_prev through the update gate alone."""
    dn = dh * (1 - z) * (1 - n * n)              # d of n's pre-activation
    dz = dh * (h_prev - n) * z * (1 - z)
    dr = dn * hn * r * (1 - r)
    dax = np.concatenate([dr, dz, dn], axis=-1)
    dah = np.concatenate([dr, dz, dn * r], axis=-1)
    return dax, dah, dh * z


def _bias(b):
    return 0 if b is None else b


def gru_step_forward(x, h_prev, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step (torch's ``GRUCell``). x: (N, D); h_prev: (N, H).
    Returns h (N, H) and a :class:`GRUStepCache`."""
    r, z, n, hn = _gates(x @ w_ih.T + _bias(b_ih), h_prev @ w_hh.T + _bias(b_hh))
    h = (1 - z) * n + z * h_prev
    return h, GRUStepCache(x, h_prev, w_ih, w_hh, b_ih is not None, r, z, n, hn)


def gru_step_backward(dh, cache):
    """Gradients of one step for ``dh`` (N, H).

    Returns ``(dx, dh_prev, dw_ih, dw_hh, db_ih, db_hh)`` (biases None without bias).
    """
    x, h_prev, w_ih, w_hh, has_bias, r, z, n, hn = cache
    dax, dah, dh_prev = _gates_backward(dh, h_prev, r, z, n, hn)
    db_ih, db_hh = (dax.sum(axis=0), dah.sum(axis=0)) if has_bias else (None, None)
    return dax @ w_ih, dh_prev + dah @ w_hh, dax.T @ x, dah.T @ h_prev, db_ih, db_hh


def gru_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
    """A whole sequence from h0 (N, H); x: (T, N, D). The input part of every step is one
    matrix product; the loop over time holds only the hidden part.

    Returns out (T, N, H) (``h_n`` is ``out[-1]``) and a :class:`GRUCache`.
    """
    ax = (x.reshape(-1, x.shape[-1]) @ w_ih.T).reshape(*x.shape[:2], -1)  # (T, N, 3H)
    ax = ax + _bias(b_ih)
    out = np.empty((x.shape[0], *h0.shape), dtype=h0.dtype)
    gates = np.empty((x.shape[0], 4, *h0.shape), dtype=h0.dtype)
    h = h0
    for t in range(x.shape[0]):
        r, z, n, hn = gates[t] = _gates(ax[t], h @ w_hh.T + _bias(b_hh))
        h = out[t] = (1 - z) * n + z * h
    return out, GRUCache(x, h0, out, w_ih, w_hh, b_ih is not None, gates)


def gru_backward(dout, dh_n, cache):
    """Backprop through time: dout (T, N, H), dh_n (N, H) or None (the final state's
    upstream gradient; ``h_n`` is ``out[-1]``, so both add up).

    Returns ``(dx (T, N, D), dh0 (N, H), dw_ih, dw_hh, (db_ih, db_hh))``, the bias
    pair None without bias.
    """
    x, h0, out, w_ih, w_hh, has_bias, gates = cache
    h_prev = np.concatenate([h0[None], out[:-1]])                         # (T, N, H)
    dax = np.empty((*out.shape[:2], w_ih.shape[0]), dtype=out.dtype)      # (T, N, 3H)
    dah = np.empty_like(dax)
    dh_next = np.zeros_like(dout[0]) if dh_n is None else dh_n
    for t in reversed(range(dout.shape[0])):
        dax[t], dah[t], direct = _gates_backward(dout[t] + dh_next, h_prev[t], *gates[t])
        dh_next = direct + dah[t] @ w_hh
    fx, fh = dax.reshape(-1, dax.shape[-1]), dah.reshape(-1, dah.shape[-1])  # (T*N, 3H)
    dx = (fx @ w_ih).reshape(*x.shape[:2], -1)
    dw_ih = fx.T @ x.reshape(-1, x.shape[-1])
    dw_hh = fh.T @ h_prev.reshape(-1, h_prev.shape[-1])
    db = (fx.sum(axis=0), fh.sum(axis=0)) if has_bias else None
    return dx, dh_next, dw_ih, dw_hh, db
