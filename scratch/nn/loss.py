"""Loss modules: ``CrossEntropyLoss``, ``NLLLoss``; regression ``MSELoss``, ``L1Loss``,
``SmoothL1Loss``, ``HuberLoss``, ``GaussianNLLLoss``; on probabilities ``BCELoss``,
``BCEWithLogitsLoss``, ``KLDivLoss``; margin ``SoftMarginLoss``, ``MultiMarginLoss`` (the
CS231n SVM loss), ``CosineEmbeddingLoss``.

Argument order and defaults are torch's. The deprecated ``size_average`` and
``reduce`` flags are mapped to ``reduction`` as torch maps them, with torch's
warning. A ``weight`` (or ``pos_weight``) given is a buffer, so ``state_dict()``
holds it as torch's does (none when not given). ``forward(input, target, ...)``
returns the loss (0-d unless ``reduction='none'``); ``backward(dloss=1.0)`` returns
the input's gradient (targets are constants; ``GaussianNLLLoss`` returns ``(dinput,
dvar)``, ``CosineEmbeddingLoss`` ``(dinput1, dinput2)``). Each prints as torch's:
``MSELoss()``.
"""
from __future__ import annotations

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module, backward_without_cache


def _buffer(layer, what, value):
    if value is None:
        return
    value = np.asarray(value)
    if value.dtype.kind != "f":
        raise TypeError(f"{type(layer).__name__}: {what} must be a floating-point array, got "
                        f"dtype {value.dtype}")
    layer._buffers[what] = value.copy()


class _Loss(Module):
    """torch's ``_Loss``: ``reduction`` and the forward/backward bookkeeping."""
    _backward = None

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.reduction = F.legacy_reduction(size_average, reduce, reduction, type(self).__name__)
        self._loss_shape = None

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def _input(self, x, what="input"):
        checks.input_array(self, x, what=what)
        return x

    def _finish(self, loss, cache):
        self._cache, self._loss_shape = cache, loss.shape
        return loss

    def backward(self, dloss=1.0, input_grad=True):
        """``dloss`` has the loss's shape: a scalar, or the input's shape for 'none'."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward "
                               f"(each forward allows one backward)")
        checks.grad(self, dloss, self._loss_shape, dtype=None, what="dloss")
        cache, self._cache = self._cache, None
        return type(self)._backward(dloss, cache)


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


class MSELoss(_Loss):
    """``mean((input - target)**2)``; input and target of one shape."""
    _backward = staticmethod(F.mse_loss_backward)

    def forward(self, input, target):
        return self._finish(*F.mse_loss_forward(self._input(input), target,
                                                reduction=self.reduction))


class L1Loss(_Loss):
    """``mean(|input - target|)``; the gradient at a zero difference is 0, as torch's."""
    _backward = staticmethod(F.l1_loss_backward)

    def forward(self, input, target):
        return self._finish(*F.l1_loss_forward(self._input(input), target,
                                               reduction=self.reduction))


class SmoothL1Loss(_Loss):
    """Quadratic below ``beta``, linear above (``beta=0``: L1)."""
    _backward = staticmethod(F.smooth_l1_loss_backward)

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = checks.number(self, "beta", beta)

    def forward(self, input, target):
        return self._finish(*F.smooth_l1_loss_forward(self._input(input), target,
                                                      reduction=self.reduction, beta=self.beta))


class HuberLoss(_Loss):
    """``0.5 d**2`` below ``delta``, ``delta (|d| - 0.5 delta)`` above; torch's order
    ``HuberLoss(reduction='mean', delta=1.0)``."""
    _backward = staticmethod(F.huber_loss_backward)

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = checks.number(self, "delta", delta)

    def forward(self, input, target):
        return self._finish(*F.huber_loss_forward(self._input(input), target, self.reduction,
                                                  self.delta))


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood of ``target`` under mean ``input`` and variance
    ``var``; keyword-only arguments, as torch's. ``forward(input, target, var)``;
    ``backward`` returns ``(dinput, dvar)`` (``dvar`` None when var is a number)."""
    _backward = staticmethod(F.gaussian_nll_loss_backward)

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction=reduction)
        self.full = checks.flag(self, "full", full)
        self.eps = checks.number(self, "eps", eps)

    def forward(self, input, target, var):
        return self._finish(*F.gaussian_nll_loss_forward(
            self._input(input), target, var, self.full, self.eps, self.reduction))


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
