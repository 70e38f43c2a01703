"""Loss modules on probabilities: ``BCELoss``, ``BCEWithLogitsLoss``, ``KLDivLoss``.

torch's argument order and defaults; a ``weight`` or ``pos_weight`` given is a
buffer, so ``state_dict()`` holds it as torch's does (none when not given).
``backward(dloss=1.0)`` returns the input's gradient.
"""
from __future__ import annotations

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch.nn.regression_loss import _Loss


def _buffer(layer, what, value):
    if value is None:
        return
    value = np.asarray(value)
    if value.dtype.kind != "f":
        raise TypeError(f"{type(layer).__name__}: {what} must be a floating-point array, got "
                        f"dtype {value.dtype}")
    layer._buffers[what] = value.copy()


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1] (put a ``Sigmoid`` before it, or
    use :class:`BCEWithLogitsLoss`); each log clamped at -100, as torch's."""
    _backward = staticmethod(F.binary_cross_entropy_backward)

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        _buffer(self, "weight", weight)

    def forward(self, input, target):
        return self._finish(*F.binary_cross_entropy_forward(
            self._input(input), target, self._buffers.get("weight"), reduction=self.reduction))


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross-entropy in one stable step; ``pos_weight`` scales the
    positive term (one entry per class, broadcast along the last axis)."""
    _backward = staticmethod(F.binary_cross_entropy_with_logits_backward)

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        _buffer(self, "weight", weight)
        _buffer(self, "pos_weight", pos_weight)

    def forward(self, input, target):
        return self._finish(*F.binary_cross_entropy_with_logits_forward(
            self._input(input), target, self._buffers.get("weight"), reduction=self.reduction,
            pos_weight=self._buffers.get("pos_weight")))


class KLDivLoss(_Loss):
    """Pointwise KL divergence; ``input`` holds log-probabilities, ``target``
    probabilities (log-probabilities with ``log_target=True``). ``reduction`` may also be
    'batchmean' (the true KL divergence per sample); 'mean' warns as torch's does."""
    _backward = staticmethod(F.kl_div_backward)

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        batchmean = reduction == "batchmean" and size_average is None and reduce is None
        super().__init__(size_average, reduce, "mean" if batchmean else reduction)
        if batchmean:
            self.reduction = "batchmean"
        self.log_target = checks.flag(self, "log_target", log_target)

    def forward(self, input, target):
        return self._finish(*F.kl_div_forward(self._input(input), target,
                                              reduction=self.reduction,
                                              log_target=self.log_target))
