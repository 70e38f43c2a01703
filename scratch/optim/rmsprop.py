"""RMSprop, the twin of ``torch.optim.RMSprop``."""
from __future__ import annotations

import numpy as np

from scratch.optim.optimizer import (
    Optimizer,
    check_lr,
    check_switches,
    lerp_,
    new_step,
    non_negative,
    scalar,
)


class RMSprop(Optimizer):
    """``v = alpha*v + (1-alpha)*g*g`` (``g = grad + wd*p``); centered: ``a = lerp(a, g,
    1-alpha)`` and ``avg = sqrt(v - a*a) + eps``, else ``avg = sqrt(v) + eps``; with
    momentum ``buf = momentum*buf + g/avg`` and ``p -= lr*buf``, else ``p -= lr*g/avg``.
    State: ``step``, ``square_avg`` (and ``momentum_buffer``, ``grad_avg``)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        check_lr(lr)
        non_negative(eps, f"Invalid epsilon value: {eps}")
        non_negative(momentum, f"Invalid momentum value: {momentum}")
        non_negative(weight_decay, f"Invalid weight_decay value: {weight_decay}")
        non_negative(alpha, f"Invalid alpha value: {alpha}")
        check_switches("RMSprop", capturable=capturable, differentiable=differentiable)
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps,
                                      centered=centered, weight_decay=weight_decay,
                                      capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable))

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = new_step()
            state["square_avg"] = np.zeros_like(p.data)
            if scalar(group["momentum"]) > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        alpha, momentum = scalar(group["alpha"]), scalar(group["momentum"])
        weight_decay = scalar(group["weight_decay"])
        state["step"] += 1
        if weight_decay != 0:
            grad = grad + weight_decay * p.data
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            lerp_(grad_avg, grad, 1 - alpha)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += scalar(group["eps"])
        lr = scalar(group["lr"])
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / avg
            p.data -= lr * buf
        else:
            p.data -= lr * (grad / avg)
