"""Layers that only move elements: unflatten, pixel shuffle and unshuffle;
forward/backward pairs. Each backward is the inverse rearrangement of ``dout``.
"""
from __future__ import annotations

import numpy as np


def unflatten_forward(x, dim, sizes):
    """Split axis ``dim`` of ``x`` into ``sizes`` (one entry may be -1). Cache: x's shape."""
    axis = dim % x.ndim
    out = x.reshape(x.shape[:axis] + tuple(sizes) + x.shape[axis + 1:])
    return out, x.shape


def unflatten_backward(dout, shape):
    return dout.reshape(shape)


def pixel_shuffle_forward(x, upscale_factor):
    """(*, C r**2, H, W) -> (*, C, H r, W r): each group of r**2 channels becomes an
    r-by-r block of pixels (channel ``c r**2 + i r + j`` lands at ``(h r + i, w r + j)``).
    Cache: r."""
    r = upscale_factor
    *lead, c, h, w = x.shape
    blocks = x.reshape(*lead, c // (r * r), r, r, h, w)             # (*, C, r, r, H, W)
    n = len(lead)
    order = (*range(n), n, n + 3, n + 1, n + 4, n + 2)              # (*, C, H, r, W, r)
    return blocks.transpose(order).reshape(*lead, c // (r * r), h * r, w * r), r


def pixel_unshuffle_forward(x, downscale_factor):
    """(*, C, H r, W r) -> (*, C r**2, H, W), the inverse of :func:`pixel_shuffle_forward`.
    Cache: r."""
    r = downscale_factor
    *lead, c, hr, wr = x.shape
    h, w = hr // r, wr // r
    blocks = x.reshape(*lead, c, h, r, w, r)                        # (*, C, H, r, W, r)
    n = len(lead)
    order = (*range(n), n, n + 2, n + 4, n + 1, n + 3)              # (*, C, r, r, H, W)
    return blocks.transpose(order).reshape(*lead, c * r * r, h, w), r


def pixel_shuffle_backward(dout, r):
    """The gradient moves back as the elements moved: an unshuffle."""
    return np.ascontiguousarray(pixel_unshuffle_forward(dout, r)[0])


def pixel_unshuffle_backward(dout, r):
    return np.ascontiguousarray(pixel_shuffle_forward(dout, r)[0])
