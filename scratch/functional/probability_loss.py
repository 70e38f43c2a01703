"""Losses on probabilities: binary cross-entropy (on probabilities and on logits) and
the Kullback-Leibler divergence; forward/backward pairs.

Element-wise as the regression losses (:mod:`scratch.functional.regression_loss`):
a per-element loss of the input's shape, reduced by 'none', 'sum' or 'mean'
(over the element count). Targets and weights are constants.
"""
from __future__ import annotations

import warnings

import numpy as np

from scratch.functional.loss import legacy_reduction
from scratch.functional.regression_loss import (
    ElementwiseLossCache,
    elementwise_backward,
    reduce_losses,
    same_shape,
)

_BCE_EPSILON = np.float32(1e-12)    # torch's floor under x (1 - x) in the BCE gradient


def _weight(name, weight, shape, dtype, what="weight"):
    """A weight broadcastable to ``shape`` without enlarging it, in ``dtype`` (or 1)."""
    if weight is None:
        return dtype.type(1)
    weight = np.asarray(weight)
    try:
        grown = np.broadcast_shapes(weight.shape, shape) != shape
    except ValueError:
        grown = True
    if grown:
        raise RuntimeError(f"{name}: {what} of shape {weight.shape} does not broadcast to "
                           f"the target's shape {shape} (output with shape {list(shape)} "
                           f"doesn't match the broadcast shape)")
    return weight.astype(dtype, copy=False)


def binary_cross_entropy_forward(input, target, weight=None, size_average=None, reduce=None,
                                 reduction="mean"):
    """``-w (t log x + (1 - t) log(1 - x))`` with each log clamped at -100, as torch
    (so ``x = 0`` or ``1`` gives a loss of at most 100, never inf).

    input: probabilities in [0, 1], any shape; target: the same shape, in [0, 1];
    weight: broadcastable to that shape, or None. The gradient is torch's
    ``w (x - t) / max(x (1 - x), 1e-12)``: finite at 0 and 1 as well.
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "binary_cross_entropy")
    if np.asarray(target).shape != input.shape:
        raise ValueError(f"Using a target size ({np.asarray(target).shape}) that is different "
                         f"to the input size ({input.shape}) is deprecated. Please ensure "
                         f"they have the same size.")
    t = same_shape("binary_cross_entropy", input, target)
    if ((input < 0) | (input > 1)).any():
        raise RuntimeError("all elements of input should be between 0 and 1")
    if ((t < 0) | (t > 1)).any():
        raise RuntimeError("all elements of target should be between 0 and 1")
    w = _weight("binary_cross_entropy", weight, input.shape, input.dtype)
    with np.errstate(divide="ignore"):                        # log(0) = -inf, then clamped
        log_x = np.maximum(np.log(input), -100)
        log_1mx = np.maximum(np.log1p(-input), -100)
    losses = -w * (t * log_x + (1 - t) * log_1mx)
    slope = w * (input - t) / np.maximum((1 - input) * input, input.dtype.type(_BCE_EPSILON))
    return reduce_losses(np.asarray(losses, input.dtype), reduction), ElementwiseLossCache(
        np.asarray(slope, input.dtype), reduction)


binary_cross_entropy_backward = elementwise_backward


def binary_cross_entropy_with_logits_forward(input, target, weight=None, size_average=None,
                                             reduce=None, reduction="mean", pos_weight=None):
    """Sigmoid then BCE in one stable step: ``w ((1 - t) x - l log_sigmoid(x))``,
    ``l = 1 + (pos_weight - 1) t`` (1 without ``pos_weight``), with
    ``log_sigmoid(x) = min(x, 0) - log1p(exp(-|x|))``: finite for any finite logit.

    input: logits, any shape; target: the same shape; weight, pos_weight:
    broadcastable to it (pos_weight along the last, class, axis as torch documents).
    Slope: ``w ((1 + (p - 1) t) sigmoid(x) - p t)``; ``sigmoid(x) - t`` when unweighted.
    """
    reduction = legacy_reduction(size_average, reduce, reduction,
                                 "binary_cross_entropy_with_logits")
    if np.asarray(target).shape != input.shape:
        raise ValueError(f"Target size ({np.asarray(target).shape}) must be the same as "
                         f"input size ({input.shape})")
    t = same_shape("binary_cross_entropy_with_logits", input, target)
    name, dtype = "binary_cross_entropy_with_logits", input.dtype
    w = _weight(name, weight, input.shape, dtype)
    e = np.exp(-np.abs(input))                                 # in (0, 1]: never overflows
    log_sigmoid = np.minimum(input, 0) - np.log1p(e)
    negative = input < 0                                       # sigmoid as in sigmoid_forward:
    sigmoid = (~negative + negative * e) / (1 + e)             # 1 or e over 1 + e, no np.where
    if pos_weight is None:
        losses = (1 - t) * input - log_sigmoid
        slope = sigmoid - t
    else:
        p = _weight(name, pos_weight, input.shape, dtype, "pos_weight")
        losses = (1 - t) * input - (1 + (p - 1) * t) * log_sigmoid
        slope = (p * t + 1 - t) * sigmoid - p * t
    return reduce_losses(np.asarray(w * losses, dtype), reduction), ElementwiseLossCache(
        np.asarray(np.broadcast_to(w * slope, input.shape), dtype), reduction)


binary_cross_entropy_with_logits_backward = elementwise_backward


def kl_div_forward(input, target, size_average=None, reduce=None, reduction="mean",
                   log_target=False):
    """Pointwise KL divergence ``t (log t - x)`` (``xlogy(t, t) - t x``: 0 where t = 0),
    or ``exp(t) (t - x)`` with ``log_target``; ``input`` holds log-probabilities.

    input, target: the same shape. reduction: 'none', 'sum', 'mean' (over every
    element, with torch's warning that it is not the true KL divergence) or
    'batchmean' (the sum over ``input.shape[0]``; over 1 for a 0-d input).
    Slope: ``-t``, or ``-exp(t)`` with ``log_target``.
    """
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce, reduction, "kl_div")
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and "
                      "the support size.'batchmean' divides only by the batch size, and "
                      "aligns with the KL div math definition.'mean' will be changed to "
                      "behave the same as 'batchmean' in the next major release.",
                      UserWarning, stacklevel=2)
    elif reduction not in ("none", "sum", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    t = same_shape("kl_div", input, target)
    if log_target:
        p = np.exp(t)
        losses, slope = p * (t - input), -p
    else:
        with np.errstate(divide="ignore", invalid="ignore"):   # t <= 0: NaN or 0, as torch
            xlogy = np.where(t == 0, input.dtype.type(0), t * np.log(t))
        losses, slope = xlogy - t * input, -t
    losses, slope = np.asarray(losses, input.dtype), np.asarray(slope, input.dtype)
    if reduction != "batchmean":
        return reduce_losses(losses, reduction), ElementwiseLossCache(slope, reduction)
    batch = input.shape[0] if input.ndim else 1
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = np.asarray(losses.sum(dtype=input.dtype) / input.dtype.type(batch), input.dtype)
    return loss, ElementwiseLossCache(slope / input.dtype.type(batch) if batch else slope,
                                      "sum")


kl_div_backward = elementwise_backward
