"""Batch normalisation (training and eval): forward/backward pair."""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class BatchNormCache(NamedTuple):
    xhat: np.ndarray         # x normalised, x's shape
    inv_std: np.ndarray      # (C,): 1 / sqrt(var + eps)
    weight: np.ndarray | None
    has_bias: bool
    axes: tuple              # the axes reduced over: all but the channel axis 1
    training: bool           # batch statistics (True) or running ones


def batch_norm_forward(x, weight, bias, running_mean, running_var, training,
                       momentum=0.1, eps=1e-5):
    """Batch normalisation over every axis but the channel axis 1.

    x: (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W); weight, bias: (C,) or None (each
    on its own, as torch). In training, normalises with the batch mean and biased variance and, when
    running buffers are given, updates them in place:
    ``running = (1 - momentum) * running + momentum * batch_stat`` with the
    unbiased variance, as torch does. In eval, uses the running statistics.
    Without running buffers (None) training mode still normalises with the
    batch statistics. Cache: :class:`BatchNormCache`.

    Edge cases as torch's ``F.batch_norm``: in training, one value per channel
    (``N * prod(spatial) == 1``) is refused with a ``ValueError``; an empty batch
    (``N`` or a spatial size 0) gives an empty output, leaves the running buffers
    as they were, and zero parameter gradients. ``eps`` must be positive in
    training and non-negative in eval (``ValueError``).
    """
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    count = math.prod(x.shape[:1] + x.shape[2:])         # values per channel
    if training and count == 1:
        raise ValueError(f"batch_norm: Expected more than 1 value per channel when training, "
                         f"got input of shape {x.shape}")
    if eps < 0 or (training and eps == 0):
        raise ValueError(f"batch_norm eps must be "
                         f"{'positive during training' if training else 'non-negative'}, "
                         f"but got {eps}")
    if training and count == 0:            # nothing to average: buffers stay, as torch's
        mean, var = np.zeros(x.shape[1], x.dtype), np.ones(x.shape[1], x.dtype)
    elif training:
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += momentum * var * (count / max(count - 1, 1))
    else:
        mean, var = running_mean, running_var
    inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
    xhat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
    out = xhat
    if weight is not None:
        out = xhat * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out, BatchNormCache(xhat, inv_std, weight, bias is not None, axes, training)


def batch_norm_backward(dout, cache):
    """Returns ``(dx, dweight, dbias)`` (each of the last two None where it was None)."""
    xhat, inv_std, weight, has_bias, axes, training = cache
    shape = (1, -1) + (1,) * (xhat.ndim - 2)
    dxhat = dout * weight.reshape(shape) if weight is not None else dout
    if training:
        count = max(xhat.size // xhat.shape[1], 1)       # an empty batch: dx is empty
        sum_d = dxhat.sum(axis=axes).reshape(shape)
        sum_dx = (dxhat * xhat).sum(axis=axes).reshape(shape)
        dx = (inv_std.reshape(shape) / count) * (count * dxhat - sum_d - xhat * sum_dx)
    else:
        dx = dxhat * inv_std.reshape(shape)
    dw = (dout * xhat).sum(axis=axes) if weight is not None else None
    return dx, dw, dout.sum(axis=axes) if has_bias else None
