"""Transposed 2-D convolution's forward: col2im as one contiguous add per kernel tap.

Entered from :func:`scratch.functional.conv_transpose2d_forward` (its ``FAST
PATH`` line); the plain multiply-then-fold there is the one to read first. Both
add the taps onto each output element in the same order, but BLAS may sum a
product of another size in another grouping, so the two agree to rounding, not
bit for bit. The backward is the plain one (the fast forward returns what the
plain cache holds).

The plain fold adds each tap's ``(F, N, H, W)`` block onto a stride-spaced view
of the output: many short rows, each a separate inner loop in NumPy. Here the
output is split into its ``sh * sw`` phases (the rows ``a, a + sh, ...`` and
columns ``r, r + sw, ...``): tap (i, j) writes only phase ``(i*dh % sh, j*dw % sw)``,
shifted by ``(i*dh // sh, j*dw // sw)`` phase rows and columns. With the input
stored in planes of the phase's size (zeros after each row and below the last),
that shift is one offset in the flattened planes, and the tap's whole
``(F, N * plane)`` block is added with one contiguous slice. The zeros computed
between rows land on other positions and add nothing, which needs a finite
weight (``inf * 0`` would be NaN): other weights take the plain path. The
phases are then interleaved into the cropped output, one strided copy each.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scratch.backends import fast


class Phases(NamedTuple):
    """Where each tap writes when the full (uncropped) output is split into phases."""
    plane: tuple        # (Hq, Wq): one phase's rows and columns, also the input's plane
    taps: list          # per tap (i, j), row-major: (phase row a, phase column r, offset)


def phases(kernel, stride, dilation, full_hw) -> Phases:
    """Tap (i, j) sends input (ih, iw) to full-output (sh*ih + i*dh, sw*iw + j*dw), that
    is phase ``(i*dh % sh, j*dw % sw)`` at (ih + i*dh // sh, iw + j*dw // sw): with
    planes ``Wq`` wide, at flat offset ``(i*dh // sh) * Wq + j*dw // sw`` from the input's
    flat index. A plane covers the full output, ``Hq = ceil(H_full / sh)``; as
    ``H_full = (H - 1)*sh + dh*(kh - 1) + output_padding + 1``, that is at least
    ``H + dh*(kh - 1) // sh``: the input plus the largest shift, so no real value is
    shifted past its row onto the next one (and likewise for the columns)."""
    (kh, kw), (sh, sw), (dh, dw), (hf, wf) = kernel, stride, dilation, full_hw
    hq, wq = -(-hf // sh), -(-wf // sw)
    taps = [((i * dh) % sh, (j * dw) % sw, (i * dh // sh) * wq + j * dw // sw)
            for i in range(kh) for j in range(kw)]
    return Phases((hq, wq), taps)


def conv_transpose2d_forward(x, w, b, stride, padding, dilation, groups, out_hw):
    """``(out, x_m)`` as :func:`scratch.functional.conv_transpose2d_forward` computes
    them (``x_m``: the input as ``(G, C/G, N*H*W)``, for the plain backward); None when
    the switch is off or the weight is not finite."""
    if not fast.is_enabled() or not np.isfinite(w).all():
        return None
    n, c, h, wd = x.shape
    f_g, kh, kw = w.shape[1:]
    (sh, sw), (ph, pw) = stride, padding
    f, t = f_g * groups, kh * kw
    full_hw = (out_hw[0] + 2 * ph, out_hw[1] + 2 * pw)
    layout = phases((kh, kw), stride, dilation, full_hw)
    hq, wq = layout.plane
    span = n * hq * wq                                          # one phase, all planes
    xq = np.zeros((c, n, hq, wq), x.dtype)                      # the input in phase planes
    xq[:, :, :h, :wd] = x.transpose(1, 0, 2, 3)
    w_m = w.reshape(groups, c // groups, f_g * t).transpose(0, 2, 1)  # (G, F/G*kh*kw, C/G)
    cols = (w_m @ xq.reshape(groups, c // groups, span)).reshape(f, t, span)
    tail = max(offset for _, _, offset in layout.taps)
    planes = np.zeros((f, sh, sw, span + tail), x.dtype)        # (F, phase row, col, ...)
    for tap, (a, r, offset) in enumerate(layout.taps):
        planes[:, a, r, offset:offset + span] += cols[:, tap]
    out = np.empty((n, f, *out_hw), x.dtype)
    for a in range(sh):
        for r in range(sw):
            oh, ow = (a - ph) % sh, (r - pw) % sw               # first output row, column
            phase = planes[:, a, r, :span].reshape(f, n, hq, wq).transpose(1, 0, 2, 3)
            rows, columns = out[:, :, oh::sh, ow::sw].shape[2:]
            top, left = (oh + ph) // sh, (ow + pw) // sw        # where they sit in the phase
            out[:, :, oh::sh, ow::sw] = phase[:, :, top:top + rows, left:left + columns]
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    x_m = x.transpose(1, 0, 2, 3).reshape(groups, c // groups, n * h * wd)
    return out, x_m
