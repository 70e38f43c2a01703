"""ASGD, the twin of ``torch.optim.ASGD``: SGD with a decaying rate and a running
average ``ax`` of the iterates (Polyak averaging from step ``t0`` on)."""
from __future__ import annotations

import numpy as np

from scratch.optim.optimizer import (
    Optimizer,
    check_lr,
    check_switches,
    new_step,
    non_negative,
    scalar,
)


class ASGD(Optimizer):
    """``p *= 1 - lambd * eta``, ``p -= eta * g``; ``ax += mu * (p - ax)`` (a copy of p
    while ``mu = 1``); then ``eta = lr / (1 + lambd lr t)**alpha`` and
    ``mu = 1 / max(1, t - t0)``. ``eta`` and ``mu`` are float32 scalars, as torch's.
    State: ``step``, ``eta``, ``mu``, ``ax``."""

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        non_negative(weight_decay, f"Invalid weight_decay value: {weight_decay}")
        check_switches(type(self).__name__, capturable=capturable,
                       differentiable=differentiable)
        super().__init__(params, dict(
            lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
            foreach=foreach, maximize=maximize, differentiable=differentiable,
            capturable=capturable))

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = new_step()
            state["eta"] = np.asarray(scalar(group["lr"]), np.float32)
            state["mu"] = np.ones((), np.float32)
            state["ax"] = np.zeros_like(p.data)
        lr, lambd, alpha, t0 = (scalar(group[k]) for k in ("lr", "lambd", "alpha", "t0"))
        weight_decay = scalar(group["weight_decay"])
        state["step"] += 1
        if weight_decay != 0:
            grad = grad + weight_decay * p.data
        eta = float(state["eta"])
        p.data *= 1 - lambd * eta
        p.data -= eta * grad
        if float(state["mu"]) != 1:
            state["ax"] += (p.data - state["ax"]) * state["mu"].astype(p.data.dtype)
        else:
            state["ax"][...] = p.data
        step = float(state["step"])
        # torch builds each new value as a float32 tensor (torch.as_tensor of a float),
        # so it is rounded to float32 even after a load made the state float64
        state["eta"][...] = np.float32(lr / ((1 + lambd * lr * step) ** alpha))
        state["mu"][...] = np.float32(1 / max(1, step - t0))
