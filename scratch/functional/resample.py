"""Resampling: ``interpolate`` with modes 'nearest', 'linear' and 'bilinear';
forward/backward pair.

Each output position along an axis reads one input position (nearest) or mixes
two neighbours with weights ``1 - l`` and ``l`` (linear). Both are a fixed
(out, in) matrix per axis, so the forward applies one matrix per spatial axis
and the backward applies their transposes: the gradient of a read is a write.
The source coordinate of output ``j`` is torch's:

- nearest: ``floor(j * scale)``, at most ``in - 1``, ``scale = 1 / scale_factor``
  (or ``in / out`` for a given ``size``), in float32 arithmetic as torch's kernel;
- linear, ``align_corners=True``: ``j * (in - 1) / (out - 1)``;
- linear, ``align_corners=False``: ``(j + 0.5) * scale - 0.5``, clamped at 0.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

MODES = {"nearest": (1, 2), "linear": (1,), "bilinear": (2,)}   # mode -> spatial dims


def _scale(in_size, out_size, scale_factor, dtype):
    """torch's ``compute_scales_value``: 1 / scale_factor when one was given (and not
    recomputed), else in / out; in the kernel's arithmetic type."""
    if scale_factor is not None:
        return dtype.type(1.0 / scale_factor)
    return dtype.type(in_size) / dtype.type(out_size)


def nearest_matrix(in_size, out_size, scale_factor, dtype):
    """(out, in) 0/1 matrix: output j copies input ``min(floor(j * scale), in - 1)``."""
    scale = _scale(in_size, out_size, scale_factor, np.dtype(np.float32))
    src = np.minimum(np.floor(np.arange(out_size, dtype=np.float32) * scale).astype(int),
                     in_size - 1)
    m = np.zeros((out_size, in_size), dtype)
    m[np.arange(out_size), src] = 1
    return m


def linear_matrix(in_size, out_size, scale_factor, align_corners, dtype):
    """(out, in) matrix with ``1 - l`` and ``l`` at the two neighbours of each source
    coordinate (one neighbour, weight 1, at the last input position)."""
    j = np.arange(out_size, dtype=dtype)
    if align_corners:
        scale = dtype.type(in_size - 1) / dtype.type(out_size - 1) if out_size > 1 else \
            dtype.type(0)
        src = scale * j
    else:
        src = np.maximum(_scale(in_size, out_size, scale_factor, dtype) * (j + dtype.type(0.5))
                         - dtype.type(0.5), 0)
    i0 = src.astype(int)                                   # floor: src >= 0
    i1 = np.where(i0 < in_size - 1, i0 + 1, i0)
    lam1 = src - i0
    m = np.zeros((out_size, in_size), dtype)
    rows = np.arange(out_size)
    np.add.at(m, (rows, i0), 1 - lam1)
    np.add.at(m, (rows, i1), lam1)
    return m


class InterpolateCache(NamedTuple):
    matrices: tuple         # one (out, in) matrix per spatial axis, first axis first


def output_sizes(x, size, scale_factor, recompute_scale_factor):
    """torch's argument rules: the output size of each spatial axis and the scale
    factors the kernel uses for coordinates (None where the size decides)."""
    dim = x.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if size is not None:
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * dim
        if len(sizes) != dim:
            raise ValueError(f"Input and output must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{list(x.shape[2:])} and output size of {size}.")
        return sizes, [None] * dim
    factors = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else \
        [scale_factor] * dim
    if len(factors) != dim:
        raise ValueError(f"Input and scale_factor must have the same number of spatial "
                         f"dimensions, but got input with spatial dimensions of "
                         f"{list(x.shape[2:])} and scale_factor of shape {scale_factor}.")
    sizes = [math.floor(x.shape[2 + i] * factors[i]) for i in range(dim)]
    return sizes, [None] * dim if recompute_scale_factor else factors


def interpolate_forward(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                        recompute_scale_factor=None):
    """Resize the spatial axes of x (N, C, L) or (N, C, H, W), torch's ``interpolate``.

    'nearest' takes 3-D or 4-D input, 'linear' 3-D, 'bilinear' 4-D. ``size``: an int
    or one int per spatial axis; ``scale_factor``: a number or one per axis (the
    output is ``floor(in * scale_factor)``); exactly one of them.
    """
    if mode not in MODES:
        raise NotImplementedError(f"Input Error: Only 3D and 4D input Tensors are "
                                  f"supported with modes {', '.join(MODES)} (got {mode!r})")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating "
                         "modes: linear | bilinear | bicubic | trilinear")
    if x.ndim - 2 not in MODES[mode]:
        want = {"linear": 3, "bilinear": 4}.get(mode, "3D or 4")
        raise NotImplementedError(f"Got {x.ndim}D input, but {mode} mode needs {want}D input")
    sizes, factors = output_sizes(x, size, scale_factor, recompute_scale_factor)
    if min(sizes) < 1:
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"{list(x.shape[2:])} and output {sizes}")
    matrices = []
    for i, out_size in enumerate(sizes):
        in_size = x.shape[2 + i]
        if mode == "nearest":
            matrices.append(nearest_matrix(in_size, out_size, factors[i], x.dtype))
        else:
            matrices.append(linear_matrix(in_size, out_size, factors[i], bool(align_corners),
                                          x.dtype))
    out = x
    for i, m in enumerate(matrices):                      # one axis at a time
        out = np.moveaxis(np.moveaxis(out, 2 + i, -1) @ m.T, -1, 2 + i)
    return np.ascontiguousarray(out, dtype=x.dtype), InterpolateCache(tuple(matrices))


def interpolate_backward(dout, cache):
    """Each axis's matrix transposed, the last axis first."""
    grad = dout
    for i in reversed(range(len(cache.matrices))):
        grad = np.moveaxis(np.moveaxis(grad, 2 + i, -1) @ cache.matrices[i], -1, 2 + i)
    return np.ascontiguousarray(grad, dtype=dout.dtype)
