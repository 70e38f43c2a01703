"""Architecture description shared by the scratch model and its torch mirror.

An :class:`Architecture` is plain, frozen data: the input shape and an ordered
tuple of named layer specs. ``scratch.model.build`` and ``reference.model.build``
both read it, so the two models have the same layers under the same names and
their ``state_dict()`` keys agree. Channel counts and the flattened size are
derived by walking the shapes through the specs, never written by hand.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from scratch.windows import conv_pads, pair, window_out_size

Pair = tuple[int, int]


@dataclass(frozen=True)
class Conv2d:
    """``padding``: an int, a pair, ``'valid'`` or ``'same'``; ``padding_mode``: zeros,
    reflect, replicate or circular (torch's)."""
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
class MaxPool2d:
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
class AvgPool2d:
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


class _SameShape:
    """Layers whose output has the shape of their input."""

    def output_shape(self, shape):
        return shape


@dataclass(frozen=True)
class BatchNorm2d(_SameShape):
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = True
    track_running_stats: bool = True
    bias: bool = True


@dataclass(frozen=True)
class BatchNorm1d(_SameShape):
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = True
    track_running_stats: bool = True
    bias: bool = True


@dataclass(frozen=True)
class Linear:
    out_features: int
    bias: bool = True

    def output_shape(self, shape):
        """Acts on the last axis, as torch's: (*, in_features) -> (*, out_features)."""
        return tuple(shape[:-1]) + (self.out_features,)


@dataclass(frozen=True)
class Flatten:
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


class _AdaptiveShape:
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


LayerSpec = (Conv2d | MaxPool2d | AvgPool2d | BatchNorm2d | BatchNorm1d | Linear
             | Flatten | ReLU | LeakyReLU | PReLU | Sigmoid | Tanh)
LayerSpec = LayerSpec | GELU | ELU | SiLU | Softmax | LogSoftmax | Dropout | Dropout2d
LayerSpec = LayerSpec | AdaptiveAvgPool2d | AdaptiveMaxPool2d


@dataclass(frozen=True)
class Architecture:
    """A feed-forward network: ``input_shape`` is ``(C, H, W)`` or ``(features,)``."""
    input_shape: tuple[int, ...]
    layers: tuple[tuple[str, LayerSpec], ...] = field(default_factory=tuple)

    def shapes(self) -> list[tuple[int, ...]]:
        """Per-sample shape entering each layer, then the output shape (len = layers + 1)."""
        shapes = [tuple(self.input_shape)]
        for name, spec in self.layers:
            try:
                shapes.append(tuple(spec.output_shape(shapes[-1])))
            except ValueError as err:
                raise ValueError(f"layer {name!r} ({type(spec).__name__}) cannot take "
                                 f"input of shape {shapes[-1]}: {err}") from None
        return shapes

    @property
    def num_outputs(self) -> int:
        return math.prod(self.shapes()[-1])


def mnist_cnn(channels: tuple[int, int] = (16, 32), hidden: int = 128,
              num_classes: int = 10) -> Architecture:
    """The default MNIST network: (conv3x3-ReLU-maxpool2) x 2, Linear-ReLU-Linear."""
    c1, c2 = channels
    return Architecture(
        input_shape=(1, 28, 28),
        layers=(
            ("conv1", Conv2d(c1, 3, padding=1)),
            ("relu1", ReLU()),
            ("pool1", MaxPool2d(2)),
            ("conv2", Conv2d(c2, 3, padding=1)),
            ("relu2", ReLU()),
            ("pool2", MaxPool2d(2)),
            ("flatten", Flatten()),
            ("fc1", Linear(hidden)),
            ("relu3", ReLU()),
            ("fc2", Linear(num_classes)),
        ),
    )


# --------------------------------------------------------------------------- sequence models
@dataclass(frozen=True)
class Rows:
    """(C, H, W) -> (C*H, W): the image's rows (channel after channel) as a sequence of
    C*H steps of W features; torch's ``nn.Flatten(1, 2)``."""

    def output_shape(self, shape):
        if len(shape) != 3:
            raise ValueError(f"Rows needs an image (C, H, W), got per-sample shape {shape}")
        c, h, w = shape
        return (c * h, w)


def _recurrent_output_shape(spec, shape):
    if len(shape) != 2:
        raise ValueError(f"{type(spec).__name__} needs a sequence (steps, features), got "
                         f"per-sample shape {shape}; put a Rows layer before it")
    width = spec.hidden_size * (2 if spec.bidirectional else 1)
    return (width,) if spec.last_step else (shape[0], width)


@dataclass(frozen=True)
class RNN:
    """``torch.nn.RNN`` with ``batch_first=True`` on a (steps, features) input; its output
    is ``output[:, -1]`` (the last step, (D*hidden,)) when ``last_step``, else the whole
    sequence (steps, D*hidden). The final state is not passed on."""
    hidden_size: int
    num_layers: int = 1
    nonlinearity: str = "tanh"
    bias: bool = True
    bidirectional: bool = False
    last_step: bool = True

    def output_shape(self, shape):
        return _recurrent_output_shape(self, shape)


@dataclass(frozen=True)
class LSTM:
    """``torch.nn.LSTM``, otherwise as :class:`RNN`."""
    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    bidirectional: bool = False
    last_step: bool = True

    def output_shape(self, shape):
        return _recurrent_output_shape(self, shape)


LayerSpec = LayerSpec | Rows | RNN | LSTM


def mnist_rnn(cell: str = "rnn", hidden: int = 128, num_classes: int = 10) -> Architecture:
    """MNIST row by row: 28 steps of 28 pixels, a recurrent layer ('rnn': tanh RNN,
    'lstm'), and a linear classifier on the last hidden state."""
    layer = {"rnn": RNN(hidden), "lstm": LSTM(hidden)}[cell]
    return Architecture(input_shape=(1, 28, 28),
                        layers=(("rows", Rows()), (cell, layer), ("fc", Linear(num_classes))))
