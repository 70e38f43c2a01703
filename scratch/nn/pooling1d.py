"""1-D pooling layers ``MaxPool1d``, ``AvgPool1d``, ``AdaptiveAvgPool1d``,
``AdaptiveMaxPool1d``, and ``MaxUnpool2d``.

torch's arguments, order and repr; input (N, C, L) or (C, L) for the 1-D layers
(torch's ``RuntimeError`` otherwise) and (N, C, H, W) or (C, H, W) for
``MaxUnpool2d``, whose ``forward(x, indices, output_size=None)`` takes the
indices of a ``MaxPool2d(..., return_indices=True)``.
"""
from __future__ import annotations

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch.functional.pooling import _pool_geometry
from scratch.nn.module import Module
from scratch.windows import pair, window_out_size


def _rank(layer, x, name):
    checks.input_array(layer, x)
    if x.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {x.ndim}-dimensional tensor "
                           f"for argument #1 'self' (while checking arguments for {name})")


def _window(layer, x, kernel, stride, padding, dilation, ceil_mode):
    """torch's checks of a 1-D pooling window, as RuntimeError."""
    if padding > kernel // 2:
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                           f"pad={padding}, kernel_size={kernel} and dilation={dilation}")
    try:
        out = window_out_size(x.shape[-1], kernel, stride, padding, dilation, ceil_mode)
    except ValueError:                                  # the window does not fit at all
        out = 0
    if out < 1:
        raise RuntimeError(f"Given input size: {tuple(x.shape)}. Calculated output size: "
                           f"{out}. Output size is too small")
    try:
        _pool_geometry(x[..., None, :], (1, kernel), (1, stride), (0, padding), (1, dilation),
                       ceil_mode)
    except ValueError as err:
        raise RuntimeError(f"{type(layer).__name__}: {err}") from None


def _positive(layer, what, value):
    return checks.count(layer, what, value)


class MaxPool1d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = _positive(self, "kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else _positive(self, "stride", stride)
        self.padding = checks.number(self, "padding", padding)
        self.dilation = _positive(self, "dilation", dilation)
        self.return_indices = checks.flag(self, "return_indices", return_indices)
        self.ceil_mode = checks.flag(self, "ceil_mode", ceil_mode)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")

    def forward(self, x):
        _rank(self, x, "max_pool1d")
        _window(self, x, self.kernel_size, self.stride, self.padding, self.dilation,
                self.ceil_mode)
        out, cache = F.max_pool1d_forward(x, self.kernel_size, self.stride, self.padding,
                                          self.dilation, self.ceil_mode, self.return_indices)
        self._keep(out[0] if self.return_indices else out, cache)
        return out

    def backward(self, dout, input_grad=True):
        return F.max_pool1d_backward(dout, self._take_cache(dout))


class AvgPool1d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = (_positive(self, "kernel_size", kernel_size),)
        self.stride = self.kernel_size if stride is None else (
            _positive(self, "stride", stride),)
        self.padding = (checks.number(self, "padding", padding),)
        self.ceil_mode = checks.flag(self, "ceil_mode", ceil_mode)
        self.count_include_pad = checks.flag(self, "count_include_pad", count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, x):
        _rank(self, x, "avg_pool1d")
        _window(self, x, self.kernel_size[0], self.stride[0], self.padding[0], 1,
                self.ceil_mode)
        return self._keep(*F.avg_pool1d_forward(x, self.kernel_size[0], self.stride[0],
                                                self.padding[0], self.ceil_mode,
                                                self.count_include_pad))

    def backward(self, dout, input_grad=True):
        return F.avg_pool1d_backward(dout, self._take_cache(dout))


class AdaptiveAvgPool1d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = _positive(self, "output_size", output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"

    def forward(self, x):
        _rank(self, x, "adaptive_avg_pool1d")
        return self._keep(*F.adaptive_avg_pool1d_forward(x, self.output_size))

    def backward(self, dout, input_grad=True):
        return F.adaptive_avg_pool1d_backward(dout, self._take_cache(dout))


class AdaptiveMaxPool1d(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = _positive(self, "output_size", output_size)
        self.return_indices = checks.flag(self, "return_indices", return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"

    def forward(self, x):
        _rank(self, x, "adaptive_max_pool1d")
        out, cache = F.adaptive_max_pool1d_forward(x, self.output_size, self.return_indices)
        self._keep(out[0] if self.return_indices else out, cache)
        return out

    def backward(self, dout, input_grad=True):
        return F.adaptive_max_pool1d_backward(dout, self._take_cache(dout))


class MaxUnpool2d(Module):
    """The partial inverse of ``MaxPool2d``: zeros except at the recorded maxima."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(kernel_size if stride is None else stride, "stride")
        self.padding = pair(padding, "padding")

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def _output_hw(self, x, output_size):
        default = [(x.shape[-2 + d] - 1) * self.stride[d] + self.kernel_size[d]
                   - 2 * self.padding[d] for d in range(2)]
        if output_size is None:
            return tuple(default)
        output_size = list(output_size)[-2:]
        for d in range(2):
            low, high = default[d] - self.stride[d], default[d] + self.stride[d]
            if not low < output_size[d] < high:
                raise ValueError(f'invalid output_size "{tuple(output_size)}" (dim {d} must '
                                 f'be between {low} and {high})')
        return tuple(output_size)

    def forward(self, x, indices, output_size=None):
        checks.input_array(self, x, "(N, C, H, W) or (C, H, W)", (3, 4))
        indices = np.asarray(indices)
        if indices.shape != x.shape:
            raise RuntimeError(f"Expected shape of indices to be same as that of the input "
                               f"tensor ({list(x.shape)}) but got indices tensor with shape: "
                               f"{list(indices.shape)}")
        hw = self._output_hw(x, output_size)
        if indices.size and (indices.min() < 0 or indices.max() >= hw[0] * hw[1]):
            bad = indices.max() if indices.max() >= hw[0] * hw[1] else indices.min()
            raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of "
                               f"size {hw[0]}x{hw[1]})")
        return self._keep(*F.max_unpool2d_forward(x, indices, hw))

    def __call__(self, x, indices, output_size=None):
        return self.forward(x, indices, output_size)

    def backward(self, dout, input_grad=True):
        return F.max_unpool2d_backward(dout, self._take_cache(dout))
