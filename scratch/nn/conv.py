"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose1d``, ``ConvTranspose2d``.

As in torch (``torch/nn/modules/conv.py``), one base, ``_ConvNd``, holds what they
share: the argument checks, ``weight`` and ``bias``, ``reset_parameters``, ``extra_repr``
and the ``padding_mode`` pad step. Each class then says its number of spatial axes
(``spatial``) and its forward and backward; ``_ConvTransposeNd`` adds
``output_padding`` and ``forward(x, output_size=None)`` for both transposed layers.

torch's arguments in torch's order. ``weight`` is (out, in/groups, *kernel) for a
convolution and (in, out/groups, *kernel) for a transposed one, ``bias`` (out,); both
drawn at construction as torch's ``reset_parameters`` draws them, from the keyword-only
``generator`` (a NumPy Generator or an int seed; default: the one
:func:`scratch.manual_seed` seeds). ``device``: None or ``'cpu'``; ``dtype``: None means
float32. Input (N, C, *spatial) or unbatched (C, *spatial).
"""
from __future__ import annotations

from scratch import checks, init
from scratch import functional as F
from scratch import random as R
from scratch.nn.module import Module, Parameter
from scratch.windows import conv_pads

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _tuple(layer, what, value, n, low):
    """An int or a tuple of ``n`` ints, each >= ``low``, as a tuple of ``n`` ints."""
    values = (value,) * n if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(values, (tuple, list)) or len(values) != n or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= low for v in values):
        raise ValueError(f"{type(layer).__name__}: {what} must be an int or a tuple of {n} "
                         f"ints >= {low}, got {value!r}")
    return tuple(values)


class _ConvNd(Module):
    """What every convolution shares (torch's ``_ConvNd``); ``spatial`` is the number of
    spatial axes, ``transposed`` whether the layer is a transposed convolution."""

    spatial = 2
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 output_padding, groups, bias, padding_mode, device, dtype, *, generator):
        super().__init__()
        self.in_channels = checks.count(self, "in_channels", in_channels)
        self.out_channels = checks.count(self, "out_channels", out_channels)
        if self.transposed:
            self.groups = checks.count(self, "groups", groups)
            if in_channels % groups:
                raise ValueError("in_channels must be divisible by groups")
            if out_channels % groups:
                raise ValueError("out_channels must be divisible by groups")
        else:
            self.groups = checks.groups(self, groups, in_channels, out_channels)
        self._window_args(kernel_size, stride, padding, dilation, output_padding)
        if not self.transposed:
            self.padding_mode = checks.choice(self, "padding_mode", padding_mode, PADDING_MODES)
        elif padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f'{type(self).__name__}')
        else:
            self.padding_mode = padding_mode
        bias = checks.flag(self, "bias", bias)
        checks.device(self, device)
        dtype = checks.param_dtype(self, dtype)
        if self.transposed:
            weight = init.empty((in_channels, out_channels // groups, *self.kernel_size), dtype)
        else:
            weight = init.empty((out_channels, in_channels // groups, *self.kernel_size), dtype)
        self._params["weight"] = Parameter(weight)
        self._params["bias"] = Parameter(init.empty((out_channels,), dtype)) if bias else None
        self.reset_parameters(R.generator(type(self).__name__, generator))

    def _window_args(self, kernel_size, stride, padding, dilation, output_padding):
        """Set ``kernel_size``, ``stride``, ``padding``, ``dilation`` as tuples of
        ``spatial`` ints; ``padding`` may also be ``'valid'`` or ``'same'`` (stride 1 only)."""
        n = self.spatial
        self.kernel_size = _tuple(self, "kernel_size", kernel_size, n, 1)
        self.stride = _tuple(self, "stride", stride, n, 1)
        self.dilation = _tuple(self, "dilation", dilation, n, 1)
        if isinstance(padding, str):
            self.padding = checks.conv_padding(self, padding, self.stride)
        else:
            self.padding = _tuple(self, "padding", padding, n, 0)

    def reset_parameters(self, generator=None):
        """torch's: weight U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform_, a=sqrt(5)),
        bias from the same bound; fan_in = weight.shape[1] * prod(kernel_size)."""
        bias = self._params.get("bias")
        init.default_init_(self._params["weight"].data, bias.data if bias is not None else None,
                           R.generator(type(self).__name__, generator))

    def extra_repr(self):
        """torch's: sizes, kernel and stride, then what differs from the defaults."""
        n = self.spatial
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if isinstance(self.padding, str) or self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.transposed and self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self._params.get("bias") is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _pad_step(self, xb, pads):
        """``padding_mode`` other than 'zeros': torch's separate pad step before an
        unpadded convolution. ``pads`` in ``F.pad``'s order ((left, right) for 1-D,
        (left, right, top, bottom) for 2-D). Returns the input to convolve and the pad's
        cache (None when nothing was padded)."""
        if self.padding_mode == "zeros":
            return xb, None
        pad = F.pad_forward if self.spatial == 2 else F.pad_nd_forward
        return pad(xb, pads, self.padding_mode)

    def _unpad_step(self, dx, pad_cache):
        """The pad step's backward: ``dx`` of the padded input -> of the input."""
        if dx is None or pad_cache is None:
            return dx
        unpad = F.pad_backward if self.spatial == 2 else F.pad_nd_backward
        return unpad(dx, pad_cache)


class Conv1d(_ConvNd):
    """1-D cross-correlation over (N, C, L) or unbatched (C, L): ``weight`` (out,
    in/groups, k), ``bias`` (out,). ``padding``: an int, a 1-tuple, ``'valid'`` or
    ``'same'`` (stride 1 only)."""

    spatial = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None, *, generator=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         0, groups, bias, padding_mode, device, dtype, generator=generator)

    def forward(self, x):
        """x: (N, in_channels, L) or (in_channels, L), of the weight's dtype ->
        (N, out_channels, L_out) or (out_channels, L_out)."""
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
            xb, pad_cache = self._pad_step(xb, (left, right))
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
        dx = self._unpad_step(dx, pad_cache)
        return dx[0] if unbatched and dx is not None else dx


class Conv2d(_ConvNd):
    """Cross-correlation over (N, C, H, W) or unbatched (C, H, W): ``weight`` (out,
    in/groups, kh, kw), ``bias`` (out,). ``padding``: an int, a pair, ``'valid'`` or
    ``'same'`` (stride 1 only)."""

    spatial = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None, *, generator=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         0, groups, bias, padding_mode, device, dtype, generator=generator)

    def _window_args(self, kernel_size, stride, padding, dilation, output_padding):
        """Pairs, as :func:`scratch.checks.window_args` checks them."""
        self.kernel_size, self.stride, padding_pair, self.dilation = checks.window_args(
            self, kernel_size, stride, padding, dilation)
        self.padding = checks.conv_padding(self, padding, self.stride) if isinstance(
            padding, str) else padding_pair

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
        padding = self.padding
        if self.padding_mode != "zeros":
            checks.pad_fits(self, x, pads, self.padding_mode)
            padding = 0
        xb, pad_cache = self._pad_step(xb, (left, right, top, bottom))
        out, cache = F.conv2d_forward(xb, w, b.data if b else None, self.stride, padding,
                                      self.dilation, self.groups)
        return self._keep(out[0] if unbatched else out, (cache, pad_cache, unbatched))

    def backward(self, dout, input_grad=True):
        cache, pad_cache, unbatched = self._take_cache(dout)
        dx, dw, db = F.conv2d_backward(dout[None] if unbatched else dout, cache, input_grad)
        self._params["weight"].grad = dw
        if db is not None:
            self._params["bias"].grad = db
        dx = self._unpad_step(dx, pad_cache)
        return dx[0] if unbatched and dx is not None else dx


class _ConvTransposeNd(_ConvNd):
    """torch's ``_ConvTransposeNd``: ``output_padding`` and ``groups`` come before ``bias``,
    ``dilation`` after it; only ``padding_mode='zeros'`` exists, as in torch; a string
    ``padding`` is refused when the layer is built (torch accepts it there and fails
    later). ``forward(x, output_size=None)``: ``output_size`` picks one of the ``stride``
    possible output sizes (torch's rule), overriding ``output_padding``."""

    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None, *, generator=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         output_padding, groups, bias, padding_mode, device, dtype,
                         generator=generator)

    def _window_args(self, kernel_size, stride, padding, dilation, output_padding):
        """Tuples of ``spatial`` ints, ``output_padding`` too; no string ``padding``."""
        n = self.spatial
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of "
                             f"ints (torch's transposed convolution has no {padding!r})")
        self.kernel_size = _tuple(self, "kernel_size", kernel_size, n, 1)
        self.stride = _tuple(self, "stride", stride, n, 1)
        self.padding = _tuple(self, "padding", padding, n, 0)
        self.output_padding = _tuple(self, "output_padding", output_padding, n, 0)
        self.dilation = _tuple(self, "dilation", dilation, n, 1)

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
        out, cache = self._conv_transpose_forward(xb, w, b.data if b else None, op)
        return self._keep(out[0] if unbatched else out, (cache, unbatched))

    def __call__(self, x, output_size=None):
        return self.forward(x, output_size)

    def backward(self, dout, input_grad=True):
        cache, unbatched = self._take_cache(dout)
        dx, dw, db = self._conv_transpose_backward(dout[None] if unbatched else dout, cache)
        self._params["weight"].grad = dw
        if db is not None:
            self._params["bias"].grad = db
        return dx[0] if unbatched else dx


class ConvTranspose1d(_ConvTransposeNd):
    """Input (N, C, L) or (C, L) -> (N, F, L_out),
    ``L_out = (L - 1) s - 2 p + d (k - 1) + output_padding + 1``."""

    spatial = 1

    def _conv_transpose_forward(self, xb, w, b, output_padding):
        return F.conv_transpose1d_forward(xb, w, b, self.stride[0], self.padding[0],
                                          output_padding[0], self.groups, self.dilation[0])

    def _conv_transpose_backward(self, dout, cache):
        return F.conv_transpose1d_backward(dout, cache)


class ConvTranspose2d(_ConvTransposeNd):
    """Input (N, C, H, W) or (C, H, W) -> (N, F, H_out, W_out),
    ``H_out = (H - 1) s - 2 p + d (k - 1) + output_padding + 1``."""

    spatial = 2

    def _conv_transpose_forward(self, xb, w, b, output_padding):
        return F.conv_transpose2d_forward(xb, w, b, self.stride, self.padding,
                                          output_padding, self.groups, self.dilation)

    def _conv_transpose_backward(self, dout, cache):
        return F.conv_transpose2d_backward(dout, cache)
