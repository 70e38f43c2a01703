"""Upsampling layers: ``Upsample``, ``UpsamplingNearest2d``, ``UpsamplingBilinear2d``.

torch's arguments, order and repr (a scale factor is kept as a float, or a tuple
of floats). Modes 'nearest' (N, C, L) or (N, C, H, W), 'linear' (N, C, L) and
'bilinear' (N, C, H, W) (see :mod:`scratch.functional.resample`). torch's other
modes ('bicubic', 'trilinear', 'area', 'nearest-exact') are refused when the
layer is built.
"""
from __future__ import annotations

from scratch import checks
from scratch import functional as F
from scratch.functional.resample import MODES
from scratch.nn.module import Module


class Upsample(Module):
    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"{type(self).__name__}: mode must be one of "
                             f"{', '.join(map(repr, MODES))} (scratch has no {mode!r} "
                             f"resampling), got {mode!r}")
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def extra_repr(self):
        info = (f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None
                else f"size={self.size!r}")
        return info + f", mode={self.mode!r}"

    def forward(self, x):
        checks.input_array(self, x)
        return self._keep(*F.interpolate_forward(x, self.size, self.scale_factor, self.mode,
                                                 self.align_corners,
                                                 self.recompute_scale_factor))

    def backward(self, dout, input_grad=True):
        return F.interpolate_backward(dout, self._take_cache(dout))


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')``."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)``."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
