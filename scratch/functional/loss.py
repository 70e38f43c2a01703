"""Losses: softmax cross-entropy, negative log-likelihood, L2 penalty; forward/backward pairs."""
from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

REDUCTIONS = ("mean", "sum", "none")


def legacy_reduction(size_average=None, reduce=None, reduction="mean", name="loss"):
    """torch's mapping of the deprecated ``size_average``/``reduce`` flags, with its warning.

    Either flag given overrides ``reduction``: ``reduce=False`` gives 'none',
    else ``size_average=False`` gives 'sum', else 'mean'.
    """
    if size_average is None and reduce is None:
        if reduction not in REDUCTIONS:
            raise ValueError(f"{name}: reduction must be one of 'mean', 'sum', 'none', "
                             f"got {reduction!r}")
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{ret}' instead.", UserWarning, stacklevel=3)
    return ret


def _rows(a, class_axis):
    """(N, C, d1, ...) -> (N*d1*..., C) with the classes last; (C,) -> (1, C)."""
    return np.moveaxis(a, class_axis, -1).reshape(-1, a.shape[class_axis])


def _unrows(rows, shape, class_axis):
    """Inverse of :func:`_rows` for an array of the logits' shape."""
    moved = tuple(s for i, s in enumerate(shape) if i != class_axis) + (shape[class_axis],)
    return np.moveaxis(rows.reshape(moved), -1, class_axis)


def _reduce(losses, denominator, reduction, out_shape, dtype):
    if reduction == "none":
        return np.asarray(losses.reshape(out_shape), dtype)
    total = losses.sum(dtype=dtype)
    if reduction == "sum":
        return np.asarray(total, dtype)
    if denominator == 0:     # torch: the NLL part is 0/0, so NaN even with smoothing
        return np.asarray(np.nan, dtype)
    return np.asarray(total / dtype.type(denominator), dtype)


def _class_weights(weight, num_classes, dtype):
    if weight is None:
        return np.ones(num_classes, dtype)
    return np.asarray(weight, dtype)


def nll_terms(log_probs, target, weight=None, ignore_index=-100, label_smoothing=0.0):
    """Per-row loss and target distribution of (label-smoothed) NLL on rows.

    log_probs: (M, C); target: (M,) integer class indices (or ``ignore_index``).
    Returns ``losses`` (M,), ``q`` (M, C) with ``dloss_m / dlog_probs[m] = -q[m]``,
    and ``denominator``, torch's 'mean' divisor: the summed weight of the
    targets that are not ignored (their count without ``weight``).
    Smoothing follows torch: ``(1 - eps) * nll + eps / C * sum_c w_c * (-log_probs[c])``,
    each term zero for ignored rows.
    """
    m, c = log_probs.shape
    dtype = log_probs.dtype
    w = _class_weights(weight, c, dtype)
    valid = target != ignore_index
    safe = np.where(valid, target, 0)
    w_t = np.where(valid, w[safe], dtype.type(0))                     # (M,)
    q = np.zeros((m, c), dtype)
    q[np.arange(m), safe] = w_t
    if not label_smoothing:   # a gather: a -inf log-probability elsewhere stays out
        picked = log_probs[np.arange(m), safe]
        with np.errstate(invalid="ignore"):
            losses = np.where(valid, -w_t * picked, dtype.type(0))
        return losses, q, w_t.sum(dtype=dtype)
    eps = dtype.type(label_smoothing)
    q *= 1 - eps
    q += (eps / c) * valid.astype(dtype)[:, None] * w
    return -(q * log_probs).sum(axis=1), q, w_t.sum(dtype=dtype)


def nll_loss_forward(log_probs, target, weight=None, size_average=None, ignore_index=-100,
                     reduce=None, reduction="mean"):
    """Negative log-likelihood of class indices, as torch's ``nll_loss``.

    log_probs: (C,), (N, C) or (N, C, d1, ...); target: (), (N,) or (N, d1, ...)
    integer class indices in [0, C) or ``ignore_index``; weight: (C,) or None.
    'mean' divides by the summed weight of the non-ignored targets (NaN when
    every target is ignored, as torch). Cache for :func:`nll_loss_backward`.
    """
    return _index_loss(log_probs, target, weight, ignore_index,
                       legacy_reduction(size_average, reduce, reduction, "nll_loss"),
                       0.0, log_softmax_first=False)


def nll_loss_backward(dloss, cache):
    """``dlog_probs``: ``-q * g`` per row, ``g`` the upstream gradient (over the
    denominator for 'mean')."""
    return _index_loss_backward(dloss, cache)


class IndexTargets(NamedTuple):
    valid: np.ndarray        # (M,): the target is not ignore_index
    safe: np.ndarray         # (M,): the target, 0 where ignored (a valid index)


class LossCache(NamedTuple):
    """What the NLL and cross-entropy backwards need from the forward."""
    log_probs: np.ndarray | None   # (M, C) rows; None for NLL (its input is log_probs)
    q: np.ndarray                  # (M, C): dloss_m / dlog_probs[m] = -q[m]
    denominator: float             # 'mean' divisor
    reduction: str
    shape: tuple                   # the logits' (or log-probabilities') shape
    class_axis: int
    targets: IndexTargets | None   # None for class-probability targets


def _index_loss(logits, target, weight, ignore_index, reduction, label_smoothing,
                log_softmax_first):
    class_axis = 0 if logits.ndim == 1 else 1
    rows = _rows(logits, class_axis)
    if log_softmax_first:
        shifted = rows - rows.max(axis=1, keepdims=True)
        rows = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    flat = np.asarray(target).reshape(-1)
    losses, q, denominator = nll_terms(rows, flat, weight, ignore_index, label_smoothing)
    out = _reduce(losses, denominator, reduction, np.shape(target), logits.dtype)
    valid = flat != ignore_index
    targets = IndexTargets(valid, np.where(valid, flat, 0))
    return out, LossCache(rows if log_softmax_first else None, q, denominator, reduction,
                          logits.shape, class_axis, targets)


def _index_loss_backward(dloss, cache):
    log_probs, q, denominator, reduction, shape, class_axis, targets = cache
    dtype = q.dtype
    dloss = np.asarray(dloss, dtype)
    with np.errstate(invalid="ignore", divide="ignore"):   # 'mean' over zero weight: NaN
        if reduction == "none":
            g = dloss.reshape(-1, 1)
        else:
            g = dloss / dtype.type(denominator) if reduction == "mean" else dloss
        if log_probs is None:          # NLL: only the target's log-probability gets one
            picked = targets[1]
            grad = np.zeros_like(q)
            rows = np.arange(len(q))
            grad[rows, picked] = -q[rows, picked] * np.broadcast_to(g, (len(q), 1))[:, 0]
        elif reduction == "mean" and denominator == 0:       # torch: NaN throughout
            grad = np.full_like(q, np.nan)
        else:                                                # through log_softmax
            grad = (np.exp(log_probs) * q.sum(axis=1, keepdims=True) - q) * g
    if targets is not None and reduction == "mean":   # ignored rows get 0 even when g is
        grad = np.where(targets[0][:, None], grad, dtype.type(0))   # NaN (all ignored): torch
    return np.asarray(_unrows(grad, shape, class_axis), dtype)


def cross_entropy_forward(logits, target, weight=None, size_average=None, ignore_index=-100,
                          reduce=None, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy from logits through a stable log-softmax, as torch's
    ``cross_entropy`` (same argument order).

    logits: (C,), (N, C) or (N, C, d1, ...), the classes on axis 1 (axis 0 unbatched).
    target: class indices, integer of shape (), (N,) or (N, d1, ...), each in
    [0, C) or ``ignore_index``; or class probabilities, float of the logits' shape
    (``ignore_index`` must then stay negative, as torch requires).
    weight: (C,) class weights or None. 'mean' over class indices is the weighted
    mean, ``sum_n w_{y_n} l_n / sum_n w_{y_n}`` over non-ignored targets (NaN
    when all are ignored); over probabilities it divides by the number of rows.
    label_smoothing: in [0, 1]; mixes each target with the uniform distribution.
    Finite for any finite logits. Cache for :func:`cross_entropy_backward`.
    """
    reduction = legacy_reduction(size_average, reduce, reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, "
                         f"got {label_smoothing}")
    target = np.asarray(target)
    if target.shape != logits.shape or target.dtype.kind != "f":
        return _index_loss(logits, target, weight, ignore_index, reduction, label_smoothing,
                           log_softmax_first=True)
    if ignore_index >= 0:
        raise ValueError("cross_entropy: ignore_index is not supported for floating point "
                         f"target (class probabilities), got ignore_index={ignore_index}")
    class_axis = 0 if logits.ndim == 1 else 1
    rows = _rows(logits, class_axis)
    c, dtype = rows.shape[1], logits.dtype
    shifted = rows - rows.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    probs = _rows(np.asarray(target, dtype), class_axis)
    if label_smoothing:
        eps = dtype.type(label_smoothing)
        probs = probs * (1 - eps) + eps / c
    q = probs * _class_weights(weight, c, dtype)
    losses = -(q * log_probs).sum(axis=1)
    out_shape = tuple(s for i, s in enumerate(logits.shape) if i != class_axis)
    out = _reduce(losses, len(rows), reduction, out_shape, dtype)
    return out, LossCache(log_probs, q, len(rows), reduction, logits.shape, class_axis, None)


def cross_entropy_backward(dloss, cache):
    """``dlogits = (softmax * sum_c q_c - q) * g`` per row, ``q`` the (weighted,
    smoothed) target distribution, ``g`` the upstream gradient (over the 'mean'
    denominator). With plain one-hot targets this is ``(softmax - onehot) * g``."""
    return _index_loss_backward(dloss, cache)


def l2_penalty(arrays, lam):
    """``0.5 * lam * sum(w**2)`` over the given arrays, in their dtype."""
    arrays = list(arrays)
    dtype = arrays[0].dtype if arrays else np.float64
    total = sum((np.vdot(a, a) for a in arrays), start=np.zeros((), dtype))
    return np.asarray(0.5 * lam * total, dtype=dtype)


def l2_penalty_backward(arrays, lam, dout=1.0):
    """Gradient of :func:`l2_penalty`: ``dout * lam * w`` for each array."""
    return [a * a.dtype.type(lam * dout) for a in arrays]
