"""1-D pooling and max unpooling: forward/backward pairs.

The 1-D pools are the 2-D ones (:mod:`scratch.functional.pooling`) on a height
of 1: x (N, C, L) or (C, L) becomes (..., 1, L), with a kernel of height 1.
Max unpooling scatters each value to the flat position its max pool recorded.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scratch.functional.pooling import (
    adaptive_avg_pool2d_backward,
    adaptive_avg_pool2d_forward,
    adaptive_max_pool2d_backward,
    adaptive_max_pool2d_forward,
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)


def _rows(x):
    return x[..., None, :]                          # (..., L) -> (..., 1, L)


def _squeeze(out):
    if isinstance(out, tuple):                      # (out, indices)
        return tuple(a[..., 0, :] for a in out)
    return out[..., 0, :]


def max_pool1d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                       return_indices=False):
    """Max over windows of the last axis; with ``return_indices`` also each window's
    first maximum's position along L."""
    out, cache = max_pool2d_forward(_rows(x), (1, kernel_size),
                                    (1, kernel_size if stride is None else stride),
                                    (0, padding), (1, dilation), ceil_mode, return_indices)
    return _squeeze(out), cache


def max_pool1d_backward(dout, cache):
    return max_pool2d_backward(_rows(dout), cache)[..., 0, :]


def avg_pool1d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                       count_include_pad=True):
    out, cache = avg_pool2d_forward(_rows(x), (1, kernel_size),
                                    (1, kernel_size if stride is None else stride),
                                    (0, padding), ceil_mode, count_include_pad)
    return _squeeze(out), cache


def avg_pool1d_backward(dout, cache):
    return avg_pool2d_backward(_rows(dout), cache)[..., 0, :]


def adaptive_avg_pool1d_forward(x, output_size):
    out, cache = adaptive_avg_pool2d_forward(_rows(x), (1, output_size))
    return _squeeze(out), cache


def adaptive_avg_pool1d_backward(dout, cache):
    return adaptive_avg_pool2d_backward(_rows(dout), cache)[..., 0, :]


def adaptive_max_pool1d_forward(x, output_size, return_indices=False):
    out, cache = adaptive_max_pool2d_forward(_rows(x), (1, output_size), return_indices)
    return _squeeze(out), cache


def adaptive_max_pool1d_backward(dout, cache):
    return adaptive_max_pool2d_backward(_rows(dout), cache)[..., 0, :]


class MaxUnpoolCache(NamedTuple):
    indices: np.ndarray     # (..., H, W) flat positions within each output plane
    shape: tuple            # the input's shape


def max_unpool2d_forward(x, indices, output_hw):
    """Zeros of (..., *output_hw) with each ``x`` value written at its flat index within
    its plane (torch's ``max_unpool2d``; a later write to the same index wins)."""
    lead = x.shape[:-2]
    out = np.zeros(int(np.prod(lead)) * output_hw[0] * output_hw[1], x.dtype)
    out[_flat_positions(indices, output_hw)] = x.reshape(-1)
    return out.reshape(*lead, *output_hw), MaxUnpoolCache(indices, x.shape)


def _flat_positions(indices, output_hw):
    """Each index (within its plane) as a position in the whole flattened output, so that
    one 1-D gather or scatter serves every plane (``take_along_axis`` over the planes
    took several times longer)."""
    planes = int(np.prod(indices.shape[:-2]))
    size = output_hw[0] * output_hw[1]
    offsets = np.arange(planes, dtype=np.int64)[:, None] * size     # (planes, 1)
    return (indices.reshape(planes, -1) + offsets).reshape(-1)


def max_unpool2d_backward(dout, cache):
    """``dx`` reads ``dout`` back at the indices (the scatter's adjoint)."""
    indices, shape = cache
    return dout.reshape(-1)[_flat_positions(indices, dout.shape[-2:])].reshape(shape)
