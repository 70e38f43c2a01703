"""Transposed convolution layers: ``ConvTranspose1d``, ``ConvTranspose2d``.

torch's arguments in torch's order (``output_padding`` and ``groups`` before
``bias``, ``dilation`` after it), ``weight`` (in_channels, out_channels/groups,
*kernel) and ``bias`` (out_channels,) drawn as torch's ``reset_parameters``
draws them, and ``forward(x, output_size=None)``: ``output_size`` picks one of the
``stride`` possible output sizes (torch's rule), overriding ``output_padding``.
Input (N, C, *spatial) or unbatched (C, *spatial). Only ``padding_mode='zeros'``
exists, as in torch; a string ``padding`` is refused when the layer is built
(torch accepts it there and fails later).
"""
from __future__ import annotations

from scratch import checks, init
from scratch import functional as F
from scratch import random as R
from scratch.nn.module import Module, Parameter


def _tuple(layer, what, value, n, low):
    values = (value,) * n if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(values, (tuple, list)) or len(values) != n or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= low for v in values):
        raise ValueError(f"{type(layer).__name__}: {what} must be an int or a tuple of {n} "
                         f"ints >= {low}, got {value!r}")
    return tuple(values)


class _ConvTransposeNd(Module):
    spatial = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None, *, generator=None):
        super().__init__()
        n = self.spatial
        self.in_channels = checks.count(self, "in_channels", in_channels)
        self.out_channels = checks.count(self, "out_channels", out_channels)
        self.groups = checks.count(self, "groups", groups)
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of "
                             f"ints (torch's transposed convolution has no {padding!r})")
        self.kernel_size = _tuple(self, "kernel_size", kernel_size, n, 1)
        self.stride = _tuple(self, "stride", stride, n, 1)
        self.padding = _tuple(self, "padding", padding, n, 0)
        self.output_padding = _tuple(self, "output_padding", output_padding, n, 0)
        self.dilation = _tuple(self, "dilation", dilation, n, 1)
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f'{type(self).__name__}')
        self.padding_mode = padding_mode
        bias = checks.flag(self, "bias", bias)
        checks.device(self, device)
        dtype = checks.param_dtype(self, dtype)
        shape = (in_channels, out_channels // groups, *self.kernel_size)
        self._params["weight"] = Parameter(init.empty(shape, dtype))
        self._params["bias"] = Parameter(init.empty((out_channels,), dtype)) if bias else None
        self.reset_parameters(R.generator(type(self).__name__, generator))

    def reset_parameters(self, generator=None):
        """torch's: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = weight.shape[1] * k."""
        bias = self._params.get("bias")
        init.default_init_(self._params["weight"].data, bias.data if bias else None,
                           R.generator(type(self).__name__, generator))

    def extra_repr(self):
        n = self.spatial
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        for what, default in (("padding", 0), ("dilation", 1), ("output_padding", 0)):
            if getattr(self, what) != (default,) * n:
                s += f", {what}={getattr(self, what)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self._params.get("bias") is None:
            s += ", bias=False"
        return s

    def _output_padding(self, x, output_size):
        """torch's ``_output_padding``: the given ``output_padding``, or the one that makes
        the output ``output_size`` (its last ``spatial`` entries)."""
        n = self.spatial
        if output_size is None:
            return self.output_padding
        output_size = list(output_size)
        if len(output_size) not in (n, n + x.ndim - n):
            raise ValueError(f"ConvTranspose{n}D: for {x.ndim}D input, output_size must have "
                             f"{n} or {x.ndim} elements (got {len(output_size)})")
        output_size = output_size[-n:]
        sizes = x.shape[-n:]
        low = [F.transposed_out_size(sizes[i], self.kernel_size[i], self.stride[i],
                                     self.padding[i], 0, self.dilation[i]) for i in range(n)]
        high = [low[i] + self.stride[i] - 1 for i in range(n)]
        if any(not low[i] <= output_size[i] <= high[i] for i in range(n)):
            raise ValueError(f"requested an output size of {tuple(output_size)}, but valid "
                             f"sizes range from {low} to {high} (for an input of "
                             f"{tuple(sizes)})")
        return tuple(output_size[i] - low[i] for i in range(n))

    def forward(self, x, output_size=None):
        n = self.spatial
        w, b = self._params["weight"].data, self._params.get("bias")
        checks.input_array(self, x, dtype=w.dtype)
        if x.ndim not in (n + 1, n + 2):
            raise RuntimeError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to "
                               f"conv_transpose{n}d, but got input of size: {list(x.shape)}")
        if x.shape[-n - 1] != self.in_channels:
            raise RuntimeError(f"Given transposed=1, weight of size {list(w.shape)}, expected "
                               f"input{list(x.shape)} to have {self.in_channels} channels, "
                               f"but got {x.shape[-n - 1]} channels instead")
        op = self._output_padding(x, output_size)
        for i in range(n):
            if op[i] >= self.stride[i] and op[i] >= self.dilation[i]:
                raise RuntimeError(f"output padding must be smaller than either stride or "
                                   f"dilation, but got output_padding={op}, stride="
                                   f"{self.stride}, dilation={self.dilation}")
        out_sizes = [F.transposed_out_size(x.shape[-n + i], self.kernel_size[i],
                                           self.stride[i], self.padding[i], op[i],
                                           self.dilation[i]) for i in range(n)]
        if min(out_sizes) < 1:
            raise RuntimeError(f"Given input size per channel: {tuple(x.shape[-n:])}. "
                               f"Calculated output size per channel: {tuple(out_sizes)}. "
                               f"Output size is too small")
        unbatched = x.ndim == n + 1
        xb = x[None] if unbatched else x
        forward = F.conv_transpose2d_forward if n == 2 else F.conv_transpose1d_forward
        args = [v if n == 2 else v[0] for v in (self.stride, self.padding, op)]
        out, cache = forward(xb, w, b.data if b else None, *args, self.groups,
                             self.dilation if n == 2 else self.dilation[0])
        return self._keep(out[0] if unbatched else out, (cache, unbatched))

    def __call__(self, x, output_size=None):
        return self.forward(x, output_size)

    def backward(self, dout, input_grad=True):
        cache, unbatched = self._take_cache(dout)
        backward = F.conv_transpose2d_backward if self.spatial == 2 else \
            F.conv_transpose1d_backward
        dx, dw, db = backward(dout[None] if unbatched else dout, cache)
        self._params["weight"].grad = dw
        if db is not None:
            self._params["bias"].grad = db
        return dx[0] if unbatched else dx


class ConvTranspose2d(_ConvTransposeNd):
    """Input (N, C, H, W) or (C, H, W) -> (N, F, H_out, W_out),
    ``H_out = (H - 1) s - 2 p + d (k - 1) + output_padding + 1``."""
    spatial = 2


class ConvTranspose1d(_ConvTransposeNd):
    """Input (N, C, L) or (C, L) -> (N, F, L_out)."""
    spatial = 1
