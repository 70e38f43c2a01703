"""2x2 max pooling with stride 2 over contiguous runs, the batch split over scratch's threads;
adaptive max pooling whose windows tile the input, without a loop over the windows.

Entered from :func:`scratch.functional.max_pool2d_forward` and
:func:`scratch.functional.adaptive_max_pool2d_forward` (their ``FAST PATH``
lines). Same comparisons as the plain paths, so the same output and gradient, bit
for bit (the 2x2 pool: but for the sign of a zero maximum); a 2x2 window holding
NaN hands the call back to the plain path.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scratch import parallel
from scratch.backends import fast


class Pool2x2Cache(NamedTuple):
    first_in_row: np.ndarray   # (N, C, 2*Ho, Wo): the left element is its pair's first max
    top_wins: np.ndarray       # (N, C, Ho, Wo): the top pair holds the window's first max
    size: tuple                # (H, W) of the input


def max_pool2d_forward(x, kernel, stride, padding, dilation, extra, out_hw, return_indices):
    """``(out, Pool2x2Cache)``, or None when the switch is off or the pool is not 2x2
    with stride 2, no padding or dilation, batched (N, C, H, W) input and no indices.

    NumPy's element-wise loops are several times faster on contiguous runs
    than on strided ones, so each halving runs over the whole flattened chunk:
    ``pair[k] = max(x[k], x[k+1])`` and then ``quad[k] = max(pair[k], pair[k+W])``
    for every k (only the values at window corners are used). Torch's first
    maximum in row-major order follows from two comparisons made the same way:
    the window's top pair holds it when ``max(top) >= max(bottom)`` (ties go to
    the earlier row), and within a pair the left element when ``left >= right``.
    None also when the output holds NaN (a comparison with NaN is false, so the
    plain path's masks, which drop such a window's gradient, are needed).
    """
    if (not fast.is_enabled() or not kernel == stride == (2, 2) or padding != (0, 0)
            or dilation != (1, 1) or any(extra) or x.ndim != 4 or return_indices):
        return None
    n, c, h, w = x.shape
    ho, wo = out_hw
    out = np.empty((n, c, ho, wo), x.dtype)
    first_in_row = np.empty((n, c, 2 * ho, wo), bool)
    top_wins = np.empty((n, c, ho, wo), bool)

    def chunk(sl):
        flat = np.ascontiguousarray(x[sl]).reshape(-1)
        size = flat.size
        pair, left_ge = np.empty(size, x.dtype), np.empty(size, bool)
        np.maximum(flat[:-1], flat[1:], out=pair[:-1])
        np.greater_equal(flat[:-1], flat[1:], out=left_ge[:-1])
        quad, top_ge = np.empty(size, x.dtype), np.empty(size, bool)
        np.maximum(pair[:-w], pair[w:], out=quad[:-w])
        np.greater_equal(pair[:-w], pair[w:], out=top_ge[:-w])
        corners = (slice(None), slice(None), slice(0, 2 * ho, 2), slice(0, 2 * wo, 2))
        shape = (sl.stop - sl.start, c, h, w)
        out[sl] = quad.reshape(shape)[corners]
        top_wins[sl] = top_ge.reshape(shape)[corners]
        first_in_row[sl] = left_ge.reshape(shape)[:, :, :2 * ho, 0:2 * wo:2]
        return np.isnan(out[sl]).any()          # NaN anywhere (a sum would warn on inf - inf)

    if any(parallel.run(chunk, n, x.size)):
        return None
    return out, Pool2x2Cache(first_in_row, top_wins, x.shape[-2:])


def max_pool2d_backward(dout, cache):
    """Route each window's gradient to the top or bottom pair, then to the left or
    right element of that pair."""
    first_in_row, top_wins, (h, w) = cache
    n, c, ho, wo = dout.shape
    cropped = (h, w) != (2 * ho, 2 * wo)                # odd sizes: the last row/column get 0
    dx = (np.zeros if cropped else np.empty)((n, c, h, w), dout.dtype)

    def chunk(sl):
        rows = np.empty((sl.stop - sl.start, c, 2 * ho, wo), dout.dtype)
        np.multiply(dout[sl], top_wins[sl], out=rows[:, :, 0::2])
        np.multiply(dout[sl], ~top_wins[sl], out=rows[:, :, 1::2])
        dxb = dx[sl, :, :2 * ho, :2 * wo]
        np.multiply(rows, first_in_row[sl], out=dxb[..., 0::2])
        np.multiply(rows, ~first_in_row[sl], out=dxb[..., 1::2])

    parallel.run(chunk, n, dx.size)
    return dx



class AdaptiveTileCache(NamedTuple):
    first: np.ndarray          # (..., out_h, out_w): which tap (row-major) holds the first max
    tile: tuple                # (kh, kw): the window, H/out_h by W/out_w
    shape: tuple               # the input's shape


MAX_TAPS = 36
"""The largest tile the adaptive max pool fast path takes: its loop runs over the taps,
and from about 64 (on 32x32x48x48 float32, 2026-12-08) the plain path is faster."""


def _tap_major(x, out_hw, tile):
    """The (..., H, W) planes as ``(kh*kw, ..., out_h, out_w)``: tap t of every tile."""
    (oh, ow), (kh, kw), lead = out_hw, tile, x.shape[:-2]
    tiles = np.moveaxis(x.reshape(*lead, oh, kh, ow, kw), (-3, -1), (0, 1))
    return np.ascontiguousarray(tiles).reshape(kh * kw, *lead, oh, ow)


def _flat_taps(first):
    """Where tap ``first`` of each tile sits in the flattened tap-major array."""
    return first.reshape(-1) * first.size + np.arange(first.size)


def adaptive_max_pool2d_forward(x, out_hw, return_indices):
    """``(out or (out, indices), AdaptiveTileCache)``, or None when the switch is off or
    the windows do not tile the input.

    When ``out_h`` divides H and ``out_w`` divides W, torch's adaptive windows are the
    ``(H/out_h, W/out_w)`` tiles of the plane (taken for tiles of at most
    :data:`MAX_TAPS` values: global pooling, one tile of the whole plane, stays on the
    plain path). One copy sets each tile's taps one after
    another along a first axis (in the row-major order the plain path reads a window),
    and a loop over the few taps keeps a running maximum of all tiles at once; a tap
    becomes a tile's first maximum where it is greater than the maximum so far, or NaN
    where that is not (the plain path's ``argmax`` takes the first NaN). The loop is
    arithmetic, not masked writes, which NumPy runs several times slower on a random
    mask. The output is then read at those taps: out, indices and gradient are the
    plain path's, signed zeros and NaN included.
    """
    (h, w), (oh, ow) = x.shape[-2:], out_hw
    if not fast.is_enabled() or 0 in (oh, ow) or h % oh or w % ow:
        return None
    if (h // oh) * (w // ow) > MAX_TAPS:              # a Python loop over the taps
        return None
    tile = (h // oh, w // ow)
    taps = _tap_major(x, out_hw, tile)                                 # (kh*kw, ..., oh, ow)
    best, first = taps[0].copy(), np.zeros(taps.shape[1:], np.int64)
    with np.errstate(invalid="ignore"):
        for t in range(1, len(taps)):
            wins = (taps[t] > best) | (np.isnan(taps[t]) & ~np.isnan(best))
            first += wins * (t - first)                                # t where it wins
            np.maximum(best, taps[t], out=best)                        # NaN stays NaN
    out = taps.reshape(-1)[_flat_taps(first)].reshape(first.shape)
    cache = AdaptiveTileCache(first, tile, x.shape)
    if not return_indices:
        return out, cache
    rows = np.arange(oh)[:, None] * tile[0] + first // tile[1]         # (..., oh, ow)
    cols = np.arange(ow) * tile[1] + first % tile[1]
    return (out, rows * w + cols), cache


def adaptive_max_pool2d_backward(dout, cache):
    """Each tile's gradient added (onto zero, as the plain path) at its first maximum's
    tap, zeros elsewhere."""
    first, (kh, kw), shape = cache
    taps = np.zeros((kh * kw, *first.shape), dout.dtype)
    taps.reshape(-1)[_flat_taps(first)] += dout.reshape(-1)           # no tap repeats
    lead, (oh, ow) = first.shape[:-2], first.shape[-2:]
    tiles = np.moveaxis(taps.reshape(kh, kw, *lead, oh, ow), (0, 1), (-3, -1))
    return np.ascontiguousarray(tiles).reshape(shape)
