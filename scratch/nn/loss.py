"""Loss modules: ``CrossEntropyLoss``."""
from __future__ import annotations

from scratch import checks
from scratch import functional as F


class CrossEntropyLoss:
    """Softmax cross-entropy on logits with class-index targets."""

    def __init__(self, reduction="mean"):
        self.reduction = checks.choice(self, "reduction", reduction, ("mean", "sum", "none"))
        self._cache = None
        self._loss_shape = None

    def __call__(self, logits, target):
        return self.forward(logits, target)

    def forward(self, logits, target):
        """logits: (N, num_classes) float; target: (N,) integers in [0, num_classes)."""
        checks.input_array(self, logits, "(N, num_classes)", (2,), what="logits")
        target = checks.targets(self, target, *logits.shape)
        loss, self._cache = F.cross_entropy_forward(logits, target, self.reduction)
        self._loss_shape = loss.shape
        return loss

    def backward(self, dloss=1.0):
        """``dloss`` has the loss's shape: a scalar, or (N,) for ``reduction='none'``."""
        if self._cache is None:
            raise RuntimeError("CrossEntropyLoss.backward called before forward "
                               "(each forward allows one backward)")
        checks.grad(self, dloss, self._loss_shape, dtype=None, what="dloss")
        cache, self._cache = self._cache, None
        return F.cross_entropy_backward(dloss, cache)
