"""Hand-written code in the shapes learners write, for the oracle's tests and demo.

A micrograd-style scalar ``Value`` engine (written here, not copied) whose
bugs can be switched on, and CS231n-style vanilla RNN forward/backward
through time with the classic "dh not carried" bug.
"""
from __future__ import annotations

import math

import numpy as np


def make_value(accumulate=True, tanh_derivative="1 - t**2", seed_grad=1.0):
    """A ``Value`` class; ``accumulate=False`` assigns gradients with ``=`` instead of ``+=``,
    ``tanh_derivative="1 - t"`` plants a wrong derivative that is right at t = 0,
    ``seed_grad=-1.0`` starts backprop from the wrong sign."""

    class Value:
        def __init__(self, data, children=(), op=""):
            self.data, self.grad = float(data), 0.0
            self._prev, self._op = tuple(children), op
            self._backward = lambda: None

        def _add_grad(self, node, g):
            node.grad = node.grad + g if accumulate else g

        def __add__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data + other.data, (self, other), "+")

            def _backward():
                self._add_grad(self, out.grad)
                self._add_grad(other, out.grad)
            out._backward = _backward
            return out

        def __mul__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data * other.data, (self, other), "*")

            def _backward():
                self._add_grad(self, other.data * out.grad)
                self._add_grad(other, self.data * out.grad)
            out._backward = _backward
            return out

        def __pow__(self, k):
            out = Value(self.data ** k, (self,), f"**{k}")

            def _backward():
                self._add_grad(self, k * self.data ** (k - 1) * out.grad)
            out._backward = _backward
            return out

        def tanh(self):
            t = math.tanh(self.data)
            out = Value(t, (self,), "tanh")

            def _backward():
                local = 1 - t if tanh_derivative == "1 - t" else 1 - t ** 2
                self._add_grad(self, local * out.grad)
            out._backward = _backward
            return out

        def __neg__(self):
            return self * -1

        def __sub__(self, other):
            return self + (-other)

        def __radd__(self, other):
            return self + other

        def __rmul__(self, other):
            return self * other

        def backward(self):
            order, seen = [], set()

            def visit(v):
                if id(v) not in seen:
                    seen.add(id(v))
                    for child in v._prev:
                        visit(child)
                    order.append(v)
            visit(self)
            self.grad = seed_grad
            for v in reversed(order):
                v._backward()

    Value.__name__ = "Value"
    return Value


def rnn_forward(x, h0, Wx, Wh, b):
    """CS231n: x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,) -> h (N, T, H), cache."""
    n, t_len, _ = x.shape
    h = np.zeros((n, t_len, h0.shape[1]))
    prev = h0
    for t in range(t_len):
        prev = np.tanh(x[:, t] @ Wx + prev @ Wh + b)
        h[:, t] = prev
    return h, (x, h0, Wx, Wh, h)


def make_rnn_backward(carry=True):
    """Backprop through time; ``carry=False`` forgets to add dprev_h to the next step's dh."""
    def rnn_backward(dh, cache):
        x, h0, Wx, Wh, h = cache
        n, t_len, _ = x.shape
        dx, dWx, dWh = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh)
        db, dprev = np.zeros(Wh.shape[0]), np.zeros_like(h0)
        for t in reversed(range(t_len)):
            prev = h[:, t - 1] if t > 0 else h0
            dnext = dh[:, t] + (dprev if carry else 0)
            dz = dnext * (1 - h[:, t] ** 2)
            dx[:, t] = dz @ Wx.T
            dWx += x[:, t].T @ dz
            dWh += prev.T @ dz
            db += dz.sum(axis=0)
            dprev = dz @ Wh.T
        return dx, dprev, dWx, dWh, db
    return rnn_backward


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dz = dnext_h * (1 - next_h ** 2)
    return dz @ Wx.T, dz @ Wh.T, x.T @ dz, prev_h.T @ dz, dz.sum(axis=0)


BN_EPS = 1e-5


def batchnorm_forward(x, gamma, beta):
    """makemore-style batch norm of x (N, D), with the unbiased variance 1/(n-1)."""
    n = x.shape[0]
    diff = x - x.mean(axis=0)
    var = (diff ** 2).sum(axis=0) / (n - 1)
    invstd = (var + BN_EPS) ** -0.5
    xhat = diff * invstd
    return gamma * xhat + beta, (xhat, invstd, gamma)


def make_batchnorm_backward(bessel=True):
    """The compact backward of :func:`batchnorm_forward`; ``bessel=False`` uses n where the
    forward's n - 1 belongs (the factor n / (n - 1) dropped)."""
    def batchnorm_backward(dout, cache):
        xhat, invstd, gamma = cache
        n = dout.shape[0]
        factor = n / (n - 1) if bessel else 1.0
        dx = gamma * invstd / n * (n * dout - dout.sum(axis=0)
                                   - factor * xhat * (dout * xhat).sum(axis=0))
        return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)
    return batchnorm_backward


def torch_batchnorm_unbiased(x, gamma, beta):
    """The same batch norm in torch: the unbiased variance, as the lecture writes it."""
    mean = x.mean(dim=0)
    return gamma * (x - mean) / (x.var(dim=0, unbiased=True) + BN_EPS).sqrt() + beta
