"""``PixelShuffle`` and ``PixelUnshuffle``: channels to space and back (sub-pixel
convolution's upsampling). Input (*, C r**2, H, W) or (*, C, H r, W r), at least 3 dims."""
from __future__ import annotations

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module


class PixelShuffle(Module):
    """(*, C r**2, H, W) -> (*, C, H r, W r), ``r = upscale_factor``."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = checks.count(self, "upscale_factor", upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"

    def forward(self, x):
        checks.input_array(self, x)
        r = self.upscale_factor
        if x.ndim < 3:
            raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, "
                               f"but got input with {x.ndim} dimension(s)")
        if x.shape[-3] % (r * r):
            raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                               f"divisible by the square of upscale_factor, but "
                               f"input.size(-3)={x.shape[-3]} is not divisible by {r * r}")
        return self._keep(*F.pixel_shuffle_forward(x, r))

    def backward(self, dout, input_grad=True):
        return F.pixel_shuffle_backward(dout, self._take_cache(dout))


class PixelUnshuffle(Module):
    """(*, C, H r, W r) -> (*, C r**2, H, W), ``r = downscale_factor``."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = checks.count(self, "downscale_factor", downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"

    def forward(self, x):
        checks.input_array(self, x)
        r = self.downscale_factor
        if x.ndim < 3:
            raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, "
                               f"but got input with {x.ndim} dimension(s)")
        for axis, what in ((-2, "height"), (-1, "width")):
            if x.shape[axis] % r:
                raise RuntimeError(f"pixel_unshuffle expects {what} to be divisible by "
                                   f"downscale_factor, but input.size({axis})="
                                   f"{x.shape[axis]} is not divisible by {r}")
        return self._keep(*F.pixel_unshuffle_forward(x, r))

    def backward(self, dout, input_grad=True):
        return F.pixel_unshuffle_backward(dout, self._take_cache(dout))
