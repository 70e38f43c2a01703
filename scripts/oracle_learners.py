"""Learner-style NumPy code for the oracle's tests and tour: each right, with slips to switch on.

ReLU pairs that write into their arguments, an addition whose backward
returns dout twice, an embedding lookup on integer token ids, CS231n-style
LSTM and GRU steps and an LSTM over a sequence, and update rules (a CS231n
Adam function, object-form AdamW and SGD with momentum).
"""
from __future__ import annotations

import numpy as np


# ------------------------------------------------------------------ in place
def relu_forward(x):
    return np.maximum(x, 0), x


def relu_forward_in_place(x):
    """Slip: clips x itself, so the caller's x changes."""
    np.maximum(x, 0, out=x)
    return x.copy(), x


def relu_backward(dout, x):
    return np.where(x > 0, dout, 0.0)


def relu_backward_in_place(dout, x):
    """The classic slip: masks the caller's dout and returns it."""
    dout[x <= 0] = 0
    return dout


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def add_positions_forward(x, P):
    """x (T, D) plus a learned positional table P (T, D)."""
    return x + P, None


def add_positions_backward(dout, cache):
    return dout.copy(), dout.copy()


def add_positions_backward_shared(dout, cache):
    """Slip: the gradient of a sum is dout for both terms, so it returns dout twice."""
    return dout, dout


def affine_backward_decays_w(dout, cache):
    """Slip: applies weight decay to w inside backward (the caller's parameter changes)."""
    x, w = cache
    dw = x.T @ dout
    w -= 0.01 * w
    return dout @ w.T, dw, dout.sum(axis=0)


# ------------------------------------------------------------------ integers
def embedding_forward(idx, W):
    return W[idx], (idx, W.shape)


def embedding_backward(dout, cache):
    idx, shape = cache
    dW = np.zeros(shape)
    np.add.at(dW, idx, dout)
    return dW


def embedding_backward_assign(dout, cache):
    """Slip: ``dW[idx] += dout`` keeps one contribution of a repeated token id."""
    idx, shape = cache
    dW = np.zeros(shape)
    dW[idx] += dout
    return dW


# ------------------------------------------------------------------ cells
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """CS231n's LSTM step, gates in torch's order i, f, g, o; Wx (D, 4H), Wh (H, 4H)."""
    h = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, g, o = (sigmoid(a[:, :h]), sigmoid(a[:, h:2 * h]), np.tanh(a[:, 2 * h:3 * h]),
                  sigmoid(a[:, 3 * h:]))
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c)


def make_lstm_step_backward(dc_through_tanh=True, carry_dnext_c=True):
    """``dc_through_tanh=False`` forgets the tanh on the path from next_h to next_c;
    ``carry_dnext_c=False`` ignores the upstream dnext_c (the cell-state gradient)."""
    def lstm_step_backward(dnext_h, dnext_c, cache):
        x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c = cache
        t = np.tanh(next_c)
        dc = dnext_h * o * ((1 - t ** 2) if dc_through_tanh else 1.0)
        if carry_dnext_c:
            dc = dc + dnext_c
        da = np.concatenate([dc * g * i * (1 - i), dc * prev_c * f * (1 - f),
                             dc * i * (1 - g ** 2), dnext_h * t * o * (1 - o)], axis=1)
        return (da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0))
    return lstm_step_backward


def gru_step_forward(x, prev_h, Wx, Wh, bx, bh):
    """torch's GRUCell in CS231n's layout: Wx (D, 3H), Wh (H, 3H), gates r, z, n."""
    h = prev_h.shape[1]
    gx, gh = x @ Wx + bx, prev_h @ Wh + bh
    r = sigmoid(gx[:, :h] + gh[:, :h])
    z = sigmoid(gx[:, h:2 * h] + gh[:, h:2 * h])
    n = np.tanh(gx[:, 2 * h:] + r * gh[:, 2 * h:])
    return (1 - z) * n + z * prev_h, (x, prev_h, Wx, Wh, r, z, n, gh)


def make_gru_step_backward(reset_inside=True):
    """``reset_inside=False`` backpropagates as if r multiplied prev_h before Wh (a
    different GRU variant) on the path to dWh."""
    def gru_step_backward(dnext_h, cache):
        x, prev_h, Wx, Wh, r, z, n, gh = cache
        h = prev_h.shape[1]
        dn = dnext_h * (1 - z)
        dz = dnext_h * (prev_h - n)
        dan = dn * (1 - n ** 2)
        dar = dan * gh[:, 2 * h:] * r * (1 - r)
        daz = dz * z * (1 - z)
        dgx = np.concatenate([dar, daz, dan], axis=1)
        dgh = np.concatenate([dar, daz, dan * (r if reset_inside else 1.0)], axis=1)
        dprev = dnext_h * z + dgh @ Wh.T
        return (dgx @ Wx.T, dprev, x.T @ dgx, prev_h.T @ dgh, dgx.sum(axis=0),
                dgh.sum(axis=0))
    return gru_step_backward


def lstm_forward(x, h0, Wx, Wh, b):
    """CS231n's lstm_forward: x (N, T, D), h0 (N, H), c0 = 0 inside -> h (N, T, H)."""
    n, t_len, _ = x.shape
    prev_h, prev_c = h0, np.zeros_like(h0)
    h, caches = np.zeros((n, t_len, h0.shape[1])), []
    for t in range(t_len):
        prev_h, prev_c, cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        caches.append(cache)
    return h, caches


def make_lstm_backward(carry_dc=True):
    """Backprop through time; ``carry_dc=False`` passes no cell-state gradient back
    from step t + 1 to step t (dprev_c dropped)."""
    step_backward = make_lstm_step_backward()

    def lstm_backward(dh, caches):
        n, t_len, _ = dh.shape
        x0, _, _, Wx, Wh = caches[0][:5]
        dx = np.zeros((n, t_len, Wx.shape[0]))
        dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wx.shape[1])
        dprev_h, dprev_c = np.zeros((n, Wh.shape[0])), np.zeros((n, Wh.shape[0]))
        for t in reversed(range(t_len)):
            dc_in = dprev_c if carry_dc else np.zeros_like(dprev_c)
            dx[:, t], dprev_h, dprev_c, dwx, dwh, dbb = step_backward(dh[:, t] + dprev_h,
                                                                       dc_in, caches[t])
            dWx, dWh, db = dWx + dwx, dWh + dwh, db + dbb
        return dx, dprev_h, dWx, dWh, db
    return lstm_backward


# ------------------------------------------------------------------ optimizers
def make_adam(bias_correction=True, eps_inside=False):
    """CS231n's ``adam(w, dw, config) -> (next_w, config)``, with two switchable slips."""
    def adam(w, dw, config=None):
        config = {} if config is None else config
        config.setdefault("learning_rate", 1e-3)
        config.setdefault("beta1", 0.9)
        config.setdefault("beta2", 0.999)
        config.setdefault("epsilon", 1e-8)
        config.setdefault("m", np.zeros_like(w))
        config.setdefault("v", np.zeros_like(w))
        config.setdefault("t", 0)
        b1, b2, eps = config["beta1"], config["beta2"], config["epsilon"]
        config["t"] += 1
        config["m"] = b1 * config["m"] + (1 - b1) * dw
        config["v"] = b2 * config["v"] + (1 - b2) * dw ** 2
        m, v = config["m"], config["v"]
        if bias_correction:
            m, v = m / (1 - b1 ** config["t"]), v / (1 - b2 ** config["t"])
        denom = np.sqrt(v + eps) if eps_inside else np.sqrt(v) + eps
        return w - config["learning_rate"] * m / denom, config
    return adam


class AdamW:
    """An object-form AdamW: ``step(params, grads)`` over dicts; ``state[name]`` per parameter.

    ``global_step=True`` counts t once per parameter update; ``coupled=True`` adds the
    decay to the gradient (Adam's L2) instead of shrinking the weights."""

    def __init__(self, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 global_step=False, coupled=False):
        self.lr, self.betas, self.eps, self.wd = lr, betas, eps, weight_decay
        self.global_step, self.coupled, self.t, self.state = global_step, coupled, 0, {}

    def step(self, params, grads):
        b1, b2 = self.betas
        if not self.global_step:
            self.t += 1
        for name, p in params.items():
            g = grads[name]
            if self.global_step:
                self.t += 1
            if self.coupled:
                g = g + self.wd * p
            else:
                p *= 1 - self.lr * self.wd
            s = self.state.setdefault(name, {"exp_avg": np.zeros_like(p),
                                             "exp_avg_sq": np.zeros_like(p)})
            s["exp_avg"] = b1 * s["exp_avg"] + (1 - b1) * g
            s["exp_avg_sq"] = b2 * s["exp_avg_sq"] + (1 - b2) * g * g
            m_hat = s["exp_avg"] / (1 - b1 ** self.t)
            v_hat = s["exp_avg_sq"] / (1 - b2 ** self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def make_sgd_momentum(decay_after=False, decay_in_place=False):
    """``step(params, grads)`` SGD with momentum and weight decay, as torch's; slips:
    ``decay_after`` adds the decay after the momentum buffer, ``decay_in_place`` adds it
    into the caller's gradient array."""
    class SGDMomentum:
        def __init__(self, lr=0.1, momentum=0.9, weight_decay=0.05):
            self.lr, self.mu, self.wd, self.state = lr, momentum, weight_decay, {}

        def step(self, params, grads):
            for name, p in params.items():
                g = grads[name]
                if decay_in_place:
                    g += self.wd * p
                elif not decay_after:
                    g = g + self.wd * p
                s = self.state.setdefault(name, {})
                s["momentum_buffer"] = (g.copy() if "momentum_buffer" not in s
                                        else self.mu * s["momentum_buffer"] + g)
                d = s["momentum_buffer"] + (self.wd * p if decay_after else 0)
                p -= self.lr * d
    return SGDMomentum()


def _ifog_to_ifgo(a):
    """Columns of stacked gates i, f, o, g (CS231n) -> i, f, g, o (and back: the same swap)."""
    h = a.shape[-1] // 4
    return np.concatenate([a[..., :2 * h], a[..., 3 * h:], a[..., 2 * h:3 * h]], axis=-1)


def lstm_step_forward_cs231n(x, prev_h, prev_c, Wx, Wh, b):
    """CS231n's gate order i, f, o, g in Wx (D, 4H), Wh (H, 4H), b (4H,)."""
    return lstm_step_forward(x, prev_h, prev_c, _ifog_to_ifgo(Wx), _ifog_to_ifgo(Wh),
                             _ifog_to_ifgo(b))


def lstm_step_backward_cs231n(dnext_h, dnext_c, cache):
    dx, dh, dc, dWx, dWh, db = make_lstm_step_backward()(dnext_h, dnext_c, cache)
    return dx, dh, dc, _ifog_to_ifgo(dWx), _ifog_to_ifgo(dWh), _ifog_to_ifgo(db)
