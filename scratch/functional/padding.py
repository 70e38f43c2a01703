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
