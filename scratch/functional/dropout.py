"""Dropout (element-wise and channel-wise): forward/backward pair.

The mask is drawn by the caller (the module, from its generator) or handed
in, so the very same mask can be given to torch: the parity tests and the
shared-mask training of :mod:`reference.dropout` rely on that.
"""
from __future__ import annotations

import numpy as np


def dropout_noise_shape(shape, channelwise=False):
    """Shape of the keep-mask: the input's for element-wise dropout; for
    channel-wise dropout one value per (sample, channel), ``(N, C, 1, ...)``,
    as torch's feature dropout (an input needs at least 2 dims)."""
    if not channelwise:
        return tuple(shape)
    return tuple(shape[:2]) + (1,) * (len(shape) - 2)


def draw_keep_mask(generator, shape, p):
    """Bernoulli(1 - p) keep-mask of ``shape`` as float64 zeros and ones.

    Always drawn in float64 from ``generator`` (a ``numpy.random.Generator``),
    so float32 and float64 twins built from one seed draw the same masks.
    """
    return (generator.random(shape) >= p).astype(np.float64)


def dropout_forward(x, p, mask):
    """``x * mask / (1 - p)`` in training, as torch's ``dropout``.

    x: any shape; mask: zeros and ones broadcastable to ``x`` (its noise
    shape), or None for the identity (eval mode, or ``p == 0``). With
    ``p == 1`` every element is zeroed (``x * 0``, torch's special case) and
    the mask is ignored. Cache: the scale ``mask / (1 - p)`` (None: identity).
    """
    if mask is None:
        return x, None
    if p == 1:
        scale = np.zeros((), x.dtype)
    else:
        scale = np.asarray(mask, x.dtype) / x.dtype.type(1 - p)
    return np.asarray(x * scale, x.dtype), scale


def dropout_backward(dout, scale):
    """``dout * mask / (1 - p)`` (``dout`` itself for the identity)."""
    if scale is None:
        return dout
    return np.asarray(dout * scale, dout.dtype)
