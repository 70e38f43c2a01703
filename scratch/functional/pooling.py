"""Max, average and adaptive pooling (2-D and 1-D) and max unpooling: forward/backward
pairs.

Each pair reads windows through :func:`~scratch.windows.taps` (one strided view
of the padded input per kernel offset) and sends gradients back through
:func:`~scratch.windows.fold`. A faster 2x2 max pool, and adaptive max
pooling whose windows tile the input, live in
:mod:`scratch.backends.fast.pooling`, entered through the lines marked
``FAST PATH``; ``scratch.backends.fast.enabled = False`` leaves only the code below.

The 1-D pools are the 2-D ones on a height of 1: x (N, C, L) or (C, L) becomes
(..., 1, L), with a kernel of height 1. Max unpooling scatters each value to the flat
position its max pool recorded.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scratch.backends.fast import pooling as fast_pooling
from scratch.windows import (
    fold,
    pad2d,
    pair,
    right_overhang,
    taps,
    taps_inside,
    unpad2d,
    window_out_size,
)


def _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode):
    k = pair(kernel_size, "kernel_size")
    s = pair(stride if stride is not None else kernel_size, "stride")
    p, d = pair(padding, "padding"), pair(dilation, "dilation")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"padding {p} must be at most half the kernel {k}")
    h, w = x.shape[-2:]
    out = (window_out_size(h, k[0], s[0], p[0], d[0], ceil_mode),
           window_out_size(w, k[1], s[1], p[1], d[1], ceil_mode))
    extra = (right_overhang(h, out[0], k[0], s[0], p[0], d[0]),
             right_overhang(w, out[1], k[1], s[1], p[1], d[1]))
    inside = [taps_inside(size, out[a], k[a], s[a], p[a], d[a]) for a, size in enumerate((h, w))]
    if not all(ins.any(axis=1).all() for ins in inside):
        raise ValueError(
            f"a pooling window (kernel {k}, stride {s}, padding {p}, dilation {d}) "
            f"lies entirely in the padding of an input of size {(h, w)}; torch would "
            f"output -inf there. Use less padding or dilation, or a larger input")
    return k, s, p, d, out, extra, inside


class MaxPool2dCache(NamedTuple):
    """What :func:`max_pool2d_backward` needs from the forward."""
    first_max: list      # per kernel offset (i, j), row-major: (..., H_out, W_out) booleans
    kernel: tuple        # (kh, kw)
    padded_shape: tuple  # the padded input's shape
    size: tuple          # (H, W): the input's height and width
    stride: tuple        # (sh, sw)
    padding: tuple       # (ph, pw)
    dilation: tuple      # (dh, dw)


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                       return_indices=False):
    """Max over each window; padding counts as -inf.

    x: (N, C, H, W) or (C, H, W). ``stride`` defaults to ``kernel_size``.
    ``H_out = floor_or_ceil((H + 2*ph - dh*(kh-1) - 1) / sh) + 1`` (same for W;
    ``ceil_mode`` rounds up, dropping a last window that would start in the right
    padding). Returns out (..., H_out, W_out) and a :class:`MaxPool2dCache`
    whose ``first_max`` holds one boolean mask (..., H_out, W_out) per kernel
    offset, true where that offset holds the window's first maximum in
    row-major order: the one element torch sends the window's gradient to.
    With ``return_indices`` (torch's functional order: after ``ceil_mode``) the
    output is ``(out, indices)``, see :func:`max_pool2d_indices`.
    """
    k, s, p, d, out_hw, extra, inside = _pool_geometry(x, kernel_size, stride, padding,
                                                       dilation, ceil_mode)
    if (fast := fast_pooling.max_pool2d_forward(x, k, s, p, d, extra, out_hw,
                                                return_indices)) is not None:
        return fast                                              # FAST PATH (2x2, stride 2)
    xp = pad2d(x, p, extra, value=-np.inf)                       # (..., Hp, Wp)
    views = [(i, j, xp[index]) for i, j, index in taps(k, s, d, out_hw)]  # row-major order
    out = views[0][2].copy()
    for _, _, view in views[1:]:
        np.maximum(out, view, out=out)
    padded = any(p) or any(extra)
    taken = np.zeros(out.shape, bool)
    first_max = []
    for i, j, view in views:
        hit = view == out
        if padded:  # a real -inf ties with the padding: only real elements can be chosen
            hit &= np.outer(inside[0][:, i], inside[1][:, j])
        np.greater(hit, taken, out=hit)                            # hit and not yet taken
        taken |= hit
        first_max.append(hit)
    cache = MaxPool2dCache(first_max, k, xp.shape, x.shape[-2:], s, p, d)
    return ((out, max_pool2d_indices(cache)) if return_indices else out), cache


def max_pool2d_backward(dout, cache):
    """Each window's gradient goes to its first maximum; overlapping windows accumulate.

    dout: (..., H_out, W_out); returns dx (..., H, W)."""
    if isinstance(cache, fast_pooling.Pool2x2Cache):
        return fast_pooling.max_pool2d_backward(dout, cache)     # FAST PATH (its cache)
    first_max, k, padded_shape, size, s, p, d = cache
    dxp = fold(lambda i, j: dout * first_max[i * k[1] + j], padded_shape, k, s, d,
               dout.shape[-2:], dout.dtype)
    return np.ascontiguousarray(unpad2d(dxp, p, size))


def max_pool2d_indices(cache):
    """torch's ``return_indices``: for each window, the flat index ``row * W + col`` of its
    first maximum within its (H, W) input plane, int64 (..., H_out, W_out)."""
    first_max, k, _, (h, w), s, p, d = cache
    ho, wo = first_max[0].shape[-2:]
    indices = np.zeros(first_max[0].shape, np.int64)
    for (i, j, _), mask in zip(taps(k, s, d, (ho, wo)), first_max):
        rows = np.arange(ho) * s[0] - p[0] + i * d[0]
        cols = np.arange(wo) * s[1] - p[1] + j * d[1]
        np.copyto(indices, rows[:, None] * w + cols, where=mask)
    return indices


def _avg_divisor(size, out, kernel, stride, padding, count_include_pad):
    """Per-output-position window length along one axis, torch's rule."""
    start = np.arange(out) * stride - padding
    end = np.minimum(start + kernel, size + padding)
    full = end - start
    inside = np.minimum(end, size) - np.maximum(start, 0)
    return full if count_include_pad else inside


class AvgPool2dCache(NamedTuple):
    """What :func:`avg_pool2d_backward` needs from the forward."""
    divisor: np.ndarray  # (H_out, W_out): each window's divisor
    kernel: tuple        # (kh, kw)
    padded_shape: tuple  # the padded input's shape
    size: tuple          # (H, W): the input's height and width
    stride: tuple        # (sh, sw)
    padding: tuple       # (ph, pw)
    dilation: tuple      # (1, 1): average pooling has none


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                       count_include_pad=True, divisor_override=None):
    """Mean over each window.

    x: (N, C, H, W) or (C, H, W); output (..., H_out, W_out), sizes as for
    :func:`max_pool2d_forward` (no dilation). The divisor of a window is its size
    clipped to the padded input (with ``count_include_pad``) or to the real input
    (without); windows that ``ceil_mode`` lets run past the padding never count
    those positions.
    ``divisor_override``, when given, divides every window's sum instead.
    The cache is an :class:`AvgPool2dCache` (the divisors and the geometry).
    """
    k, s, p, d, out_hw, extra, _ = _pool_geometry(x, kernel_size, stride, padding, 1,
                                                  ceil_mode)
    h, w = x.shape[-2:]
    div = np.outer(_avg_divisor(h, out_hw[0], k[0], s[0], p[0], count_include_pad),
                   _avg_divisor(w, out_hw[1], k[1], s[1], p[1], count_include_pad))
    if divisor_override is not None:
        div = np.full(out_hw, divisor_override)
    div = div.astype(x.dtype)                                     # (Ho, Wo)
    xp = pad2d(x, p, extra)
    total = np.zeros(x.shape[:-2] + out_hw, x.dtype)
    for _, _, index in taps(k, s, d, out_hw):
        total += xp[index]
    return total / div, AvgPool2dCache(div, k, xp.shape, (h, w), s, p, d)


def avg_pool2d_backward(dout, cache):
    """Each window's gradient shared equally (``dout / divisor``) among its elements;
    overlapping windows accumulate. Returns dx (..., H, W)."""
    div, k, padded_shape, size, s, p, d = cache
    share = dout / div
    dxp = fold(lambda i, j: share, padded_shape, k, s, d, div.shape, dout.dtype)
    return np.ascontiguousarray(unpad2d(dxp, p, size))


def adaptive_bounds(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """torch's adaptive windows along one axis: ``start = floor(i*size/out)``,
    ``end = ceil((i+1)*size/out)`` for i in [0, out)."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _adaptive_matrix(size, out):
    """(out, size) 0/1 matrix selecting each window, and the window lengths (out,)."""
    start, end = adaptive_bounds(size, out)
    pos = np.arange(size)
    return (pos >= start[:, None]) & (pos < end[:, None]), end - start


class AdaptiveAvgPool2dCache(NamedTuple):
    """What :func:`adaptive_avg_pool2d_backward` needs from the forward."""
    select_h: np.ndarray  # (out_h, H): 0/1, row a selects window a's rows
    select_w: np.ndarray  # (out_w, W): 0/1, row b selects window b's columns
    area: np.ndarray      # (out_h, out_w): each window's number of elements


def adaptive_avg_pool2d_forward(x, output_size):
    """Mean over torch's adaptive windows (:func:`adaptive_bounds`) of the last two axes.

    x: (N, C, H, W) or (C, H, W); output_size: an int or a pair whose entries
    may be None (keep that axis's size). Output (..., out_h, out_w). The window
    sums are two matrix products with 0/1 selection matrices, divided by the
    window areas; the cache holds the matrices and the areas.
    """
    h, w = x.shape[-2:]
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    sel_h, len_h = _adaptive_matrix(h, h if oh is None else oh)
    sel_w, len_w = _adaptive_matrix(w, w if ow is None else ow)
    sel_h, sel_w = sel_h.astype(x.dtype), sel_w.astype(x.dtype)
    area = np.outer(len_h, len_w).astype(x.dtype)                 # (out_h, out_w)
    out = (sel_h @ x @ sel_w.T) / area                            # (..., out_h, out_w)
    return out, AdaptiveAvgPool2dCache(sel_h, sel_w, area)


def adaptive_avg_pool2d_backward(dout, cache):
    """Each window's gradient shared equally among its elements; overlaps accumulate."""
    sel_h, sel_w, area = cache
    return np.ascontiguousarray(sel_h.T @ (dout / area) @ sel_w)


class AdaptiveMaxPool2dCache(NamedTuple):
    """What :func:`adaptive_max_pool2d_backward` needs from the forward."""
    indices: np.ndarray   # (..., out_h, out_w): flat row * W + col of each first maximum
    shape: tuple          # the input's shape


def adaptive_max_pool2d_forward(x, output_size, return_indices=False):
    """Max over torch's adaptive windows of the last two axes; ties go to the first
    maximum in row-major order, as torch's.

    With ``return_indices`` the output is ``(out, indices)``: flat ``row * W + col``
    within each (H, W) plane, int64. The cache holds those indices and the input shape.
    """
    h, w = x.shape[-2:]
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    (h0, h1), (w0, w1) = adaptive_bounds(h, h if oh is None else oh), adaptive_bounds(
        w, w if ow is None else ow)
    if (fast := fast_pooling.adaptive_max_pool2d_forward(x, (len(h0), len(w0)),
                                                         return_indices)) is not None:
        return fast                                               # FAST PATH (tiling windows)
    lead = x.shape[:-2]
    out = np.empty(lead + (len(h0), len(w0)), x.dtype)
    indices = np.empty(out.shape, np.int64)
    for a in range(len(h0)):
        for b in range(len(w0)):
            win = x[..., h0[a]:h1[a], w0[b]:w1[b]].reshape(lead + (-1,))
            arg = win.argmax(axis=-1)                             # first maximum
            ww = w1[b] - w0[b]
            out[..., a, b] = np.take_along_axis(win, arg[..., None], -1)[..., 0]
            indices[..., a, b] = (h0[a] + arg // ww) * w + w0[b] + arg % ww
    cache = AdaptiveMaxPool2dCache(indices, x.shape)
    return ((out, indices) if return_indices else out), cache


def adaptive_max_pool2d_backward(dout, cache):
    """Each window's gradient goes to its first maximum; overlapping windows accumulate."""
    if isinstance(cache, fast_pooling.AdaptiveTileCache):
        return fast_pooling.adaptive_max_pool2d_backward(dout, cache)  # FAST PATH (its cache)
    indices, shape = cache
    h, w = shape[-2:]
    flat = indices.reshape(-1, indices.shape[-2] * indices.shape[-1])
    dx = np.zeros((flat.shape[0], h * w), dout.dtype)
    rows = np.arange(flat.shape[0])[:, None]
    np.add.at(dx, (rows, flat), dout.reshape(flat.shape))
    return dx.reshape(shape)


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
