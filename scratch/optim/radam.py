"""RAdam, the twin of ``torch.optim.RAdam``: Adam whose adaptive step is switched on,
and rectified, once the variance estimate is trustworthy (``rho_t > 5``)."""
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


class RAdam(Optimizer):
    """``rho_inf = 2 / (1 - beta2) - 1``, ``rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)``;
    while ``rho_t <= 5`` the step is plain momentum ``lr * m_hat``, then ``lr * m_hat *
    r_t * sqrt(1 - beta2**t) / (sqrt(v) + eps)`` with torch's rectification ``r_t``.
    State: ``step``, ``exp_avg``, ``exp_avg_sq``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        check_lr(lr)
        non_negative(eps, f"Invalid epsilon value: {eps}")
        check_betas(betas)
        non_negative(weight_decay, f"Invalid weight_decay value: {weight_decay}")
        check_switches(type(self).__name__, capturable=capturable,
                       differentiable=differentiable)
        super().__init__(params, dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
            foreach=foreach, capturable=capturable,
            decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable))

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = new_step()
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
        lr, weight_decay = scalar(group["lr"]), scalar(group["weight_decay"])
        beta1, beta2 = (scalar(b) for b in group["betas"])
        state["step"] += 1
        step = float(state["step"])
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                p.data *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * p.data
        m, v = state["exp_avg"], state["exp_avg_sq"]
        lerp_(m, grad, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * grad * grad
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        m_hat = m / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = (bias_correction2 ** 0.5) / (np.sqrt(v) + scalar(group["eps"]))
            p.data -= m_hat * lr * adaptive * rect
        else:
            p.data -= m_hat * lr
