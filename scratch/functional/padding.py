"""Padding of the last two axes by mode (zeros, reflect, replicate, circular): forward/backward.

The twin of ``torch.nn.functional.pad`` for 2-D inputs. A mode is a choice of
source element for every padded position, so the forward is a gather along
each axis and the backward adds each padded position's gradient back onto
its source (the gather's adjoint).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

MODES = ("constant", "reflect", "replicate", "circular")


def _source(size: int, before: int, after: int, mode: str) -> np.ndarray:
    """Index of the input element each padded position copies (-1: a constant)."""
    pos = np.arange(-before, size + after)
    if mode == "constant":
        return np.where((pos >= 0) & (pos < size), pos, -1)
    if mode == "replicate":
        return np.clip(pos, 0, size - 1)
    if mode == "circular":
        return pos % size
    period = 2 * (size - 1)                                    # reflect: mirror at both ends
    folded = np.abs(pos) % period if period else np.zeros_like(pos)
    return np.where(folded < size, folded, period - folded)


class PadCache(NamedTuple):
    rows: np.ndarray         # (top + H + bottom,): source row of each output row (-1: constant)
    cols: np.ndarray         # (left + W + right,): the same for columns
    offset: tuple            # (top, left): where the input sits in the output
    size: tuple              # (H, W) of the input


def pad_forward(x, pad, mode="constant", value=0.0):
    """Pad ``x`` (..., H, W) by ``pad = (left, right, top, bottom)`` (torch's order).

    Output (..., top + H + bottom, left + W + right). ``reflect`` mirrors
    without repeating the edge (needs each pad < the size), ``replicate``
    repeats the edge, ``circular`` wraps around (needs each pad <= the size).
    The cache is a :class:`PadCache` (the per-axis source indices and the input size).
    """
    left, right, top, bottom = pad
    h, w = x.shape[-2:]
    rows, cols = _source(h, top, bottom, mode), _source(w, left, right, mode)
    if mode == "constant":
        out = np.full(x.shape[:-2] + (len(rows), len(cols)), value, dtype=x.dtype)
        out[..., top:top + h, left:left + w] = x
    else:
        out = np.take(np.take(x, rows, axis=-2), cols, axis=-1)
    return out, PadCache(rows, cols, (top, left), (h, w))


def _fold_axis(grad, source, start, size, axis):
    """Adjoint of the gather along ``axis``: the interior, plus every padded position's
    gradient added onto the element it copied."""
    grad = np.moveaxis(grad, axis, -1)
    out = grad[..., start:start + size].copy()
    for j in (*range(start), *range(start + size, len(source))):
        if source[j] >= 0:
            out[..., source[j]] += grad[..., j]
    return np.moveaxis(out, -1, axis)


def pad_backward(dout, cache):
    """Returns ``dx`` (..., H, W)."""
    rows, cols, (top, left), (h, w) = cache
    dx = _fold_axis(dout, cols, left, w, -1)
    return np.ascontiguousarray(_fold_axis(dx, rows, top, h, -2))


# --------------------------------------------------------------------------- any number of axes
class PadNdCache(NamedTuple):
    sources: tuple          # per padded axis (last axis first): the source index of each
    sizes: tuple            # output position along it (-1: the constant), and its input size


def _source_cropping(size, before, after, mode):
    """:func:`_source` where a negative ``before``/``after`` crops; torch's circular mode
    crops first and then wraps around what is left."""
    if mode != "circular" or (before >= 0 and after >= 0):
        return _source(size, before, after, mode)
    kept = np.arange(max(-before, 0), size - max(-after, 0))
    return kept[_source(len(kept), max(before, 0), max(after, 0), mode)]


def _runs(src):
    """The positions with a source as maximal runs copying consecutive elements:
    ``(first position, its source, length)`` in position order (reflect by 2 on 28
    elements: the two mirrored positions, the 28 copied as they are, two more)."""
    valid = np.flatnonzero(src >= 0)
    breaks = np.flatnonzero((np.diff(valid) != 1) | (np.diff(src[valid]) != 1)) + 1
    return [(run[0], src[run[0]], len(run)) for run in np.split(valid, breaks) if len(run)]


def pad_nd_forward(x, pad, mode="constant", value=0.0):
    """Pad the last ``len(pad) // 2`` axes of ``x`` by torch's flat ``pad``, last axis
    first: ``(left, right)``, ``(left, right, top, bottom)``, ... as ``F.pad``.

    A negative entry crops. Each axis is a gather by :func:`_source` (the same
    choice of source element per mode as :func:`pad_forward`, which conv's
    ``padding_mode`` uses), done as one slice copy per run of positions that copy
    consecutive elements (:func:`_runs`); with 'constant' the positions without a
    source take ``value``. Output: each padded axis ``before + size + after`` long.
    """
    sources, sizes, out = [], [], x
    for i in range(len(pad) // 2):
        axis = x.ndim - 1 - i
        src = _source_cropping(x.shape[axis], pad[2 * i], pad[2 * i + 1], mode)
        shape = out.shape[:axis] + (len(src),) + out.shape[axis + 1:]
        filled = (np.full(shape, value, x.dtype) if mode == "constant"
                  else np.empty(shape, x.dtype))                 # every position has a source
        lead = (slice(None),) * axis
        for j, s, n in _runs(src):                                 # a slice copy per run
            filled[lead + (slice(j, j + n),)] = out[lead + (slice(s, s + n),)]
        out = filled
        sources.append(src)
        sizes.append(x.shape[axis])
    return np.asarray(out, x.dtype), PadNdCache(tuple(sources), tuple(sizes))


def pad_nd_backward(dout, cache):
    """Adjoint of each axis's gather: each output position's gradient added onto the
    input element it copied, positions that copied the same element adding up in
    position order. A run of positions that copied consecutive elements is one
    slice add, so an axis takes a handful of adds, not one per position."""
    grad = dout
    for i, (src, size) in enumerate(zip(cache.sources, cache.sizes)):
        axis = dout.ndim - 1 - i
        acc = np.zeros(grad.shape[:axis] + (size,) + grad.shape[axis + 1:], dout.dtype)
        lead = (slice(None),) * axis
        for j, s, n in _runs(src):
            acc[lead + (slice(s, s + n),)] += grad[lead + (slice(j, j + n),)]
        grad = acc
    return grad
