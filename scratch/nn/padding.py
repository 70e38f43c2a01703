"""Padding layers: ``ZeroPad1d/2d``, ``ConstantPad1d/2d``, ``ReflectionPad1d/2d``,
``ReplicationPad1d/2d``, ``CircularPad1d/2d``.

Each pads the last one (1d) or two (2d) axes by ``padding``: an int (every side)
or torch's tuple ``(left, right)`` / ``(left, right, top, bottom)``; a negative
entry crops, as in torch. The gather behind every mode is the one conv's
``padding_mode`` uses (:func:`scratch.functional.pad_nd_forward`). Input ranks as
torch's: zero and constant padding take any input with enough axes; reflection,
replication and circular padding take (C, W)/(N, C, W) for 1d and
(C, H, W)/(N, C, H, W) for 2d. A tuple of the wrong length is refused when the
layer is built (torch refuses it at the first forward).
"""
from __future__ import annotations

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module


def _padding(layer, padding, length):
    if isinstance(padding, int) and not isinstance(padding, bool):
        return (padding,) * length
    try:
        values = tuple(padding)
    except TypeError:
        values = None
    if values is None or len(values) != length or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ValueError(f"{type(layer).__name__}: padding must be an int or a tuple of "
                         f"{length} ints (left, right{', top, bottom' if length == 4 else ''}),"
                         f" got {padding!r}")
    return values


class _PadNd(Module):
    mode, axes, value = "constant", 1, 0.0

    def __init__(self, padding):
        super().__init__()
        self.padding = _padding(self, padding, 2 * self.axes)

    def extra_repr(self):
        return f"{self.padding}"

    def _check(self, x):
        """torch's limits: the ranks each mode takes and how far it may pad."""
        name, d = type(self).__name__, self.axes
        if self.mode == "constant":
            if x.ndim < d:
                raise ValueError(f"{name} pads the last {d} axes, got input of shape "
                                 f"{x.shape}")
        elif x.ndim not in (d + 1, d + 2):
            error = ValueError if self.mode == "circular" else NotImplementedError
            raise error(f"expected {d + 1}D or {d + 2}D input (got {x.ndim}D input)")
        for i in range(d):
            size, before, after = x.shape[-1 - i], *self.padding[2 * i:2 * i + 2]
            if size + before + after < 0:
                raise RuntimeError(f"The input size {size}, plus negative padding {before} "
                                   f"and {after} resulted in a negative output size, which "
                                   f"is invalid. Check dimension {x.ndim - 1 - i} of your "
                                   f"input.")
            if self.mode == "reflect" and (before >= size or after >= size):
                raise RuntimeError(f"Argument #4: Padding size should be less than the "
                                   f"corresponding input dimension, but got: padding "
                                   f"({before}, {after}) at dimension {x.ndim - 1 - i} of "
                                   f"input {list(x.shape)}")
            kept = size - max(-before, 0) - max(-after, 0)     # circular crops first
            if self.mode == "circular" and (before > kept or after > kept):
                raise RuntimeError("Padding value causes wrapping around more than once.")
            if self.mode == "replicate" and size == 0:
                raise RuntimeError(f"Expected a non-empty axis {x.ndim - 1 - i} for replication "
                                   f"padding, got input of shape {list(x.shape)}")

    def forward(self, x):
        checks.input_array(self, x)
        self._check(x)
        return self._keep(*F.pad_nd_forward(x, self.padding, self.mode, self.value))

    def backward(self, dout, input_grad=True):
        return F.pad_nd_backward(dout, self._take_cache(dout))


class ConstantPad1d(_PadNd):
    """Pad the last axis with ``value``."""

    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = checks.number(self, "value", value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad2d(ConstantPad1d):
    """Pad the last two axes with ``value``."""
    axes = 2


class ZeroPad1d(ConstantPad1d):
    """Pad the last axis with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ZeroPad1d):
    axes = 2


class ReflectionPad1d(_PadNd):
    """Mirror without repeating the edge (each pad less than the size)."""
    mode = "reflect"


class ReflectionPad2d(ReflectionPad1d):
    axes = 2


class ReplicationPad1d(_PadNd):
    """Repeat the edge value."""
    mode = "replicate"


class ReplicationPad2d(ReplicationPad1d):
    axes = 2


class CircularPad1d(_PadNd):
    """Wrap around (each pad at most the size)."""
    mode = "circular"


class CircularPad2d(CircularPad1d):
    axes = 2
