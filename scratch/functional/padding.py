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


def pad_nd_forward(x, pad, mode="constant", value=0.0):
    """Pad the last ``len(pad) // 2`` axes of ``x`` by torch's flat ``pad``, last axis
    first: ``(left, right)``, ``(left, right, top, bottom)``, ... as ``F.pad``.

    A negative entry crops. Each axis is a gather by :func:`_source` (the same
    choice of source element per mode as :func:`pad_forward`, which conv's
    ``padding_mode`` uses); with 'constant' the positions without a source take
    ``value``. Output: each padded axis ``before + size + after`` long.
    """
    sources, sizes, out = [], [], x
    for i in range(len(pad) // 2):
        axis = x.ndim - 1 - i
        src = _source_cropping(x.shape[axis], pad[2 * i], pad[2 * i + 1], mode)
        valid = src >= 0
        if mode == "constant":
            shape = list(out.shape)
            shape[axis] = len(src)
            filled = np.full(shape, value, x.dtype)
            index = [slice(None)] * x.ndim
            index[axis] = np.flatnonzero(valid)
            filled[tuple(index)] = np.take(out, src[valid], axis=axis)
            out = filled
        else:
            out = np.take(out, src, axis=axis)
        sources.append(src)
        sizes.append(x.shape[axis])
    return np.asarray(out, x.dtype), PadNdCache(tuple(sources), tuple(sizes))


def pad_nd_backward(dout, cache):
    """Adjoint of each axis's gather, all positions at once (``np.add.at`` adds the
    gradients of the positions that copied the same element)."""
    grad = dout
    for i in reversed(range(len(cache.sources))):
        axis = dout.ndim - 1 - i
        src, size = cache.sources[i], cache.sizes[i]
        valid = src >= 0
        moved = np.moveaxis(grad, axis, 0)[valid]                  # (kept positions, ...)
        acc = np.zeros((size,) + moved.shape[1:], dout.dtype)
        np.add.at(acc, src[valid], moved)
        grad = np.moveaxis(acc, 0, axis)
    return np.ascontiguousarray(grad)
