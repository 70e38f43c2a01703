"""Loss modules: ``CrossEntropyLoss``, ``NLLLoss``.

Argument order and defaults are torch's. The deprecated ``size_average`` and
``reduce`` flags are mapped to ``reduction`` as torch maps them, with torch's
warning. A ``weight`` given is a buffer, so ``state_dict()`` holds it as
torch's does. ``forward(input, target)`` returns the loss (0-d unless
``reduction='none'``); ``backward(dloss=1.0)`` returns the input's gradient.
"""
from __future__ import annotations

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module, backward_without_cache


class _WeightedLoss(Module):
    _what = "logits"

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 ignore_index=-100):
        super().__init__()
        self.reduction = F.legacy_reduction(size_average, reduce, reduction, type(self).__name__)
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
            raise TypeError(f"{type(self).__name__}: ignore_index must be an int, got "
                            f"{ignore_index!r}")
        self.ignore_index = int(ignore_index)
        if weight is not None:
            self._buffers["weight"] = checks.class_weights(self, weight)
        self._loss_shape = None

    @property
    def weight(self):
        return self._buffers.get("weight")

    def __call__(self, input, target):
        return self.forward(input, target)

    def _check(self, input, probabilities):
        """Validate ``input`` and return the weight in its dtype (or None)."""
        checks.input_array(self, input, "(C,), (N, C) or (N, C, d1, ...)", min_ndim=1,
                           what=self._what)
        class_axis = 0 if input.ndim == 1 else 1
        weight = self.weight
        checks.class_weights_length(self, weight, input.shape[class_axis], class_axis)
        return None if weight is None else weight.astype(input.dtype)

    def _finish(self, loss, cache):
        self._cache, self._loss_shape = cache, loss.shape
        return loss

    def backward(self, dloss=1.0, input_grad=True):
        """``dloss`` has the loss's shape: a scalar, or the target's shape for 'none'."""
        if self._cache is None:
            raise backward_without_cache(self, forward_ran=self._loss_shape is not None)
        checks.grad(self, dloss, self._loss_shape, dtype=None, what="dloss")
        cache, self._cache = self._cache, None
        return type(self)._backward(dloss, cache)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy on logits, torch's ``CrossEntropyLoss``.

    input: logits (C,), (N, C) or (N, C, d1, ...). target: integer class indices
    (), (N,) or (N, d1, ...) in [0, C) or ``ignore_index``; or float class
    probabilities of the logits' shape. See :func:`scratch.functional.cross_entropy_forward`
    for the weighted mean and label smoothing.
    """
    _backward = staticmethod(F.cross_entropy_backward)

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction, ignore_index)
        self.label_smoothing = checks.probability(self, "label_smoothing", label_smoothing,
                                                  "a share of the target mass")

    def forward(self, input, target):
        weight = self._check(input, True)
        target, _ = checks.loss_target(self, target, input.shape, self.ignore_index)
        return self._finish(*F.cross_entropy_forward(
            input, target, weight, ignore_index=self.ignore_index, reduction=self.reduction,
            label_smoothing=self.label_smoothing))


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices, torch's ``NLLLoss``: put a
    ``LogSoftmax(dim=1)`` before it (together they are ``CrossEntropyLoss``).

    input: log-probabilities (C,), (N, C) or (N, C, d1, ...); target: integer class
    indices (), (N,) or (N, d1, ...) in [0, C) or ``ignore_index``.
    """
    _what = "input"
    _backward = staticmethod(F.nll_loss_backward)

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction, ignore_index)

    def forward(self, input, target):
        weight = self._check(input, False)
        target, _ = checks.loss_target(self, target, input.shape, self.ignore_index,
                                       probabilities=False)
        return self._finish(*F.nll_loss_forward(
            input, target, weight, ignore_index=self.ignore_index, reduction=self.reduction))
