"""Sliding-window geometry shared by convolution and pooling.

Everything that knows how a window moves over an image lives here: the
output-size formula, padding, the strided window view (im2col's first half)
and its adjoint ``fold`` (col2im), which adds window gradients back onto the
input.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def pair(v, name: str = "value") -> tuple[int, int]:
    """Return ``(v, v)`` for an int, ``v`` for a pair of ints."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return (int(v), int(v))
    if (isinstance(v, (tuple, list)) and len(v) == 2
            and all(isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in v)):
        return (int(v[0]), int(v[1]))
    raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")


def window_out_size(size: int, kernel: int, stride: int, padding: int,
                    dilation: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a sliding window along one axis (torch's formula).

    ``out = floor_or_ceil((size + 2*padding - dilation*(kernel-1) - 1) / stride) + 1``;
    with ``ceil_mode`` a last window that would start inside the right padding
    is dropped.
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0:
        raise ValueError(
            f"a window of kernel {kernel} with dilation {dilation} does not fit an "
            f"input of size {size} with padding {padding}")
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def right_overhang(size: int, out: int, kernel: int, stride: int, padding: int,
                   dilation: int = 1) -> int:
    """How far the last window reaches past ``size + 2*padding`` (ceil_mode only)."""
    reach = (out - 1) * stride + dilation * (kernel - 1) + 1
    return max(0, reach - (size + 2 * padding))


def taps_inside(size: int, out: int, kernel: int, stride: int, padding: int,
                dilation: int = 1) -> np.ndarray:
    """``(out, kernel)`` booleans along one axis: does tap j of window o read a real
    input element (rather than padding or the ceil_mode overhang)?"""
    index = np.arange(out)[:, None] * stride + np.arange(kernel) * dilation - padding
    return (index >= 0) & (index < size)


def pad2d(x: np.ndarray, padding: tuple[int, int], extra: tuple[int, int] = (0, 0),
          value: float = 0.0) -> np.ndarray:
    """Pad the last two axes by ``padding`` on both sides plus ``extra`` on the right/bottom."""
    (ph, pw), (eh, ew) = padding, extra
    if ph == pw == eh == ew == 0:
        return x
    h, w = x.shape[-2:]
    xp = np.full(x.shape[:-2] + (h + 2 * ph + eh, w + 2 * pw + ew), value, dtype=x.dtype)
    xp[..., ph:ph + h, pw:pw + w] = x
    return xp


def windows(xp: np.ndarray, kernel, stride, dilation, out_hw) -> np.ndarray:
    """Read-only view of every window: ``(N, C, H_out, W_out, kh, kw)``.

    ``xp`` is the already padded input ``(N, C, Hp, Wp)``. No data is copied.
    """
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    view = sliding_window_view(xp, span, axis=(2, 3))  # (N, C, Hp-span+1, Wp-span+1, *span)
    return view[:, :, :(ho - 1) * sh + 1:sh, :(wo - 1) * sw + 1:sw, ::dh, ::dw]


def taps(kernel, stride, dilation, out_hw):
    """Yield ``(i, j, index)`` for each kernel offset: ``xp[index]`` is the
    ``(..., H_out, W_out)`` strided view of the input element that offset (i, j)
    reads in every window. Pooling reduces over these views; :func:`fold` adds
    gradients back through them."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    for i in range(kh):
        for j in range(kw):
            yield i, j, (Ellipsis, slice(i * dh, i * dh + (ho - 1) * sh + 1, sh),
                         slice(j * dw, j * dw + (wo - 1) * sw + 1, sw))


def fold(tap_grad, padded_shape, kernel, stride, dilation, out_hw, dtype) -> np.ndarray:
    """Adjoint of :func:`windows` (col2im): sum window gradients back onto the padded input.

    ``tap_grad(i, j)`` returns the ``(..., H_out, W_out)`` gradient that kernel
    offset (i, j) sends back; the result has ``padded_shape``. One strided add
    per kernel offset, so overlapping windows accumulate without ``np.add.at``.
    """
    dxp = np.zeros(padded_shape, dtype=dtype)
    for i, j, index in taps(kernel, stride, dilation, out_hw):
        dxp[index] += tap_grad(i, j)
    return dxp


def unpad2d(xp: np.ndarray, padding: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Crop the padding added by :func:`pad2d` (extra included) back to ``size``."""
    (ph, pw), (h, w) = padding, size
    return xp[..., ph:ph + h, pw:pw + w]


def conv_pads(padding, kernel, dilation) -> tuple[int, int, int, int]:
    """A conv's ``padding`` as ``(top, bottom, left, right)``, torch's rule for strings:
    ``'valid'`` is none; ``'same'`` pads ``d*(k-1)`` in all, half (rounded down) before
    and the rest after, so an odd total puts the extra row/column at the bottom/right."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]
        return tuple(pads)
    ph, pw = pair(padding, "padding")
    return (ph, ph, pw, pw)
