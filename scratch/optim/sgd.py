"""Stochastic gradient descent, the twin of ``torch.optim.SGD``."""
from __future__ import annotations

import numpy as np

from scratch.optim.optimizer import Optimizer, check_lr, check_switches, non_negative, scalar


class SGD(Optimizer):
    """``g = grad + wd*p`` (``-grad`` under maximize); with momentum ``buf = g`` at the
    first step, then ``buf = momentum*buf + (1-dampening)*g``; ``g = g + momentum*buf``
    (nesterov) or ``g = buf``; ``p -= lr*g``. State: ``momentum_buffer`` (only with
    momentum). Same signature and defaults as torch's."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        check_lr(lr)
        non_negative(momentum, f"Invalid momentum value: {momentum}")
        non_negative(weight_decay, f"Invalid weight_decay value: {weight_decay}")
        check_switches("SGD", differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    def _update(self, p, grad, state, group):
        weight_decay, momentum = scalar(group["weight_decay"]), scalar(group["momentum"])
        if weight_decay != 0:
            grad = grad + weight_decay * p.data
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # A copy, and an array even for a 0-d parameter (where ``grad`` may be a
                # NumPy scalar, which in-place updates would rebind instead of update).
                buf = state["momentum_buffer"] = np.array(grad, dtype=p.data.dtype)
            else:
                buf *= momentum
                buf += (1 - scalar(group["dampening"])) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p.data -= scalar(group["lr"]) * grad
