"""Adadelta, the twin of ``torch.optim.Adadelta``."""
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


class Adadelta(Optimizer):
    """``v = rho*v + (1-rho)*g*g``; ``delta = sqrt(u + eps) / sqrt(v + eps) * g``;
    ``u = rho*u + (1-rho)*delta*delta``; ``p -= lr*delta`` (``g = grad + wd*p``).
    State: ``step``, ``square_avg`` (v), ``acc_delta`` (u)."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 <= float(rho) <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        non_negative(eps, f"Invalid epsilon value: {eps}")
        non_negative(weight_decay, f"Invalid weight_decay value: {weight_decay}")
        check_switches("Adadelta", capturable=capturable, differentiable=differentiable)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, capturable=capturable,
                                      foreach=foreach, differentiable=differentiable))

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = new_step()
            state["square_avg"] = np.zeros_like(p.data)
            state["acc_delta"] = np.zeros_like(p.data)
        rho, eps = scalar(group["rho"]), scalar(group["eps"])
        weight_decay = scalar(group["weight_decay"])
        state["step"] += 1
        if weight_decay != 0:
            grad = grad + weight_decay * p.data
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        std = np.sqrt(square_avg + eps)
        delta = np.sqrt(acc_delta + eps)
        delta /= std
        delta *= grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        p.data -= scalar(group["lr"]) * delta
