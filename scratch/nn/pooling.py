"""Pooling layers: ``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``, ``AdaptiveMaxPool2d``.

Constructors take torch's arguments in torch's order. All accept (N, C, H, W)
or unbatched (C, H, W) input. With ``return_indices=True`` a max-pooling
layer's forward returns ``(out, indices)`` (flat ``row * W + col`` within each
input plane, as torch's) and its backward still takes the gradient of ``out``.
"""
from __future__ import annotations

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module


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


class AdaptiveAvgPool2d(_AdaptivePool):
    """``AdaptiveAvgPool2d(1)`` is global average pooling: (N, C, H, W) -> (N, C, 1, 1)."""

    def _run(self, x):
        return F.adaptive_avg_pool2d_forward(x, self._size)

    def backward(self, dout, input_grad=True):
        return F.adaptive_avg_pool2d_backward(dout, self._take_cache(dout))


class AdaptiveMaxPool2d(_AdaptivePool):
    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = checks.flag(self, "return_indices", return_indices)

    def _run(self, x):
        return F.adaptive_max_pool2d_forward(x, self._size, self.return_indices)

    def backward(self, dout, input_grad=True):
        return F.adaptive_max_pool2d_backward(dout, self._take_cache(dout))
