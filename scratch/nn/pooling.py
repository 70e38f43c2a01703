"""Pooling layers: ``MaxPool1d``, ``MaxPool2d``, ``MaxUnpool2d``, ``AvgPool1d``,
``AvgPool2d``, ``AdaptiveMaxPool1d``, ``AdaptiveMaxPool2d``, ``AdaptiveAvgPool1d``,
``AdaptiveAvgPool2d``.

Constructors take torch's arguments in torch's order, and reprs are torch's. The 2-D
layers accept (N, C, H, W) or unbatched (C, H, W) input; the 1-D layers (N, C, L) or
(C, L) (torch's ``RuntimeError`` otherwise). With ``return_indices=True`` a max-pooling
layer's forward returns ``(out, indices)`` (for 2-D, flat ``row * W + col`` within each
input plane, as torch's) and its backward still takes the gradient of ``out``.
``MaxUnpool2d``'s ``forward(x, indices, output_size=None)`` takes the indices of a
``MaxPool2d(..., return_indices=True)``.
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


class _Pool(Module):
    """Pooling over the last two axes of (N, C, H, W) or (C, H, W) input."""
    _forward = None
    return_indices = False

    def forward(self, x):
        checks.input_array(self, x, "(N, C, H, W) or (C, H, W)", (3, 4))
        checks.window_fits(self, x, *self.geometry)
        try:
            out, cache = type(self)._forward(x, *self.args)
        except ValueError as err:  # a window entirely in the padding
            raise ValueError(f"{type(self).__name__}: {err}") from None
        self._keep(out[0] if self.return_indices else out, cache)
        return out


class _AdaptivePool(Module):
    """Pooling to a fixed output size: torch's windows ``[floor(i*H/out), ceil((i+1)*H/out))``."""
    return_indices = False

    def __init__(self, output_size):
        super().__init__()
        self._size = checks.output_size(self, output_size)      # (H_out or None, W_out or None)
        self.output_size = output_size                          # as given, as torch keeps it

    def extra_repr(self):
        return f"output_size={self.output_size}"

    def forward(self, x):
        checks.input_array(self, x, "(N, C, H, W) or (C, H, W)", (3, 4))
        if min(x.shape[-2:]) < 1:
            raise ValueError(f"{type(self).__name__} needs a non-empty (H, W), got input of "
                             f"shape {x.shape}")
        out, cache = self._run(x)
        self._keep(out[0] if self.return_indices else out, cache)
        return out


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


class MaxPool2d(_Pool):
    _forward = F.max_pool2d_forward

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        k, _, p, d = checks.window_args(self, kernel_size, stride, padding, dilation, pool=True)
        self.return_indices = checks.flag(self, "return_indices", return_indices)
        ceil_mode = checks.flag(self, "ceil_mode", ceil_mode)
        self.geometry = (k, p, d)
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode

    @property
    def args(self):
        """The functional's arguments after ``x``: torch's attributes."""
        return (self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")

    def backward(self, dout, input_grad=True):
        return F.max_pool2d_backward(dout, self._take_cache(dout))


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


class AvgPool2d(_Pool):
    _forward = F.avg_pool2d_forward

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        k, _, p, d = checks.window_args(self, kernel_size, stride, padding, pool=True)
        ceil_mode = checks.flag(self, "ceil_mode", ceil_mode)
        count_include_pad = checks.flag(self, "count_include_pad", count_include_pad)
        divisor_override = checks.divisor(self, divisor_override)
        self.geometry = (k, p, d)
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    @property
    def args(self):
        """The functional's arguments after ``x``: torch's attributes."""
        return (self.kernel_size, self.stride, self.padding, self.ceil_mode,
                self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def backward(self, dout, input_grad=True):
        return F.avg_pool2d_backward(dout, self._take_cache(dout))


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


class AdaptiveMaxPool2d(_AdaptivePool):
    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = checks.flag(self, "return_indices", return_indices)

    def _run(self, x):
        return F.adaptive_max_pool2d_forward(x, self._size, self.return_indices)

    def backward(self, dout, input_grad=True):
        return F.adaptive_max_pool2d_backward(dout, self._take_cache(dout))


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


class AdaptiveAvgPool2d(_AdaptivePool):
    """``AdaptiveAvgPool2d(1)`` is global average pooling: (N, C, H, W) -> (N, C, 1, 1)."""

    def _run(self, x):
        return F.adaptive_avg_pool2d_forward(x, self._size)

    def backward(self, dout, input_grad=True):
        return F.adaptive_avg_pool2d_backward(dout, self._take_cache(dout))
