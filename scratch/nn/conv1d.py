"""``Conv1d``: 1-D cross-correlation over (N, C, L) or unbatched (C, L).

torch's arguments in torch's order; ``padding`` an int, a 1-tuple, ``'valid'`` or
``'same'`` (stride 1 only); ``padding_mode`` 'zeros', 'reflect', 'replicate' or
'circular' (a separate pad step, :func:`scratch.functional.pad_nd_forward`, before
an unpadded convolution, as torch). Weights drawn as torch's ``reset_parameters``.
"""
from __future__ import annotations

from scratch import checks, init
from scratch import functional as F
from scratch import random as R
from scratch.nn.conv import PADDING_MODES
from scratch.nn.conv_transpose import _tuple
from scratch.nn.module import Module, Parameter
from scratch.windows import conv_pads


class Conv1d(Module):
    """``weight`` (out, in/groups, k), ``bias`` (out,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None, *, generator=None):
        super().__init__()
        self.in_channels = checks.count(self, "in_channels", in_channels)
        self.out_channels = checks.count(self, "out_channels", out_channels)
        self.groups = checks.groups(self, groups, in_channels, out_channels)
        self.kernel_size = _tuple(self, "kernel_size", kernel_size, 1, 1)
        self.stride = _tuple(self, "stride", stride, 1, 1)
        self.dilation = _tuple(self, "dilation", dilation, 1, 1)
        if isinstance(padding, str):
            self.padding = checks.conv_padding(self, padding, self.stride)
        else:
            self.padding = _tuple(self, "padding", padding, 1, 0)
        self.padding_mode = checks.choice(self, "padding_mode", padding_mode, PADDING_MODES)
        bias = checks.flag(self, "bias", bias)
        checks.device(self, device)
        dtype = checks.param_dtype(self, dtype)
        self._params["weight"] = Parameter(init.empty(
            (out_channels, in_channels // groups, *self.kernel_size), dtype))
        self._params["bias"] = Parameter(init.empty((out_channels,), dtype)) if bias else None
        self.reset_parameters(R.generator(type(self).__name__, generator))

    def reset_parameters(self, generator=None):
        bias = self._params.get("bias")
        init.default_init_(self._params["weight"].data, bias.data if bias else None,
                           R.generator(type(self).__name__, generator))

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if isinstance(self.padding, str) or self.padding != (0,):
            s += f", padding={self.padding}"
        if self.dilation != (1,):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self._params.get("bias") is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def forward(self, x):
        w, b = self._params["weight"].data, self._params.get("bias")
        checks.input_array(self, x, dtype=w.dtype)
        if x.ndim not in (2, 3):
            raise RuntimeError(f"Expected 2D (unbatched) or 3D (batched) input to conv1d, but "
                               f"got input of size: {list(x.shape)}")
        if x.shape[-2] != self.in_channels:
            raise RuntimeError(f"Given groups={self.groups}, weight of size {list(w.shape)}, "
                               f"expected input{list(x.shape)} to have {self.in_channels} "
                               f"channels, but got {x.shape[-2]} channels instead")
        pad = self.padding if isinstance(self.padding, str) else self.padding[0]
        _, _, left, right = conv_pads(pad if isinstance(pad, str) else (0, pad),
                                      (1, self.kernel_size[0]), (1, self.dilation[0]))
        span = self.dilation[0] * (self.kernel_size[0] - 1) + 1
        if x.shape[-1] + left + right < span:
            raise RuntimeError(f"Calculated padded input size per channel: "
                               f"({x.shape[-1] + left + right}). Kernel size: ({span}). "
                               f"Kernel size can't be greater than actual input size")
        unbatched = x.ndim == 2
        xb = x[None] if unbatched else x
        pad_cache = None
        if self.padding_mode != "zeros" and left + right:
            if self.padding_mode == "reflect" and max(left, right) >= x.shape[-1]:
                raise RuntimeError(f"Argument #4: Padding size should be less than the "
                                   f"corresponding input dimension, but got: padding ({left}, "
                                   f"{right}) at dimension {x.ndim - 1} of input "
                                   f"{list(x.shape)}")
            if self.padding_mode == "circular" and max(left, right) > x.shape[-1]:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            xb, pad_cache = F.pad_nd_forward(xb, (left, right), self.padding_mode)
            pad = 0
        out, cache = F.conv1d_forward(xb, w, b.data if b else None, self.stride[0], pad,
                                      self.dilation[0], self.groups)
        return self._keep(out[0] if unbatched else out, (cache, pad_cache, unbatched))

    def backward(self, dout, input_grad=True):
        cache, pad_cache, unbatched = self._take_cache(dout)
        dx, dw, db = F.conv1d_backward(dout[None] if unbatched else dout, cache, input_grad)
        self._params["weight"].grad = dw
        if db is not None:
            self._params["bias"].grad = db
        if dx is not None and pad_cache is not None:
            dx = F.pad_nd_backward(dx, pad_cache)
        return dx[0] if unbatched and dx is not None else dx
