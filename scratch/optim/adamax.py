"""Adamax, the twin of ``torch.optim.Adamax``: Adam with the infinity norm."""
from __future__ import annotations

import numpy as np

from scratch.optim.adam import check_betas
from scratch.optim.optimizer import (
    Optimizer,
    check_lr,
    check_switches,
    lerp_,
    new_step,
    non_negative,
    scalar,
)


class Adamax(Optimizer):
    """``m = lerp(m, g, 1-beta1)``, ``u = max(beta2 u, |g| + eps)``,
    ``p -= lr / (1 - beta1**t) * m / u``. torch's order: ``foreach`` is the last
    positional argument. State: ``step``, ``exp_avg``, ``exp_inf``."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        non_negative(eps, f"Invalid epsilon value: {eps}")
        check_betas(betas)
        non_negative(weight_decay, f"Invalid weight_decay value: {weight_decay}")
        check_switches(type(self).__name__, capturable=capturable,
                       differentiable=differentiable)
        super().__init__(params, dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
            maximize=maximize, differentiable=differentiable, capturable=capturable))

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = new_step()
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_inf"] = np.zeros_like(p.data)
        lr, weight_decay = scalar(group["lr"]), scalar(group["weight_decay"])
        beta1, beta2 = (scalar(b) for b in group["betas"])
        state["step"] += 1
        if weight_decay != 0:
            grad = grad + weight_decay * p.data
        m, u = state["exp_avg"], state["exp_inf"]
        lerp_(m, grad, 1 - beta1)
        u *= beta2
        np.maximum(u, np.abs(grad) + scalar(group["eps"]), out=u)
        clr = lr / (1 - beta1 ** float(state["step"]))
        p.data += -clr * m / u
