"""Recurrent layers (RNN, LSTM, GRU): one step and a whole sequence, forward/backward
pairs.

Shapes (time-major, as torch's default ``batch_first=False``):
``T`` time steps, ``N`` sequences, ``D`` input features, ``H`` hidden units.
Weights follow torch's layout: ``w_ih`` (G*H, D), ``w_hh`` (G*H, H), biases
(G*H,) or None, with ``G = 1`` for the plain RNN and ``G = 4`` for the LSTM,
whose gate blocks are stacked in torch's order **i, f, g, o**.

Backprop through time: the gradient reaching ``h[t]`` is the upstream
gradient of the output at step ``t`` *plus* the gradient that step ``t + 1``
sends back through ``w_hh`` (and, for the LSTM, the cell gradient through the
forget gate). The sequence backward walks the steps in reverse and carries both.

The GRU is torch's, its gate blocks stacked in the order **r, z, n** (reset, update, new):

    r = sigmoid(x W_ir.T + b_ir + h W_hr.T + b_hr)
    z = sigmoid(x W_iz.T + b_iz + h W_hz.T + b_hz)
    n = tanh(x W_in.T + b_in + r * (h W_hn.T + b_hn))
    h' = (1 - z) * n + z * h

The reset gate multiplies the hidden product *after* it is taken (``r * (h W_hn.T +
b_hn)``, not ``(r * h) W_hn.T``), so ``b_hn`` sits inside the product with ``r`` and its
gradient differs from ``b_in``'s: the two biases get separate gradients here, unlike
the plain RNN and the LSTM. Shapes as above: x (T, N, D), h (N, H), w_ih (3H, D), w_hh
(3H, H), biases (3H,) or None (both or neither).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class AffineCache(NamedTuple):
    """The inputs of one step's ``x @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh``."""
    x: np.ndarray            # (N, D)
    h_prev: np.ndarray       # (N, H)
    w_ih: np.ndarray         # (G*H, D)
    w_hh: np.ndarray         # (G*H, H)
    has_bias: bool


class RNNStepCache(NamedTuple):
    x: np.ndarray            # (N, D)
    h_prev: np.ndarray       # (N, H)
    w_ih: np.ndarray         # (H, D)
    w_hh: np.ndarray         # (H, H)
    has_bias: bool
    nonlinearity: str        # 'tanh' or 'relu'
    h: np.ndarray            # (N, H): the step's output


class RNNCache(NamedTuple):
    x: np.ndarray            # (T, N, D)
    h0: np.ndarray           # (N, H)
    out: np.ndarray          # (T, N, H): every step's hidden state
    w_ih: np.ndarray
    w_hh: np.ndarray
    has_bias: bool
    nonlinearity: str


class LSTMGates(NamedTuple):
    """One LSTM step's cell input and gates, each (N, H)."""
    c_prev: np.ndarray
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    tanh_c: np.ndarray


class LSTMStepCache(NamedTuple):
    affine: AffineCache
    c_prev: np.ndarray
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    tanh_c: np.ndarray


class LSTMCache(NamedTuple):
    x: np.ndarray            # (T, N, D)
    h0: np.ndarray           # (N, H)
    out: np.ndarray          # (T, N, H)
    w_ih: np.ndarray
    w_hh: np.ndarray
    has_bias: bool
    gates: list              # one LSTMGates per step
    w_hr: np.ndarray | None  # (P, H) with a projection (proj_size=P), else None
    unprojected: list        # each step's o * tanh(c), (N, H)


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
def _rnn_activation(a, nonlinearity):
    return np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)


def _rnn_activation_backward(dh, h, nonlinearity):
    """d(pre-activation) from dh and the step's output h: tanh' = 1 - h**2; relu' = 1
    where h > 0 (0 at the kink, as torch)."""
    return dh * (1 - h * h) if nonlinearity == "tanh" else dh * (h > 0)


def rnn_step_forward(x, h_prev, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """One step ``h = act(x @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh)``.

    x: (N, D); h_prev: (N, H); w_ih: (H, D); w_hh: (H, H); b_ih, b_hh: (H,) or None
    (both or neither); nonlinearity: 'tanh' or 'relu'.
    Returns h (N, H) and an :class:`RNNStepCache`.
    """
    h = _rnn_activation(_affine(x, h_prev, w_ih, w_hh, b_ih, b_hh), nonlinearity)
    return h, RNNStepCache(x, h_prev, w_ih, w_hh, b_ih is not None, nonlinearity, h)


def rnn_step_backward(dh, cache):
    """Gradients of one step for ``dh`` (N, H), the total gradient reaching ``h``.

    Returns ``(dx, dh_prev, dw_ih, dw_hh, db)``: db (H,) is the gradient of
    both ``b_ih`` and ``b_hh`` (they enter as a sum), None without bias.
    """
    *cache_in, nonlinearity, h = cache
    return _affine_backward(_rnn_activation_backward(dh, h, nonlinearity), cache_in)


def _input_part(x, w_ih, b_ih, b_hh):
    """``x @ w_ih.T + b_ih + b_hh`` for every step at once: x (T, N, D) -> (T, N, G*H)."""
    a = (x.reshape(-1, x.shape[-1]) @ w_ih.T).reshape(*x.shape[:2], -1)
    if b_ih is not None:
        a += b_ih + b_hh
    return a


def _weight_grads(da, x, h_prev, w_ih, has_bias):
    """dx, dw_ih, dw_hh, db from every step's ``da`` (T, N, G*H) at once, summing over
    steps and batch; x (T, N, D), h_prev (T, N, H): the state each step started from."""
    flat = da.reshape(-1, da.shape[-1])                                  # (T*N, G*H)
    dx = (flat @ w_ih).reshape(*da.shape[:2], -1)                        # (T, N, D)
    dw_ih = flat.T @ x.reshape(-1, x.shape[-1])
    dw_hh = flat.T @ h_prev.reshape(-1, h_prev.shape[-1])
    return dx, dw_ih, dw_hh, (flat.sum(axis=0) if has_bias else None)


def rnn_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """A whole sequence: ``h[t] = step(x[t], h[t-1])`` with ``h[-1] = h0``.

    x: (T, N, D); h0: (N, H). The input part of every step is one matrix product;
    the loop over time holds only the recurrent part.
    Returns out (T, N, H), the hidden state at every step (the last one is
    ``h_n``), and an :class:`RNNCache`.
    """
    a_in = _input_part(x, w_ih, b_ih, b_hh)                            # (T, N, H)
    out = np.empty((x.shape[0], *h0.shape), dtype=h0.dtype)
    h = h0
    for t in range(x.shape[0]):
        h = out[t] = _rnn_activation(a_in[t] + h @ w_hh.T, nonlinearity)
    return out, RNNCache(x, h0, out, w_ih, w_hh, b_ih is not None, nonlinearity)


def rnn_backward(dout, dh_n, cache):
    """Backprop through time.

    dout: (T, N, H) upstream gradient of ``out``; dh_n: (N, H) or None, that of
    the final state (which is ``out[-1]``, so both add up). Walking back, the
    gradient reaching ``h[t]`` is ``dout[t]`` plus what step ``t + 1`` sends back.
    Returns ``(dx (T, N, D), dh0 (N, H), dw_ih, dw_hh, db)``; db is the gradient
    of both biases.
    """
    x, h0, out, w_ih, w_hh, has_bias, nonlinearity = cache
    da = np.empty_like(out)
    dh_prev = np.zeros_like(dout[0]) if dh_n is None else dh_n
    for t in reversed(range(dout.shape[0])):
        dh = dout[t] + dh_prev
        da[t] = _rnn_activation_backward(dh, out[t], nonlinearity)
        dh_prev = da[t] @ w_hh
    h_prev = np.concatenate([h0[None], out[:-1]])                       # (T, N, H)
    dx, dw_ih, dw_hh, db = _weight_grads(da, x, h_prev, w_ih, has_bias)
    return dx, dh_prev, dw_ih, dw_hh, db


# --------------------------------------------------------------------------- LSTM
def _lstm_gates(a):
    """Pre-activations (N, 4H) -> gates i, f, g, o (N, H) each."""
    ai, af, ag, ao = np.split(a, 4, axis=1)
    return _sigmoid(ai), _sigmoid(af), np.tanh(ag), _sigmoid(ao)


def _lstm_gates_backward(dh, dc, c_prev, i, f, g, o, tc):
    """From the totals ``dh``, ``dc`` reaching a step's outputs: its pre-activation
    gradient (N, 4H) and ``dc_prev``, the cell gradient passed to the step before."""
    dc = dc + dh * o * (1 - tc * tc)
    dc_prev = dc * f
    da = np.concatenate([dc * g * i * (1 - i),          # d a_i
                         dc * c_prev * f * (1 - f),     # d a_f
                         dc * i * (1 - g * g),          # d a_g
                         dh * tc * o * (1 - o)], axis=1)  # d a_o; (N, 4H)
    return da, dc_prev


def lstm_step_forward(x, h_prev, c_prev, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step, torch's gate order i, f, g, o:

        i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);  g = tanh(a_g)
        c = f * c_prev + i * g;  h = o * tanh(c)

    with ``a = x @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh`` (N, 4H).
    x: (N, D); h_prev, c_prev: (N, H); w_ih: (4H, D); w_hh: (4H, H); biases (4H,) or None.
    Returns h (N, H), c (N, H) and an :class:`LSTMStepCache`.
    """
    i, f, g, o = _lstm_gates(_affine(x, h_prev, w_ih, w_hh, b_ih, b_hh))
    c = f * c_prev + i * g
    tc = np.tanh(c)
    affine = AffineCache(x, h_prev, w_ih, w_hh, b_ih is not None)
    return o * tc, c, LSTMStepCache(affine, c_prev, i, f, g, o, tc)


def lstm_step_backward(dh, dc, cache):
    """Gradients of one step for ``dh``, ``dc`` (N, H), the totals reaching h and c.

    Returns ``(dx, dh_prev, dc_prev, dw_ih, dw_hh, db)``; db (4H,) is the gradient
    of both ``b_ih`` and ``b_hh``, None without bias.
    """
    cache_in, *gates = cache
    da, dc_prev = _lstm_gates_backward(dh, dc, *gates)
    dx, dh_prev, dw_ih, dw_hh, db = _affine_backward(da, cache_in)
    return dx, dh_prev, dc_prev, dw_ih, dw_hh, db


def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None):
    """A whole sequence from ``(h0, c0)``; x: (T, N, D).

    Without projection h0, c0 are (N, H). With ``w_hr`` (P, H) (torch's ``proj_size=P``)
    each step's ``o * tanh(c)`` is projected, ``h = (o * tanh(c)) @ w_hr.T`` (N, P), and
    that smaller h is both the output and what the next step multiplies by ``w_hh``
    (4H, P); h0 is (N, P), c0 stays (N, H).
    Returns out (T, N, H or P) (the hidden state at every step), c_n (N, H) (the
    final cell state; ``h_n`` is ``out[-1]``) and an :class:`LSTMCache` (the inputs,
    states and every step's gates, and the unprojected ``o * tanh(c)``).
    """
    a_in = _input_part(x, w_ih, b_ih, b_hh)                            # (T, N, 4H)
    out = np.empty((x.shape[0], *h0.shape), dtype=h0.dtype)
    gates, unprojected = [], []
    h, c = h0, c0
    for t in range(x.shape[0]):
        i, f, g, o = _lstm_gates(a_in[t] + h @ w_hh.T)
        c_prev, c = c, f * c + i * g
        tc = np.tanh(c)
        m = o * tc                                                      # (N, H)
        h = out[t] = m if w_hr is None else m @ w_hr.T                  # (N, H or P)
        gates.append(LSTMGates(c_prev, i, f, g, o, tc))
        unprojected.append(m)
    return out, c, LSTMCache(x, h0, out, w_ih, w_hh, b_ih is not None, gates, w_hr,
                             unprojected)


def lstm_backward(dout, dh_n, dc_n, cache):
    """Backprop through time: dout (T, N, H or P); dh_n (N, H or P), dc_n (N, H) or None.
    The cell gradient flows back through the forget gate, the hidden one through ``w_hh``
    (and, with a projection, first back through ``w_hr``).

    Returns ``(dx (T, N, D), dh0, dc0, dw_ih, dw_hh, db)``, and ``dw_hr`` (P, H) appended
    when the forward had a projection.
    """
    x, h0, out, w_ih, w_hh, has_bias, gates, w_hr, unprojected = cache
    da = np.empty((*out.shape[:2], w_hh.shape[0]), dtype=out.dtype)  # (T, N, 4H)
    dh_prev = np.zeros_like(dout[0]) if dh_n is None else dh_n
    dc_prev = np.zeros_like(gates[0][0]) if dc_n is None else dc_n
    dh_total = np.empty_like(out)                                      # (T, N, H or P)
    for t in reversed(range(dout.shape[0])):
        dh = dh_total[t] = dout[t] + dh_prev
        dm = dh if w_hr is None else dh @ w_hr                          # (N, H)
        da[t], dc_prev = _lstm_gates_backward(dm, dc_prev, *gates[t])
        dh_prev = da[t] @ w_hh
    h_prev = np.concatenate([h0[None], out[:-1]])
    dx, dw_ih, dw_hh, db = _weight_grads(da, x, h_prev, w_ih, has_bias)
    if w_hr is None:
        return dx, dh_prev, dc_prev, dw_ih, dw_hh, db
    m = np.stack(unprojected)                                           # (T, N, H)
    dw_hr = dh_total.reshape(-1, dh_total.shape[-1]).T @ m.reshape(-1, m.shape[-1])
    return dx, dh_prev, dc_prev, dw_ih, dw_hh, db, dw_hr


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
