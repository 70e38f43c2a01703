"""2-D and 1-D convolution (cross-correlation) by im2col, and transposed convolution:
the forward/backward pairs.

im2col copies every window of the padded input into one column of a matrix,
so the convolution is one matrix product with the filters as rows, and its
backward is two products: ``dw = dout @ cols^T`` and ``dcols = w^T @ dout``,
whose columns col2im (:func:`~scratch.windows.fold`) adds back onto the input.
A faster stride-1 path lives in :mod:`scratch.backends.fast.conv`, entered
through the lines marked ``FAST PATH``; ``scratch.backends.fast.enabled =
False`` leaves only the code below.

A transposed convolution is the adjoint of a convolution: each input pixel
scatters a copy of the kernel, scaled by its value, onto the output at
``stride`` spacing. As im2col reads windows and multiplies, the transposed
convolution multiplies first (``cols = w^T @ x``) and then adds the columns
back onto the output plane (col2im, :func:`scratch.windows.fold`). Its backward
is an ordinary convolution of ``dout`` (im2col, :func:`scratch.windows.windows`).
A forward whose col2im adds whole phase planes at once lives in
:mod:`scratch.backends.fast.conv_transpose` (the line marked ``FAST PATH``).

    H_out = (H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1

The 1-D convolutions are the 2-D ones on a height of 1.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scratch.backends.fast import conv as fast_conv
from scratch.backends.fast import conv_transpose as fast_transpose
from scratch.windows import conv_pads, fold, pad2d, pair, unpad2d, window_out_size, windows


class Conv2dCache(NamedTuple):
    """What :func:`conv2d_backward` needs from the forward."""
    cols: np.ndarray     # (G, C/G*kh*kw, N*H_out*W_out): every window as a column
    w: np.ndarray        # (F, C/G, kh, kw): the filters
    has_bias: bool
    padded_hw: tuple     # (Hp, Wp): the padded input's height and width
    size: tuple          # (H, W): the input's height and width
    stride: tuple        # (sh, sw)
    padding: tuple       # (ph, pw) before the input ('same' may add one more after)
    dilation: tuple      # (dh, dw)
    out_hw: tuple        # (H_out, W_out)


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation as one (batched over groups) matrix product (im2col).

    x: (N, C, H, W); w: (F, C/groups, kh, kw); b: (F,) or None. ``padding`` is
    an int, a pair, ``'valid'`` (none) or ``'same'`` (stride 1: output size = input
    size; an odd total padding puts the extra row/column at the bottom/right,
    as torch does). With ``groups`` G, input channels and filters are split into
    G equal groups and filter group g sees only channel group g.

    ``H_out = floor((H + 2*ph - dh*(kh-1) - 1) / sh) + 1`` (same for W).

    Returns out (N, F, H_out, W_out) and a :class:`Conv2dCache` holding the
    column matrix ``cols``, ``w`` and the geometry. Columns are channel-major so
    that both the gather here and the scatter in backward run over contiguous rows.
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
    if (fast := fast_conv.conv2d_forward(x, w, b, s, p, extra, d, groups)) is not None:
        return fast                                              # FAST PATH (stride 1)
    xp = pad2d(x, p, extra)                                      # (N, C, Hp, Wp)
    win = windows(xp, (kh, kw), s, d, out_hw)                    # (N, C, Ho, Wo, kh, kw)
    cols = win.transpose(1, 4, 5, 0, 2, 3).reshape(groups, c_per_group * kh * kw, -1)
    out = w.reshape(groups, f // groups, -1) @ cols              # (G, F/G, N*Ho*Wo)
    out = out.reshape(f, -1)                                     # (F, N*Ho*Wo)
    if b is not None:
        out += b[:, None]
    out = np.ascontiguousarray(out.reshape(f, n, *out_hw).transpose(1, 0, 2, 3))
    cache = Conv2dCache(cols, w, b is not None, xp.shape[-2:], (h, wd), s, p, d, out_hw)
    return out, cache


def conv2d_backward(dout, cache, input_grad=True):
    """Returns ``(dx, dw, db)``: dw = dout @ cols^T; dx = col2im(w^T @ dout), per group.

    dout: (N, F, H_out, W_out). dx: (N, C, H, W), None when ``input_grad`` is
    False; dw: w's shape; db: (F,), None without a bias.
    """
    if isinstance(cache, fast_conv.Stride1Cache):
        return fast_conv.conv2d_backward(dout, cache, input_grad)   # FAST PATH (its cache)
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
    dx = unpad2d(dxp, p, size).transpose(1, 0, 2, 3)             # (N, C, H, W)
    return np.ascontiguousarray(dx), dw, db


def conv1d_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation, torch's ``conv1d`` order: x (N, C, L), w (F, C/groups, k);
    ``padding`` an int, ``'valid'`` or ``'same'``. The 2-D im2col on a height of 1."""
    pads = padding if isinstance(padding, str) else (0, padding)
    out, cache = conv2d_forward(x[:, :, None], w[:, :, None], b, (1, stride), pads,
                                (1, dilation), groups)
    return out[:, :, 0], cache


def conv1d_backward(dout, cache, input_grad=True):
    """Returns ``(dx, dw, db)`` in the 1-D shapes."""
    dx, dw, db = conv2d_backward(dout[:, :, None], cache, input_grad)
    return None if dx is None else dx[:, :, 0], dw[:, :, 0], db


def transposed_out_size(size, kernel, stride, padding, output_padding, dilation):
    """torch's output length of a transposed convolution along one axis."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


class ConvTransposeCache(NamedTuple):
    x_m: np.ndarray         # (G, C/G, N*H*W) the input as a matrix
    w: np.ndarray           # (C, F/G, kh, kw)
    has_bias: bool
    in_hw: tuple            # (H, W)
    stride: tuple
    padding: tuple
    dilation: tuple


def conv_transpose2d_forward(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                             dilation=1):
    """Transposed 2-D convolution, torch's ``conv_transpose2d`` argument order.

    x: (N, C, H, W); w: (C, F/groups, kh, kw) (in-channels first, as torch);
    b: (F,) or None. ``output_padding`` (less than stride or dilation) adds rows
    and columns at the bottom/right. Returns out (N, F, H_out, W_out) and a cache.
    """
    n, c, h, wd = x.shape
    c_w, f_g, kh, kw = w.shape
    s, p, op, d = (pair(v, name) for v, name in ((stride, "stride"), (padding, "padding"),
                                                   (output_padding, "output_padding"),
                                                   (dilation, "dilation")))
    f = f_g * groups
    out_hw = tuple(transposed_out_size(size, k, s[i], p[i], op[i], d[i])
                   for i, (size, k) in enumerate(((h, kh), (wd, kw))))
    if (fast := fast_transpose.conv_transpose2d_forward(x, w, b, s, p, d, groups,
                                                        out_hw)) is not None:
        out, x_m = fast                                             # FAST PATH (col2im)
        return out, ConvTransposeCache(x_m, w, b is not None, (h, wd), s, p, d)
    full_hw = (out_hw[0] + 2 * p[0], out_hw[1] + 2 * p[1])          # before cropping padding
    x_m = x.transpose(1, 0, 2, 3).reshape(groups, c // groups, n * h * wd)
    w_m = w.reshape(groups, c // groups, f_g * kh * kw)
    cols = (w_m.transpose(0, 2, 1) @ x_m).reshape(f, kh, kw, n, h, wd)   # multiply first
    full = fold(lambda i, j: cols[:, i, j], (f, n, *full_hw), (kh, kw), s, d, (h, wd),
                x.dtype)                                            # then scatter: (F, N, ..)
    out = full[:, :, p[0]:p[0] + out_hw[0], p[1]:p[1] + out_hw[1]].transpose(1, 0, 2, 3)
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return (np.ascontiguousarray(out, dtype=x.dtype),
            ConvTransposeCache(x_m, w, b is not None, (h, wd), s, p, d))


def conv_transpose2d_backward(dout, cache):
    """Returns ``(dx, dw, db)``: the windows of the zero-padded ``dout`` (im2col) give
    ``dx = w @ dcols`` and ``dw = x @ dcols^T``, per group."""
    x_m, w, has_bias, (h, wd), s, p, d = cache
    groups, c_g = x_m.shape[:2]
    n, f = dout.shape[:2]
    kh, kw = w.shape[2:]
    dfull = pad2d(dout, p)                                          # (N, F, Hf, Wf)
    win = windows(dfull, (kh, kw), s, d, (h, wd))                   # (N, F, H, W, kh, kw)
    dcols = win.transpose(1, 4, 5, 0, 2, 3).reshape(groups, f // groups * kh * kw, -1)
    w_m = w.reshape(groups, c_g, -1)                                # (G, C/G, F/G*kh*kw)
    dx = (w_m @ dcols).reshape(groups * c_g, n, h, wd).transpose(1, 0, 2, 3)
    dw = (x_m @ dcols.transpose(0, 2, 1)).reshape(w.shape)
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    return np.ascontiguousarray(dx), dw, db


def conv_transpose1d_forward(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                             dilation=1):
    """x: (N, C, L); w: (C, F/groups, k): the 2-D layer on a height of 1."""
    out, cache = conv_transpose2d_forward(x[:, :, None], w[:, :, None], b, (1, stride),
                                          (0, padding), (0, output_padding), groups,
                                          (1, dilation))
    return out[:, :, 0], cache


def conv_transpose1d_backward(dout, cache):
    """Returns ``(dx, dw, db)`` in the 1-D shapes."""
    dx, dw, db = conv_transpose2d_backward(dout[:, :, None], cache)
    return dx[:, :, 0], dw[:, :, 0], db
