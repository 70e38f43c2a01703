"""Convolution layers: ``Conv2d``."""
from __future__ import annotations

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module, Parameter


class Conv2d(Module):
    """Cross-correlation: ``weight`` (out, in/groups, kh, kw), ``bias`` (out,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, dtype=np.float32):
        super().__init__()
        self.in_channels = checks.count(self, "in_channels", in_channels)
        self.out_channels = checks.count(self, "out_channels", out_channels)
        self.groups = checks.groups(self, groups, in_channels, out_channels)
        self.kernel_size, self.stride, self.padding, self.dilation = checks.window_args(
            self, kernel_size, stride, padding, dilation)
        dtype = checks.param_dtype(self, dtype)
        self._params["weight"] = Parameter(
            np.zeros((out_channels, in_channels // groups, *self.kernel_size), dtype))
        if bias:
            self._params["bias"] = Parameter(np.zeros(out_channels, dtype))

    def forward(self, x):
        """x: (N, in_channels, H, W) of the weight's dtype -> (N, out_channels, H_out, W_out)."""
        w, b = self._params["weight"].data, self._params.get("bias")
        checks.input_array(self, x, "(N, C, H, W)", (4,), dtype=w.dtype,
                           channels=self.in_channels)
        checks.channels(self, x, self.in_channels, "in_channels")
        checks.window_fits(self, x, self.kernel_size, self.padding, self.dilation)
        return self._keep(*F.conv2d_forward(x, w, b.data if b else None, self.stride,
                                            self.padding, self.dilation, self.groups))

    def backward(self, dout, input_grad=True):
        dx, dw, db = F.conv2d_backward(dout, self._take_cache(dout), input_grad)
        self._params["weight"].grad = dw
        if db is not None:
            self._params["bias"].grad = db
        return dx
