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


def mnist_lstm(hidden: int = 128, num_classes: int = 10) -> Architecture:
    """:func:`mnist_rnn` with an LSTM: MNIST row by row, LSTM(hidden), Linear on the last
    hidden state."""
    return mnist_rnn("lstm", hidden, num_classes)


def mnist_cnn_bn(channels: tuple[int, int] = (16, 32), hidden: int = 128,
                 num_classes: int = 10) -> Architecture:
    """The default network with batch norm after every conv and hidden linear layer and
    PReLU (one slope per channel) in place of ReLU; convs and fc1 carry no bias (the
    batch norm that follows has its own shift)."""
    c1, c2 = channels
    return Architecture(
        input_shape=(1, 28, 28),
        layers=(
            ("conv1", Conv2d(c1, 3, padding=1, bias=False)),
            ("bn1", BatchNorm2d()),
            ("act1", PReLU(c1)),
            ("pool1", MaxPool2d(2)),
            ("conv2", Conv2d(c2, 3, padding=1, bias=False)),
            ("bn2", BatchNorm2d()),
            ("act2", PReLU(c2)),
            ("pool2", MaxPool2d(2)),
            ("flatten", Flatten()),
            ("fc1", Linear(hidden, bias=False)),
            ("bn3", BatchNorm1d()),
            ("act3", PReLU()),
            ("fc2", Linear(num_classes)),
        ),
    )


def mnist_cnn_avgpool(channels: tuple[int, int] = (16, 32), hidden: int = 128,
                      num_classes: int = 10) -> Architecture:
    """The default network with 2x2 average pooling in place of max pooling."""
    return Architecture(
        input_shape=(1, 28, 28),
        layers=tuple((name, AvgPool2d(2) if isinstance(spec, MaxPool2d) else spec)
                     for name, spec in mnist_cnn(channels, hidden, num_classes).layers),
    )


def lenet5(num_classes: int = 10) -> Architecture:
    """LeNet-5 (LeCun et al., 1998) as usually rebuilt for 28x28 MNIST: conv5x5(6, padding 2)
    -tanh-avgpool2, conv5x5(16)-tanh-avgpool2, then 120-84-10 fully connected with tanh
    (every C3 map sees all S2 maps, and the output is linear, not RBF)."""
    return Architecture(
        input_shape=(1, 28, 28),
        layers=(
            ("conv1", Conv2d(6, 5, padding=2)),
            ("act1", Tanh()),
            ("pool1", AvgPool2d(2)),
            ("conv2", Conv2d(16, 5)),
            ("act2", Tanh()),
            ("pool2", AvgPool2d(2)),
            ("flatten", Flatten()),
            ("fc1", Linear(120)),
            ("act3", Tanh()),
            ("fc2", Linear(84)),
            ("act4", Tanh()),
            ("fc3", Linear(num_classes)),
        ),
    )


def pytorch_examples_mnist(num_classes: int = 10) -> Architecture:
    """The network of pytorch/examples' ``mnist/main.py``: conv3x3(32)-ReLU-conv3x3(64)-ReLU
    -maxpool2-dropout(0.25)-flatten-Linear(9216, 128)-ReLU-dropout(0.5)-Linear(128, 10)
    -LogSoftmax(dim=1) (trained with NLL loss)."""
    return Architecture(
        input_shape=(1, 28, 28),
        layers=(
            ("conv1", Conv2d(32, 3)),
            ("relu1", ReLU()),
            ("conv2", Conv2d(64, 3)),
            ("relu2", ReLU()),
            ("pool", MaxPool2d(2)),
            ("dropout1", Dropout(0.25)),
            ("flatten", Flatten()),
            ("fc1", Linear(128)),
            ("relu3", ReLU()),
            ("dropout2", Dropout(0.5)),
            ("fc2", Linear(num_classes)),
            ("log_softmax", LogSoftmax(dim=1)),
        ),
    )


ARCHITECTURES = {
    "mnist_cnn": mnist_cnn,
    "mnist_cnn_bn": mnist_cnn_bn,
    "mnist_cnn_avgpool": mnist_cnn_avgpool,
    "lenet5": lenet5,
    "mnist_rnn": mnist_rnn,
    "mnist_lstm": mnist_lstm,
    "pytorch_examples_mnist": pytorch_examples_mnist,
}
"""Named architectures (name -> function building it with its defaults)."""


class ArchitectureFileError(ValueError):
    """A JSON or TOML architecture description that cannot be read (says where and why)."""


def layer_types() -> dict[str, type]:
    """Every layer spec class of this module by name: the ``type`` values a file may use."""
    import dataclasses
    return {name: cls for name, cls in sorted(globals().items())
            if isinstance(cls, type) and dataclasses.is_dataclass(cls)
            and hasattr(cls, "output_shape") and cls is not Architecture}


def to_dict(architecture: Architecture) -> dict:
    """Plain data (JSON/TOML-ready) that :func:`from_dict` turns back into ``architecture``."""
    import dataclasses
    layers = []
    for name, spec in architecture.layers:
        fields = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
        layers.append({"name": name, "type": type(spec).__name__,
                       **{k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}})
    return {"input_shape": list(architecture.input_shape), "layers": layers}


def from_dict(data: dict, source: str = "architecture") -> Architecture:
    """An :class:`Architecture` from ``{"input_shape": [...], "layers": [{"name": ...,
    "type": "Conv2d", <fields>}, ...]}``; :class:`ArchitectureFileError` naming the layer
    and the problem (unknown type or field, missing field, bad shape) otherwise."""
    import dataclasses
    if not isinstance(data, dict):
        raise ArchitectureFileError(f"{source}: expected a table with input_shape and layers, "
                                    f"got {type(data).__name__}")
    unknown = sorted(set(data) - {"input_shape", "layers"})
    if unknown:
        raise ArchitectureFileError(f"{source}: unknown top-level key(s) {unknown}; "
                                    f"expected input_shape and layers")
    shape = data.get("input_shape")
    if (not isinstance(shape, (list, tuple)) or not 1 <= len(shape) <= 3
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise ArchitectureFileError(f"{source}: input_shape must be a list of 1 to 3 positive "
                                    f"whole numbers, as [1, 28, 28]; got {shape!r}")
    entries = data.get("layers")
    if not isinstance(entries, list) or not entries:
        raise ArchitectureFileError(f"{source}: layers must be a non-empty list of tables")
    types, layers, seen = layer_types(), [], set()
    for i, entry in enumerate(entries):
        where = f"{source}: layer {i + 1}"
        if not isinstance(entry, dict):
            raise ArchitectureFileError(f"{where}: expected a table, got {entry!r}")
        entry = dict(entry)
        name, kind = entry.pop("name", None), entry.pop("type", None)
        if not isinstance(name, str) or not name.isidentifier():
            raise ArchitectureFileError(f"{where}: 'name' must be an identifier such as "
                                        f"'conv1', got {name!r}")
        where = f"{source}: layer {i + 1} ({name!r})"
        if name in seen:
            raise ArchitectureFileError(f"{where}: the name is used twice")
        seen.add(name)
        if kind not in types:
            raise ArchitectureFileError(f"{where}: unknown type {kind!r}; known types: "
                                        f"{', '.join(types)}")
        fields = {f.name: f for f in dataclasses.fields(types[kind])}
        extra = sorted(set(entry) - set(fields))
        if extra:
            raise ArchitectureFileError(f"{where}: {kind} has no field(s) {extra}; its fields: "
                                        f"{', '.join(fields) or 'none'}")
        missing = [n for n, f in fields.items() if n not in entry
                   and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise ArchitectureFileError(f"{where}: {kind} needs field(s) {missing}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()}
        try:
            layers.append((name, types[kind](**values)))
        except (TypeError, ValueError) as err:
            raise ArchitectureFileError(f"{where}: {err}") from None
    architecture = Architecture(tuple(shape), tuple(layers))
    try:
        architecture.shapes()
    except (ValueError, TypeError, ZeroDivisionError) as err:
        raise ArchitectureFileError(f"{source}: {err}") from None
    return architecture


def load(path) -> Architecture:
    """An :class:`Architecture` from a ``.json`` or ``.toml`` file (layout: :func:`from_dict`)."""
    import json
    from pathlib import Path
    try:
        import tomllib
    except ImportError:            # Python 3.10: TOML needs the tomli package
        tomllib = None
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ArchitectureFileError(f"cannot read architecture file {path}: "
                                    f"{err.strerror or err}") from None
    try:
        if path.suffix.lower() == ".toml":
            if tomllib is None:
                raise ArchitectureFileError(f"{path}: reading TOML needs Python 3.11 or "
                                            f"later; use a .json file")
            data = tomllib.loads(text)
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            raise ArchitectureFileError(f"{path}: expected a .json or .toml file")
    except (json.JSONDecodeError, getattr(tomllib, "TOMLDecodeError", ValueError)) as err:
        raise ArchitectureFileError(f"{path} is not valid {path.suffix[1:].upper()}: "
                                    f"{err}") from None
    return from_dict(data, str(path))


def resolve(name_or_path: str) -> Architecture:
    """A named architecture (:data:`ARCHITECTURES`) or one read from a .json/.toml file."""
    if name_or_path in ARCHITECTURES:
        return ARCHITECTURES[name_or_path]()
    if name_or_path.lower().endswith((".json", ".toml")):
        return load(name_or_path)
    raise ArchitectureFileError(f"unknown architecture {name_or_path!r}: expected one of "
                                f"{', '.join(ARCHITECTURES)} or a .json/.toml file")
