"""Adagrad, the twin of ``torch.optim.Adagrad``."""
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


class Adagrad(Optimizer):
    """``sum += g*g`` (``g = grad + wd*p``); ``clr = lr / (1 + (t-1)*lr_decay)``;
    ``p -= clr * g / (sqrt(sum) + eps)``. State: ``step``, ``sum``.

    As torch's: the state of every parameter given to the constructor exists from the
    start (``sum`` filled with the constructor's ``initial_accumulator_value``, whatever
    a group says); parameters of groups added later start from
    ``defaults["initial_accumulator_value"]`` at their first step."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        check_lr(lr)
        non_negative(lr_decay, f"Invalid lr_decay value: {lr_decay}")
        non_negative(weight_decay, f"Invalid weight_decay value: {weight_decay}")
        non_negative(initial_accumulator_value,
                     f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        non_negative(eps, f"Invalid epsilon value: {eps}")
        check_switches("Adagrad", differentiable=differentiable, fused=fused)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps,
                                      weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, fused=fused))
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = self._initial_state(p, initial_accumulator_value)

    @staticmethod
    def _initial_state(p, initial_accumulator_value):
        return {"step": new_step(),
                "sum": np.full_like(p.data, scalar(initial_accumulator_value))}

    def _update(self, p, grad, state, group):
        if not state:
            state.update(self._initial_state(p, self.defaults["initial_accumulator_value"]))
        weight_decay = scalar(group["weight_decay"])
        state["step"] += 1
        step = float(state["step"])
        if weight_decay != 0:
            grad = grad + weight_decay * p.data
        clr = scalar(group["lr"]) / (1 + (step - 1) * scalar(group["lr_decay"]))
        state_sum = state["sum"]
        state_sum += grad * grad
        std = np.sqrt(state_sum)
        std += scalar(group["eps"])
        p.data -= clr * (grad / std)
