"""AdamW, the twin of ``torch.optim.AdamW``: Adam with decoupled weight decay."""
from __future__ import annotations

from scratch.optim.adam import Adam


class AdamW(Adam):
    """Adam with ``p *= 1 - lr*wd`` before the step (weight decay 1e-2 by default)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict):
        """As torch's AdamW: the loaded groups keep decoupled weight decay."""
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
