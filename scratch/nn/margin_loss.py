"""Margin loss modules: ``SoftMarginLoss``, ``MultiMarginLoss`` (the CS231n SVM loss),
``CosineEmbeddingLoss``.

torch's argument order and defaults; ``MultiMarginLoss``'s ``weight`` is a buffer
as in torch's ``state_dict()``. ``CosineEmbeddingLoss.backward`` returns
``(dinput1, dinput2)``; the others return the input's gradient.
"""
from __future__ import annotations

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch.nn.regression_loss import _Loss


class SoftMarginLoss(_Loss):
    """``mean(log(1 + exp(-target * input)))`` for targets of +-1."""
    _backward = staticmethod(F.soft_margin_loss_backward)

    def forward(self, input, target):
        return self._finish(*F.soft_margin_loss_forward(self._input(input), target,
                                                        reduction=self.reduction))


class MultiMarginLoss(_Loss):
    """Multi-class hinge loss on scores (N, C) or (C,) and class indices (N,) or ()."""
    _backward = staticmethod(F.multi_margin_loss_backward)

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        if p != 1 and p != 2:
            raise ValueError("only p == 1 and p == 2 supported")
        if weight is not None:
            weight = np.asarray(weight)
            if weight.ndim != 1:
                raise ValueError(f"MultiMarginLoss: expected weight to be None or 1D tensor, "
                                 f"got {weight.ndim}D instead")
            self._buffers["weight"] = weight.copy()
        self.p = int(p)
        self.margin = checks.number(self, "margin", margin)

    def forward(self, input, target):
        return self._finish(*F.multi_margin_loss_forward(
            self._input(input), target, self.p, self.margin, self._buffers.get("weight"),
            reduction=self.reduction))


class CosineEmbeddingLoss(_Loss):
    """``1 - cos`` for pairs labelled 1, ``max(0, cos - margin)`` for pairs labelled -1;
    ``forward(input1, input2, target)``."""
    _backward = staticmethod(F.cosine_embedding_loss_backward)

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = checks.number(self, "margin", margin)

    def forward(self, input1, input2, target):
        self._input(input1, "input1")
        self._input(input2, "input2")
        return self._finish(*F.cosine_embedding_loss_forward(input1, input2, target,
                                                             self.margin,
                                                             reduction=self.reduction))
