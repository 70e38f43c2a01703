"""2-D convolution (cross-correlation) by im2col: forward/backward pair."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scratch import parallel
from scratch.windows import (
    conv_pads,
    flat_planes,
    fold,
    pad2d,
    pair,
    unpad2d,
    window_out_size,
    windows,
)


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation as one (batched over groups) matrix product (im2col).

    x: (N, C, H, W); w: (F, C/groups, kh, kw); b: (F,) or None. ``padding`` is
    an int, a pair, ``'valid'`` (none) or ``'same'`` (stride 1: output size = input
    size; an odd total padding puts the extra row/column at the bottom/right,
    as torch does). With ``groups``
    G, input channels and filters are split into G equal groups and filter
    group g sees only channel group g.
    ``H_out = floor((H + 2*ph - dh*(kh-1) - 1) / sh) + 1`` (same for W).
    Returns out (N, F, H_out, W_out) and a cache holding the column matrix
    ``cols`` (G, C/G*kh*kw, N*H_out*W_out), ``w`` and the geometry. Columns are
    channel-major so that both the gather here and the scatter in backward
    run over contiguous rows.
    """
    n, c, h, wd = x.shape
    f, c_per_group, kh, kw = w.shape
    if c != c_per_group * groups or f % groups:
        raise ValueError(f"conv2d with groups={groups} needs C = groups * w.shape[1] and F "
                         f"divisible by groups; got x channels {c}, w shape {w.shape}")
    s, d = pair(stride, "stride"), pair(dilation, "dilation")
    top, bottom, left, right = conv_pads(padding, (kh, kw), d)
    p, extra = (top, left), (bottom - top, right - left)         # 'same' may add one after
    out_hw = (window_out_size(h + extra[0], kh, s[0], p[0], d[0]),
              window_out_size(wd + extra[1], kw, s[1], p[1], d[1]))
    if s == (1, 1) and extra == (0, 0):
        return _conv2d_forward_stride1(x, w, b, p, d, groups)
    xp = pad2d(x, p, extra)
    win = windows(xp, (kh, kw), s, d, out_hw)                    # (N, C, Ho, Wo, kh, kw)
    cols = win.transpose(1, 4, 5, 0, 2, 3).reshape(groups, c_per_group * kh * kw, -1)
    out = w.reshape(groups, f // groups, -1) @ cols              # (G, F/G, N*Ho*Wo)
    out = out.reshape(f, -1)
    if b is not None:
        out += b[:, None]
    out = np.ascontiguousarray(out.reshape(f, n, *out_hw).transpose(1, 0, 2, 3))
    cache = (cols, w, b is not None, xp.shape[-2:], (h, wd), s, p, d, out_hw)
    return out, cache


def conv2d_backward(dout, cache, input_grad=True):
    """Returns ``(dx, dw, db)``: dw = dout @ cols^T; dx = col2im(w^T @ dout), per group."""
    if isinstance(cache, _Stride1Cache):
        return _conv2d_backward_stride1(dout, cache, input_grad)
    cols, w, has_bias, padded_hw, size, s, p, d, out_hw = cache
    groups = cols.shape[0]
    n, f = dout.shape[:2]
    c, kh, kw = w.shape[1] * groups, *w.shape[2:]
    dout_m = dout.transpose(1, 0, 2, 3).reshape(groups, f // groups, -1)  # (G, F/G, N*Ho*Wo)
    dw = (dout_m @ cols.transpose(0, 2, 1)).reshape(w.shape)
    db = dout_m.sum(axis=2).reshape(f) if has_bias else None
    if not input_grad:
        return None, dw, db
    w_m = w.reshape(groups, f // groups, -1)
    dcols = (w_m.transpose(0, 2, 1) @ dout_m).reshape(c, kh, kw, n, *out_hw)
    dxp = fold(lambda i, j: dcols[:, i, j], (c, n, *padded_hw), (kh, kw), s, d, out_hw,
               dout.dtype)                                       # (C, N, Hp, Wp)
    dx = unpad2d(dxp, p, size).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dx), dw, db


# --------------------------------------------------------------------------- stride 1
class _Stride1Cache(NamedTuple):
    chunks: list        # per batch chunk: (slice, cols (G, C/G*kh*kw [+ 1], n*span))
    w: np.ndarray
    has_bias: bool      # cols end with a row of ones (the bias's input)
    size: tuple         # (H, W) of the input
    padding: tuple
    dilation: tuple


def _conv2d_forward_stride1(x, w, b, p, d, groups):
    """Stride-1 convolution with im2col on flattened planes, batch split over threads.

    In the flattened zero-padded plane of :func:`~scratch.windows.flat_planes`
    each tap's column row, for all outputs at once, is one contiguous slice, so
    im2col is one copy per tap. The few positions past each output row are
    computed and dropped, and backward gives them a zero gradient. The bias is
    one more column of the weight matrix, read against a row of ones in ``cols``:
    the product adds it, and in backward the same product gives its gradient
    (no separate pass over the output for either). Same products as the
    general path; the sums are grouped differently.
    """
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
    return out, _Stride1Cache(chunks, w, b is not None, (h, wd), p, d)


def _rows(planes, fp, h):
    """The (..., H, width) view of the input rows inside flattened planes (..., length)."""
    return planes[..., fp.start:fp.start + h * fp.width].reshape(
        *planes.shape[:-1], h, fp.width)


def _conv2d_backward_stride1(dout, cache, input_grad):
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
