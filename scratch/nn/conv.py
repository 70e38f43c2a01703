"""Convolution layers: ``Conv2d``."""
from __future__ import annotations

from scratch import checks, init
from scratch import functional as F
from scratch import random as R
from scratch.nn.module import Module, Parameter
from scratch.windows import conv_pads

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class Conv2d(Module):
    """Cross-correlation: ``weight`` (out, in/groups, kh, kw), ``bias`` (out,).

    torch's arguments in torch's order. ``padding``: an int, a pair, ``'valid'``
    or ``'same'`` (stride 1 only). ``padding_mode``: ``'zeros'``, or
    ``'reflect'``/``'replicate'``/``'circular'``, a separate pad step
    (:func:`scratch.functional.pad_forward`) before an unpadded convolution, as
    torch does. ``device``: None or ``'cpu'``; ``dtype``: None means float32.
    Weights are drawn at construction as torch's ``reset_parameters`` draws
    them, from the keyword-only ``generator`` (a NumPy Generator or an int
    seed; default: the one :func:`scratch.manual_seed` seeds).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None, *, generator=None):
        super().__init__()
        self.in_channels = checks.count(self, "in_channels", in_channels)
        self.out_channels = checks.count(self, "out_channels", out_channels)
        self.groups = checks.groups(self, groups, in_channels, out_channels)
        self.kernel_size, self.stride, padding_pair, self.dilation = checks.window_args(
            self, kernel_size, stride, padding, dilation)
        self.padding = checks.conv_padding(self, padding, self.stride) if isinstance(
            padding, str) else padding_pair
        self.padding_mode = checks.choice(self, "padding_mode", padding_mode, PADDING_MODES)
        bias = checks.flag(self, "bias", bias)
        checks.device(self, device)
        dtype = checks.param_dtype(self, dtype)
        rng = R.generator(type(self).__name__, generator)
        weight = init.empty((out_channels, in_channels // groups, *self.kernel_size), dtype)
        self._params["weight"] = Parameter(weight)
        self._params["bias"] = Parameter(init.empty((out_channels,), dtype)) if bias else None
        self.reset_parameters(rng)

    def reset_parameters(self, generator=None):
        """torch's: weight U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform_, a=sqrt(5)),
        bias from the same bound."""
        bias = self._params.get("bias")
        init.default_init_(self._params["weight"].data, bias.data if bias else None,
                           R.generator(type(self).__name__, generator))

    def extra_repr(self):
        """torch's: sizes, kernel and stride, then what differs from the defaults."""
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if isinstance(self.padding, str) or self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self._params.get("bias") is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _pads(self):
        """(top, bottom, left, right)."""
        return conv_pads(self.padding, self.kernel_size, self.dilation)

    def forward(self, x):
        """x: (N, in_channels, H, W) or unbatched (in_channels, H, W), of the weight's
        dtype -> (N, out_channels, H_out, W_out) or (out_channels, H_out, W_out)."""
        w, b = self._params["weight"].data, self._params.get("bias")
        checks.input_array(self, x, "(N, C, H, W) or (C, H, W)", (3, 4), dtype=w.dtype,
                           channels=self.in_channels)
        checks.channels(self, x, self.in_channels, "in_channels", axis=x.ndim - 3)
        top, bottom, left, right = pads = self._pads()
        if self.padding != "same":
            checks.window_fits(self, x, self.kernel_size, (top, left), self.dilation)
        unbatched = x.ndim == 3
        xb = x[None] if unbatched else x
        pad_cache = None
        if self.padding_mode == "zeros":
            padding = self.padding
        else:
            checks.pad_fits(self, x, pads, self.padding_mode)
            xb, pad_cache = F.pad_forward(xb, (left, right, top, bottom), self.padding_mode)
            padding = 0
        out, cache = F.conv2d_forward(xb, w, b.data if b else None, self.stride, padding,
                                      self.dilation, self.groups)
        return self._keep(out[0] if unbatched else out, (cache, pad_cache, unbatched))

    def backward(self, dout, input_grad=True):
        cache, pad_cache, unbatched = self._take_cache(dout)
        dx, dw, db = F.conv2d_backward(dout[None] if unbatched else dout, cache, input_grad)
        self._params["weight"].grad = dw
        if db is not None:
            self._params["bias"].grad = db
        if dx is not None and pad_cache is not None:
            dx = F.pad_backward(dx, pad_cache)
        return dx[0] if unbatched and dx is not None else dx
