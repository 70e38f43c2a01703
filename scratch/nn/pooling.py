"""Pooling layers: ``MaxPool2d``, ``AvgPool2d``."""
from __future__ import annotations

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module


class _Pool(Module):
    """Pooling over the last two axes of (N, C, H, W) or (C, H, W) input."""
    _forward = None

    def forward(self, x):
        checks.input_array(self, x, "(N, C, H, W) or (C, H, W)", (3, 4))
        checks.window_fits(self, x, *self.geometry)
        try:
            return self._keep(*type(self)._forward(x, *self.args))
        except ValueError as err:  # a window entirely in the padding
            raise ValueError(f"{type(self).__name__}: {err}") from None


class MaxPool2d(_Pool):
    _forward = F.max_pool2d_forward

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        k, _, p, d = checks.window_args(self, kernel_size, stride, padding, dilation, pool=True)
        self.geometry = (k, p, d)
        self.args = (kernel_size, stride, padding, dilation, ceil_mode)

    def backward(self, dout, input_grad=True):
        return F.max_pool2d_backward(dout, self._take_cache(dout))


class AvgPool2d(_Pool):
    _forward = F.avg_pool2d_forward

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        k, _, p, d = checks.window_args(self, kernel_size, stride, padding, pool=True)
        self.geometry = (k, p, d)
        self.args = (kernel_size, stride, padding, ceil_mode, count_include_pad)

    def backward(self, dout, input_grad=True):
        return F.avg_pool2d_backward(dout, self._take_cache(dout))
