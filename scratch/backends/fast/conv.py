"""Stride-1 convolution: im2col on flattened planes, the batch split over scratch's threads.

Entered from :func:`scratch.functional.conv2d_forward` (its ``FAST PATH`` line)
for stride 1 without ``'same'``'s extra row or column; the plain im2col pair
there computes the same products, grouped differently (see
:func:`conv2d_forward`), and is the one to read first.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scratch import parallel
from scratch.backends import fast


class FlatPlanes(NamedTuple):
    """Where things sit when each (H, W) plane is flattened row by row for stride-1 windows
    (see :func:`flat_planes`)."""
    width: int           # row length: W plus the zeros after each row
    start: int           # flat index of input element (0, 0)
    length: int          # flat length of a zero-padded plane
    span: int            # H_out * width: output positions, (width - W_out) per row dropped
    offsets: list        # per tap (i, j), row-major: from an output position to what it reads


def flat_planes(size, kernel, padding, dilation) -> FlatPlanes:
    """Geometry of stride-1 windows on flattened planes (im2col as contiguous slices).

    Each input row is followed by ``gap`` zeros that serve both as its right
    padding and as the next row's left padding, ``gap = max(pw, W_out - W)``,
    and zero rows stand for the top and bottom padding. The window of output
    (oh, ow) then reads tap (i, j) at ``oh*width + ow + offsets[i*kw + j]``: for
    all outputs at once, one contiguous slice of length ``span`` per tap. The
    ``width - W_out`` positions past each output row wrap onto the next row; their
    outputs are computed and dropped.
    """
    (h, w), (kh, kw), (ph, pw), (dh, dw) = size, kernel, padding, dilation
    ho, wo = h + 2 * ph - dh * (kh - 1), w + 2 * pw - dw * (kw - 1)
    gap = max(pw, wo - w)
    width = w + gap
    start = ph * width + gap
    offsets = [gap - pw + i * dh * width + j * dw for i in range(kh) for j in range(kw)]
    span = ho * width
    length = max(span + offsets[-1], start + h * width)
    return FlatPlanes(width, start, length, span, offsets)


class Stride1Cache(NamedTuple):
    chunks: list        # per batch chunk: (slice, cols (G, C/G*kh*kw [+ 1], n*span))
    w: np.ndarray
    has_bias: bool      # cols end with a row of ones (the bias's input)
    size: tuple         # (H, W) of the input
    padding: tuple
    dilation: tuple


def conv2d_forward(x, w, b, stride, padding, extra, dilation, groups):
    """``(out, Stride1Cache)`` as :func:`scratch.functional.conv2d_forward` would return
    ``out``; None when the switch is off, the stride is not 1 or ``'same'`` padding
    adds an extra row or column.

    In the flattened zero-padded plane of :func:`flat_planes` each tap's column
    row, for all outputs at once, is one contiguous slice, so im2col is one copy
    per tap. The few positions past each output row are computed and dropped,
    and backward gives them a zero gradient. The bias is one more column of the
    weight matrix, read against a row of ones in ``cols``: the product adds it,
    and in backward the same product gives its gradient (no separate pass over
    the output for either). Same products as the plain path; the sums are
    grouped differently (the bias inside the product, per-chunk weight
    gradients added in chunk order), so results agree to rounding, not bit for bit.
    """
    if not fast.is_enabled() or stride != (1, 1) or extra != (0, 0):
        return None
    p, d = padding, dilation
    n, c, h, wd = x.shape
    f, c_per_group, kh, kw = w.shape
    fp = flat_planes((h, wd), (kh, kw), p, d)
    ho, wo = h + 2 * p[0] - d[0] * (kh - 1), wd + 2 * p[1] - d[1] * (kw - 1)
    k = c_per_group * kh * kw
    w_m = w.reshape(groups, f // groups, k)
    if b is not None:
        w_m = np.concatenate([w_m, b.astype(w.dtype, copy=False).reshape(groups, f // groups, 1)],
                             axis=2)
    out = np.empty((n, f, ho, wo), x.dtype)

    def chunk(sl):
        nb = sl.stop - sl.start
        xp = np.zeros((nb, c, fp.length), x.dtype)
        _rows(xp, fp, h)[..., :wd] = x[sl]
        planes = xp.transpose(1, 0, 2).reshape(groups, c_per_group, nb, fp.length)
        cols = np.empty((groups, w_m.shape[2], nb * fp.span), x.dtype)
        taps = cols[:, :k].reshape(groups, c_per_group, kh * kw, nb, fp.span)
        for t, off in enumerate(fp.offsets):
            taps[:, :, t] = planes[..., off:off + fp.span]
        if b is not None:
            cols[:, k] = 1
        full = (w_m @ cols).reshape(f, nb, ho, fp.width)
        out[sl] = full[..., :wo].transpose(1, 0, 2, 3)
        return sl, cols

    chunks = parallel.run(chunk, n)
    return out, Stride1Cache(chunks, w, b is not None, (h, wd), p, d)


def _rows(planes, fp, h):
    """The (..., H, width) view of the input rows inside flattened planes (..., length)."""
    return planes[..., fp.start:fp.start + h * fp.width].reshape(
        *planes.shape[:-1], h, fp.width)


def conv2d_backward(dout, cache, input_grad):
    """Per chunk: dw (and db, from the ones row) from the zero-extended ``dout``; dx by
    adding each tap's column row back onto the flattened planes (col2im as one add per
    tap)."""
    chunks, w, has_bias, (h, wd), p, d = cache
    n, f, ho, wo = dout.shape
    c_per_group, kh, kw = w.shape[1:]
    groups = chunks[0][1].shape[0]
    c, kk, k = c_per_group * groups, kh * kw, c_per_group * kh * kw
    fp = flat_planes((h, wd), (kh, kw), p, d)
    w_m = w.reshape(groups, f // groups, k)
    dx = np.empty((n, c, h, wd), dout.dtype) if input_grad else None
    finite_w = bool(np.isfinite(w).all())

    def chunk(item):
        sl, cols = item
        nb = sl.stop - sl.start
        dfull = np.empty((f, nb, ho, fp.width), dout.dtype)
        dfull[..., wo:] = 0                                  # zero past each output row
        dfull[..., :wo] = dout[sl].transpose(1, 0, 2, 3)
        dfull = dfull.reshape(groups, f // groups, nb * fp.span)
        with np.errstate(invalid="ignore"):                  # warned below, if real
            dwb = dfull @ cols.transpose(0, 2, 1)            # (G, F/G, C/G*kh*kw [+ 1])
        if not np.isfinite(dwb).all():                       # inf*0 from a wrapped position?
            dwb = dfull @ _without_wrapped(cols, wo, fp.width).transpose(0, 2, 1)
        if input_grad:
            dcols = (w_m.transpose(0, 2, 1) @ dfull).reshape(c, kk, nb, fp.span)
            if not finite_w:                                 # inf * 0 past each output row
                dcols.reshape(c, kk, nb, ho, fp.width)[..., wo:] = 0
            dxp = np.zeros((nb, c, fp.length), dout.dtype)
            planes = dxp.transpose(1, 0, 2)                  # (C, nb, length)
            for t, off in enumerate(fp.offsets):
                planes[:, :, off:off + fp.span] += dcols[:, t]
            dx[sl] = _rows(dxp, fp, h)[..., :wd]
        return dwb

    parts = parallel.map_items(chunk, chunks)
    dwb = parts[0]
    for part in parts[1:]:
        dwb = dwb + part
    db = np.ascontiguousarray(dwb[..., k]).reshape(f) if has_bias else None
    return dx, np.ascontiguousarray(dwb[..., :k]).reshape(w.shape), db


def _without_wrapped(cols, wo, width):
    """A copy of ``cols`` with the positions past each output row set to 0, so that a
    non-finite input there cannot turn a zero gradient into NaN (as inf * 0)."""
    cols = cols.copy()
    groups, rows, positions = cols.shape
    cols.reshape(groups, rows, positions // width, width)[..., wo:] = 0
    return cols
