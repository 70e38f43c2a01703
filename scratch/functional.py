"""Stateless forward/backward pairs, the twin of ``torch.nn.functional``.

Each ``*_forward`` returns ``(out, cache)`` and the ``*_backward`` below it
takes ``(dout, cache)`` and returns the gradients. Outputs keep the input's
dtype. Activations, normalisation and losses live in
:mod:`scratch.functional_pointwise`; this module re-exports them, so
``scratch.functional`` is the one place to import from.
"""
from __future__ import annotations

import numpy as np

from scratch.functional_pointwise import (  # noqa: F401  (re-exported)
    batch_norm_backward, batch_norm_forward, cross_entropy_backward,
    cross_entropy_forward, l2_penalty, l2_penalty_backward, leaky_relu_backward,
    leaky_relu_forward, prelu_backward, prelu_forward, relu_backward, relu_forward,
    sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward)
from scratch.windows import (fold, pad2d, pair, right_overhang, taps, taps_inside,
                             unpad2d, window_out_size, windows)


# --------------------------------------------------------------------------- linear
def linear_forward(x, w, b=None):
    """``out = x @ w.T + b``.

    x: (N, in_features); w: (out_features, in_features); b: (out_features,) or None.
    Returns out (N, out_features) and cache ``(x, w, has_bias)``.
    """
    out = x @ w.T
    if b is not None:
        out += b
    return out, (x, w, b is not None)


def linear_backward(dout, cache, input_grad=True):
    """Returns ``(dx, dw, db)``; ``dx`` is None when ``input_grad`` is False, ``db`` without bias."""
    x, w, has_bias = cache
    dx = dout @ w if input_grad else None
    dw = dout.T @ x
    db = dout.sum(axis=0) if has_bias else None
    return dx, dw, db


def flatten_forward(x):
    """(N, ...) -> (N, prod(...)); cache is the input shape."""
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(dout, cache):
    return dout.reshape(cache)


# --------------------------------------------------------------------------- conv
def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation as one (batched over groups) matrix product (im2col).

    x: (N, C, H, W); w: (F, C/groups, kh, kw); b: (F,) or None. With ``groups``
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
    s, p, d = pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")
    out_hw = (window_out_size(h, kh, s[0], p[0], d[0]), window_out_size(wd, kw, s[1], p[1], d[1]))
    xp = pad2d(x, p)
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


# --------------------------------------------------------------------------- pooling
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


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max over each window; padding counts as -inf.

    x: (N, C, H, W). Output size as for conv (with ``ceil_mode`` rounding up).
    The cache holds one boolean mask (N, C, H_out, W_out) per kernel offset,
    true where that offset holds the window's first maximum in row-major order:
    the one element torch sends the window's gradient to.
    """
    k, s, p, d, out_hw, extra, inside = _pool_geometry(x, kernel_size, stride, padding,
                                                       dilation, ceil_mode)
    xp = pad2d(x, p, extra, value=-np.inf)
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
    return out, (first_max, k, xp.shape, x.shape[-2:], s, p, d)


def max_pool2d_backward(dout, cache):
    """Each window's gradient goes to its first maximum; overlapping windows accumulate."""
    first_max, k, padded_shape, size, s, p, d = cache
    dxp = fold(lambda i, j: dout * first_max[i * k[1] + j], padded_shape, k, s, d,
               dout.shape[-2:], dout.dtype)
    return np.ascontiguousarray(unpad2d(dxp, p, size))


def _avg_divisor(size, out, kernel, stride, padding, count_include_pad):
    """Per-output-position window length along one axis, torch's rule."""
    start = np.arange(out) * stride - padding
    end = np.minimum(start + kernel, size + padding)
    full = end - start
    inside = np.minimum(end, size) - np.maximum(start, 0)
    return full if count_include_pad else inside


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                       count_include_pad=True):
    """Mean over each window.

    The divisor of a window is its size clipped to the padded input (with
    ``count_include_pad``) or to the real input (without); windows that
    ``ceil_mode`` lets run past the padding never count those positions.
    """
    k, s, p, d, out_hw, extra, _ = _pool_geometry(x, kernel_size, stride, padding, 1,
                                                  ceil_mode)
    h, w = x.shape[-2:]
    div = np.outer(_avg_divisor(h, out_hw[0], k[0], s[0], p[0], count_include_pad),
                   _avg_divisor(w, out_hw[1], k[1], s[1], p[1], count_include_pad))
    div = div.astype(x.dtype)                                     # (Ho, Wo)
    xp = pad2d(x, p, extra)
    total = np.zeros(x.shape[:-2] + out_hw, x.dtype)
    for _, _, index in taps(k, s, d, out_hw):
        total += xp[index]
    return total / div, (div, k, xp.shape, (h, w), s, p, d)


def avg_pool2d_backward(dout, cache):
    div, k, padded_shape, size, s, p, d = cache
    share = dout / div
    dxp = fold(lambda i, j: share, padded_shape, k, s, d, div.shape, dout.dtype)
    return np.ascontiguousarray(unpad2d(dxp, p, size))
