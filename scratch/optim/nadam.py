"""NAdam, the twin of ``torch.optim.NAdam``: Adam with Nesterov momentum and torch's
momentum schedule ``mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))``."""
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


class NAdam(Optimizer):
    """``m = lerp(m, g, 1-beta1)``, ``v = beta2 v + (1-beta2) g**2``,
    ``p -= lr (1 - mu_t) / (1 - prod mu) * g / d + lr mu_{t+1} / (1 - prod mu * mu_{t+1})
    * m / d`` with ``d = sqrt(v / (1 - beta2**t)) + eps``. The running product of the
    mu's is kept as torch keeps it: a float32 scalar. State: ``step``, ``mu_product``,
    ``exp_avg``, ``exp_avg_sq``."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        check_lr(lr)
        non_negative(eps, f"Invalid epsilon value: {eps}")
        check_betas(betas)
        non_negative(weight_decay, f"Invalid weight_decay value: {weight_decay}")
        non_negative(momentum_decay, f"Invalid momentum_decay value: {momentum_decay}")
        check_switches(type(self).__name__, capturable=capturable,
                       differentiable=differentiable)
        super().__init__(params, dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
            momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize, foreach=foreach, capturable=capturable,
            differentiable=differentiable))

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = new_step()
            state["mu_product"] = np.ones((), np.float32)
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
        lr, weight_decay = scalar(group["lr"]), scalar(group["weight_decay"])
        beta1, beta2 = (scalar(b) for b in group["betas"])
        momentum_decay = scalar(group["momentum_decay"])
        state["step"] += 1
        step = float(state["step"])
        bias_correction2 = 1 - beta2 ** step
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                p.data *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * p.data
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        state["mu_product"] *= mu                                 # float32, as torch's
        mu_product = float(state["mu_product"])
        m, v = state["exp_avg"], state["exp_avg_sq"]
        lerp_(m, grad, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * grad * grad
        denom = np.sqrt(v / bias_correction2) + scalar(group["eps"])
        p.data += (-lr * (1.0 - mu) / (1.0 - mu_product)) * grad / denom
        p.data += (-lr * mu_next / (1.0 - mu_product * mu_next)) * m / denom
