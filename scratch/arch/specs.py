"""Layer specs: frozen data describing one layer each, read by both builders.

Each spec names the module it describes (``layer``: the class name in ``torch.nn`` and
``scratch.nn``, or of the mirror's twin) and gives that module's constructor arguments
(:meth:`_Layer.arguments`, torch's keyword names): its own fields, plus the size the
previous layer fixes (``in_channels``, ``in_features``...) read from the per-sample input
shape. ``output_shape`` gives the per-sample shape the layer produces, so every size of
a network is derived by walking the shapes, never written by hand.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

from scratch.functional.conv import transposed_out_size
from scratch.windows import conv_pads, pair, window_out_size

Pair = tuple[int, int]


class _Layer:
    """What every layer spec shares: the module it describes and its arguments.

    ``sized_by``: the constructor argument the input shape fixes and the axis of the
    per-sample shape it is read from (``("in_channels", 0)``), or None.
    """
    sized_by: ClassVar[tuple[str, int] | None] = None
    layer: ClassVar[str]
    """The module's class name (``torch.nn`` and ``scratch.nn`` use the same): the spec's
    own name unless the spec sets another."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "layer" not in cls.__dict__:
            cls.layer = cls.__name__

    def arguments(self, in_shape: tuple[int, ...]) -> dict:
        """The module's keyword arguments for per-sample input shape ``in_shape``."""
        kwargs = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if self.sized_by is not None:
            name, axis = self.sized_by
            kwargs = {name: in_shape[axis], **kwargs}
        return kwargs


@dataclass(frozen=True)
class Conv2d(_Layer):
    """``padding``: an int, a pair, ``'valid'`` or ``'same'``; ``padding_mode``: zeros,
    reflect, replicate or circular (torch's)."""
    sized_by = ("in_channels", 0)
    out_channels: int
    kernel_size: int | Pair
    stride: int | Pair = 1
    padding: int | Pair | str = 0
    dilation: int | Pair = 1
    groups: int = 1
    bias: bool = True
    padding_mode: str = "zeros"

    def output_shape(self, shape):
        _, h, w = shape
        (kh, kw), (sh, sw), d = pair(self.kernel_size), pair(self.stride), pair(self.dilation)
        top, bottom, left, right = conv_pads(self.padding, (kh, kw), d)
        return (self.out_channels, window_out_size(h + bottom - top, kh, sh, top, d[0]),
                window_out_size(w + right - left, kw, sw, left, d[1]))


@dataclass(frozen=True)
class MaxPool2d(_Layer):
    kernel_size: int | Pair
    stride: int | Pair | None = None
    padding: int | Pair = 0
    dilation: int | Pair = 1
    ceil_mode: bool = False

    def output_shape(self, shape):
        c, h, w = shape
        k = pair(self.kernel_size)
        s = pair(self.stride if self.stride is not None else self.kernel_size)
        p, d = pair(self.padding), pair(self.dilation)
        return (c, window_out_size(h, k[0], s[0], p[0], d[0], self.ceil_mode),
                window_out_size(w, k[1], s[1], p[1], d[1], self.ceil_mode))


@dataclass(frozen=True)
class AvgPool2d(_Layer):
    kernel_size: int | Pair
    stride: int | Pair | None = None
    padding: int | Pair = 0
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor_override: int | None = None

    def output_shape(self, shape):
        c, h, w = shape
        k = pair(self.kernel_size)
        s = pair(self.stride if self.stride is not None else self.kernel_size)
        p = pair(self.padding)
        return (c, window_out_size(h, k[0], s[0], p[0], 1, self.ceil_mode),
                window_out_size(w, k[1], s[1], p[1], 1, self.ceil_mode))


class _SameShape(_Layer):
    """Layers whose output has the shape of their input."""

    def output_shape(self, shape):
        return shape


class _BatchNorm(_SameShape):
    sized_by = ("num_features", 0)

    def arguments(self, in_shape):
        """``bias`` only when False: torch's default, and older torch has no such keyword."""
        kwargs = super().arguments(in_shape)
        if kwargs["bias"]:
            del kwargs["bias"]
        return kwargs


@dataclass(frozen=True)
class BatchNorm2d(_BatchNorm):
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = True
    track_running_stats: bool = True
    bias: bool = True


@dataclass(frozen=True)
class BatchNorm1d(_BatchNorm):
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = True
    track_running_stats: bool = True
    bias: bool = True


@dataclass(frozen=True)
class Linear(_Layer):
    sized_by = ("in_features", -1)
    out_features: int
    bias: bool = True

    def output_shape(self, shape):
        """Acts on the last axis, as torch's: (*, in_features) -> (*, out_features)."""
        return tuple(shape[:-1]) + (self.out_features,)


@dataclass(frozen=True)
class Flatten(_Layer):
    """Axes as torch counts them, the batch axis being 0, which must stay: start_dim >= 1."""
    start_dim: int = 1
    end_dim: int = -1

    def output_shape(self, shape):
        ndim = len(shape) + 1
        start = self.start_dim % ndim if -ndim <= self.start_dim < ndim else None
        end = self.end_dim % ndim if -ndim <= self.end_dim < ndim else None
        if start is None or end is None or start == 0 or start > end:
            raise ValueError(f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) "
                             f"needs 1 <= start_dim <= end_dim within {ndim} axes (batch "
                             f"axis included)")
        start, end = start - 1, end - 1
        return tuple(shape[:start]) + (math.prod(shape[start:end + 1]),) + tuple(
            shape[end + 1:])


@dataclass(frozen=True)
class ReLU(_SameShape):
    pass


@dataclass(frozen=True)
class LeakyReLU(_SameShape):
    negative_slope: float = 0.01


@dataclass(frozen=True)
class PReLU(_SameShape):
    num_parameters: int = 1
    init: float = 0.25


@dataclass(frozen=True)
class Sigmoid(_SameShape):
    pass


@dataclass(frozen=True)
class Tanh(_SameShape):
    pass


@dataclass(frozen=True)
class GELU(_SameShape):
    approximate: str = "none"


@dataclass(frozen=True)
class ELU(_SameShape):
    alpha: float = 1.0


@dataclass(frozen=True)
class SiLU(_SameShape):
    pass


@dataclass(frozen=True)
class Softmax(_SameShape):
    """``dim`` counts the batch axis, as in torch (``dim=1``: the classes of (N, C))."""
    dim: int


@dataclass(frozen=True)
class LogSoftmax(_SameShape):
    """``dim`` counts the batch axis, as in torch (``dim=1``: the classes of (N, C))."""
    dim: int


@dataclass(frozen=True)
class Dropout(_SameShape):
    """Element-wise dropout. The scratch model draws its masks from the build seed's
    generator; ``reference.dropout.share_masks`` gives the torch mirror the same masks."""
    p: float = 0.5


@dataclass(frozen=True)
class Dropout2d(_SameShape):
    """Channel-wise dropout of (N, C, H, W) activations (see :class:`Dropout`)."""
    p: float = 0.5


class _AdaptiveShape(_Layer):
    """``output_size``: an int or a pair whose entries may be None (keep that size)."""

    def output_shape(self, shape):
        c, h, w = shape
        oh, ow = (self.output_size,) * 2 if isinstance(self.output_size, int) else (
            self.output_size)
        return (c, h if oh is None else oh, w if ow is None else ow)


@dataclass(frozen=True)
class AdaptiveAvgPool2d(_AdaptiveShape):
    output_size: int | tuple[int | None, int | None]


@dataclass(frozen=True)
class AdaptiveMaxPool2d(_AdaptiveShape):
    output_size: int | tuple[int | None, int | None]


# --------------------------------------------------------------------------- sequence models
@dataclass(frozen=True)
class Rows(_Layer):
    """(C, H, W) -> (C*H, W): the image's rows (channel after channel) as a sequence of
    C*H steps of W features; torch's ``nn.Flatten(1, 2)``."""

    def output_shape(self, shape):
        if len(shape) != 3:
            raise ValueError(f"Rows needs an image (C, H, W), got per-sample shape {shape}")
        c, h, w = shape
        return (c * h, w)


class _Recurrent(_Layer):
    """RNN / LSTM / GRU on (steps, features): the module is ``RNNOutput`` / ``LSTMOutput``
    / ``GRUOutput``."""
    sized_by = ("input_size", 1)

    def output_shape(self, shape):
        if len(shape) != 2:
            raise ValueError(f"{type(self).__name__} needs a sequence (steps, features), got "
                             f"per-sample shape {shape}; put a Rows layer before it")
        width = self.hidden_size * (2 if self.bidirectional else 1)
        return (width,) if self.last_step else (shape[0], width)


@dataclass(frozen=True)
class RNN(_Recurrent):
    """``torch.nn.RNN`` with ``batch_first=True`` on a (steps, features) input; its output
    is ``output[:, -1]`` (the last step, (D*hidden,)) when ``last_step``, else the whole
    sequence (steps, D*hidden). The final state is not passed on."""
    layer = "RNNOutput"
    hidden_size: int
    num_layers: int = 1
    nonlinearity: str = "tanh"
    bias: bool = True
    bidirectional: bool = False
    last_step: bool = True


@dataclass(frozen=True)
class LSTM(_Recurrent):
    """``torch.nn.LSTM``, otherwise as :class:`RNN`."""
    layer = "LSTMOutput"
    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    bidirectional: bool = False
    last_step: bool = True


LayerSpec = (Conv2d | MaxPool2d | AvgPool2d | BatchNorm2d | BatchNorm1d | Linear | Flatten
             | ReLU | LeakyReLU | PReLU | Sigmoid | Tanh | GELU | ELU | SiLU | Softmax
             | LogSoftmax | Dropout | Dropout2d | AdaptiveAvgPool2d | AdaptiveMaxPool2d | Rows
             | RNN | LSTM)
"""Every layer spec (one layer each); :class:`scratch.arch.Residual` holds lists of them."""


# --------------------------------------------------------------------------- 1-D convolution
def _single(v) -> int:
    """An int or a one-int tuple (torch's ``_single``) as an int."""
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = v[0]
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"expected an int or a tuple of one int, got {v!r}")
    return v


@dataclass(frozen=True)
class Conv1d(_Layer):
    """On (C, L): ``padding`` an int, ``'valid'`` or ``'same'``; ``padding_mode`` as
    :class:`Conv2d`'s."""
    sized_by = ("in_channels", 0)
    out_channels: int
    kernel_size: int | tuple[int]
    stride: int | tuple[int] = 1
    padding: int | tuple[int] | str = 0
    dilation: int | tuple[int] = 1
    groups: int = 1
    bias: bool = True
    padding_mode: str = "zeros"

    def output_shape(self, shape):
        if len(shape) != 2:
            raise ValueError(f"Conv1d needs (channels, length), got per-sample shape {shape}")
        _, n = shape
        k, s, d = _single(self.kernel_size), _single(self.stride), _single(self.dilation)
        padding = self.padding if isinstance(self.padding, str) else _single(self.padding)
        _, _, left, right = conv_pads(padding, (1, k), (1, d))
        return (self.out_channels, window_out_size(n + right - left, k, s, left, d))


@dataclass(frozen=True)
class MaxPool1d(_Layer):
    kernel_size: int
    stride: int | None = None
    padding: int = 0
    dilation: int = 1
    ceil_mode: bool = False

    def output_shape(self, shape):
        if len(shape) != 2:
            raise ValueError(f"MaxPool1d needs (channels, length), got per-sample shape "
                             f"{shape}")
        c, n = shape
        k = _single(self.kernel_size)
        s = _single(self.stride if self.stride is not None else self.kernel_size)
        return (c, window_out_size(n, k, s, _single(self.padding), _single(self.dilation),
                                   self.ceil_mode))


LayerSpec = LayerSpec | Conv1d | MaxPool1d
# --------------------------------------------------------------------------- GRU
@dataclass(frozen=True)
class GRU(_Recurrent):
    """``torch.nn.GRU``, otherwise as :class:`RNN`."""
    layer = "GRUOutput"
    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    bidirectional: bool = False
    last_step: bool = True


# --------------------------------------------------------------------------- transformers
@dataclass(frozen=True)
class Patches(_Layer):
    """(C, H, W) -> (H*W, C): a patch-embedding convolution's map as H*W tokens of C
    features (``x.flatten(2).transpose(1, 2)``)."""

    def output_shape(self, shape):
        if len(shape) != 3:
            raise ValueError(f"Patches needs a feature map (C, H, W), got per-sample shape "
                             f"{shape}")
        c, h, w = shape
        return (h * w, c)


def _tokens(spec, shape):
    if len(shape) != 2:
        raise ValueError(f"{type(spec).__name__} needs a sequence (tokens, features), got "
                         f"per-sample shape {shape}; put a Patches layer before it")
    return shape


@dataclass(frozen=True)
class ClassToken(_Layer):
    """Prepends a learned token: (L, E) -> (L+1, E)."""
    sized_by = ("embedding_dim", -1)

    def output_shape(self, shape):
        length, features = _tokens(self, shape)
        return (length + 1, features)


@dataclass(frozen=True)
class PositionEmbedding(_Layer):
    """Adds a learned embedding per position: (L, E) -> (L, E); sized by both axes."""

    def arguments(self, in_shape):
        return dict(num_positions=in_shape[0], embedding_dim=in_shape[1])

    def output_shape(self, shape):
        return _tokens(self, shape)


@dataclass(frozen=True)
class FirstToken(_Layer):
    """(L, E) -> (E,): the first (class) token."""

    def output_shape(self, shape):
        return (_tokens(self, shape)[1],)


@dataclass(frozen=True)
class LayerNorm(_Layer):
    """``torch.nn.LayerNorm`` over the last axis (``normalized_shape`` read from it)."""
    sized_by = ("normalized_shape", -1)
    eps: float = 1e-5
    elementwise_affine: bool = True
    bias: bool = True

    def output_shape(self, shape):
        return shape


@dataclass(frozen=True)
class TransformerEncoderLayer(_Layer):
    """``torch.nn.TransformerEncoderLayer`` on (tokens, d_model), always ``batch_first``
    (``d_model`` read from the last axis). Its dropout masks are drawn by each side on
    its own, so a lockstep run needs ``dropout=0.0``."""
    sized_by = ("d_model", -1)
    nhead: int
    dim_feedforward: int = 2048
    dropout: float = 0.1
    activation: str = "relu"
    layer_norm_eps: float = 1e-5
    norm_first: bool = False
    bias: bool = True

    def arguments(self, in_shape):
        return {**super().arguments(in_shape), "batch_first": True}

    def output_shape(self, shape):
        return _tokens(self, shape)


LayerSpec = (LayerSpec | GRU | Patches | ClassToken | PositionEmbedding | FirstToken | LayerNorm
             | TransformerEncoderLayer)


# --------------------------------------------------------------------------- decoders
@dataclass(frozen=True)
class ConvTranspose2d(_Layer):
    """torch's arguments in torch's order; ``padding`` an int or a pair (no strings, as
    torch's transposed convolution). Output size per axis
    ``(H - 1) s - 2 p + d (k - 1) + output_padding + 1``, where ``output_padding`` (smaller
    than the stride or the dilation) picks one of the ``s`` sizes a strided convolution
    maps onto the same input size: 7 -> 14 with ``k=3, s=2, p=1`` needs
    ``output_padding=1``."""
    sized_by = ("in_channels", 0)
    out_channels: int
    kernel_size: int | Pair
    stride: int | Pair = 1
    padding: int | Pair = 0
    output_padding: int | Pair = 0
    groups: int = 1
    bias: bool = True
    dilation: int | Pair = 1

    def output_shape(self, shape):
        if len(shape) != 3:
            raise ValueError(f"ConvTranspose2d needs a feature map (C, H, W), got per-sample "
                             f"shape {shape}")
        _, *size = shape
        k, s, p, op, d = (pair(v) for v in (self.kernel_size, self.stride, self.padding,
                                            self.output_padding, self.dilation))
        if any(op[i] >= s[i] and op[i] >= d[i] for i in range(2)):
            raise ValueError(f"output_padding {self.output_padding} must be smaller than "
                             f"either the stride {self.stride} or the dilation "
                             f"{self.dilation}")
        out = [transposed_out_size(size[i], k[i], s[i], p[i], op[i], d[i]) for i in range(2)]
        if min(out) < 1:
            raise ValueError(f"the output would be {tuple(out)}: too small")
        return (self.out_channels, *out)


LayerSpec = LayerSpec | ConvTranspose2d
