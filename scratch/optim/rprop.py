"""Rprop, the twin of ``torch.optim.Rprop``: a step size per weight, grown while the
gradient keeps its sign and shrunk when it flips; only the gradient's sign is used."""
from __future__ import annotations

import numpy as np

from scratch.optim.optimizer import Optimizer, check_lr, check_switches, new_step, scalar


class Rprop(Optimizer):
    """Per element: ``s = g * prev``; the step size is multiplied by ``etaplus`` where
    ``s > 0``, by ``etaminus`` where ``s < 0`` (and that gradient is then taken as 0),
    kept where ``s = 0``, and clamped to ``step_sizes``; ``p -= sign(g) * step_size``;
    ``prev = g``. State: ``step``, ``prev``, ``step_size``."""

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        check_switches(type(self).__name__, capturable=capturable,
                       differentiable=differentiable)
        super().__init__(params, dict(
            lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
            differentiable=differentiable, capturable=capturable))

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = new_step()
            state["prev"] = np.zeros_like(p.data)
            state["step_size"] = np.full_like(p.data, scalar(group["lr"]))
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        state["step"] += 1
        agreement = grad * state["prev"]
        factor = np.where(agreement > 0, etaplus, np.where(agreement < 0, etaminus, 1.0))
        step_size = state["step_size"]
        step_size *= factor.astype(p.data.dtype)
        np.clip(step_size, step_size_min, step_size_max, out=step_size)
        grad = np.where(agreement < 0, p.data.dtype.type(0), grad)   # a flip: no move now
        p.data -= np.sign(grad) * step_size
        state["prev"][...] = grad
