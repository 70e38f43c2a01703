"""Adam, the twin of ``torch.optim.Adam`` (AdamW is Adam with decoupled weight decay)."""
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


def check_betas(betas) -> None:
    """torch's checks: each in [0, 1); both floats or both 1-element arrays."""
    for i, beta in enumerate(betas):
        if isinstance(beta, np.ndarray) and beta.size != 1:
            raise ValueError(f"Tensor betas[{i}] must be 1-element")
        if not 0.0 <= float(np.asarray(beta).reshape(())) < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
    if not (all(isinstance(b, float) for b in betas)
            or all(isinstance(b, np.ndarray) for b in betas)):
        raise ValueError("betas must be either both floats or both Tensors")


class Adam(Optimizer):
    """``m = lerp(m, g, 1-beta1)``, ``v = beta2*v + (1-beta2)*g*g`` (``g = grad + wd*p``,
    or with ``decoupled_weight_decay`` ``p *= 1 - lr*wd`` first); amsgrad keeps
    ``max_exp_avg_sq = max(max_exp_avg_sq, v)`` and uses it for ``v``;
    ``p -= lr/(1-beta1**t) * m / (sqrt(v)/sqrt(1-beta2**t) + eps)``.
    State: ``step``, ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq``)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        check_lr(lr)
        non_negative(eps, f"Invalid epsilon value: {eps}")
        check_betas(betas)
        non_negative(weight_decay, f"Invalid weight_decay value: {weight_decay}")
        check_switches(type(self).__name__, capturable=capturable,
                       differentiable=differentiable, fused=fused)
        betas = tuple(b.reshape(()) if isinstance(b, np.ndarray) else b for b in betas)
        super().__init__(params, dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
            maximize=maximize, foreach=foreach, capturable=capturable,
            differentiable=differentiable, fused=fused,
            decoupled_weight_decay=decoupled_weight_decay))

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = new_step()
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        lr, weight_decay = scalar(group["lr"]), scalar(group["weight_decay"])
        beta1, beta2 = (scalar(b) for b in group["betas"])
        state["step"] += 1
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                p.data *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * p.data
        m, v = state["exp_avg"], state["exp_avg_sq"]
        lerp_(m, grad, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * grad * grad
        step = float(state["step"])
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        denom = np.sqrt(v) / bias_correction2_sqrt + scalar(group["eps"])
        p.data -= step_size * (m / denom)
