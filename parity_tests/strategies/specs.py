"""Layer specs (``scratch.arch``) with every field drawn, each with a per-sample input
shape that fits, and the registries the module-argument tests walk: SPEC_STRATEGIES (one
strategy per spec class), DRAWN_FIELDS (what each draws), SPEC_FAMILIES and LAYER_SPECS."""
from __future__ import annotations

import inspect

import torch
from hypothesis import strategies as st

from parity_tests.strategies.corners import window_corner
from scratch import arch as A


def _int_or_pair(draw, v):
    """A pair of equal values, sometimes given as the one int (both forms torch takes)."""
    return v[0] if v[0] == v[1] and draw(st.booleans()) else v


def _geometry_pair(draw, pool):
    """Kernel, stride, padding, dilation drawn as an int or a pair, with a fitting (H, W)."""
    axes = [draw(window_corner(pool=pool, ceil_mode=False)) for _ in range(2)]
    size = tuple(a[0] for a in axes)
    k, s, p, d = (tuple(a[i] for a in axes) for i in (1, 2, 3, 4))
    return size, *(_int_or_pair(draw, v) for v in (k, s, p, d))


@st.composite
def conv_specs(draw):
    size, k, s, p, d = _geometry_pair(draw, pool=False)
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 2))
    pp = p if isinstance(p, tuple) else (p, p)
    modes = ["zeros", "replicate"] + (["reflect"] if all(
        a < n for a, n in zip(pp, size)) else []) + (["circular"] if all(
            a <= n for a, n in zip(pp, size)) else [])
    spec = A.Conv2d(out_channels=groups * draw(st.integers(1, 2)), kernel_size=k, stride=s,
                    padding=p, dilation=d, groups=groups, bias=draw(st.booleans()),
                    padding_mode=draw(st.sampled_from(modes)))
    return spec, (c_in, *size)


@st.composite
def max_pool_specs(draw):
    ceil_mode, default_stride = draw(st.booleans()), draw(st.booleans())
    axes = [draw(window_corner(pool=True, ceil_mode=ceil_mode, stride_is_kernel=default_stride))
            for _ in range(2)]
    size = tuple(a[0] for a in axes)
    k, s, p, d = (tuple(a[i] for a in axes) for i in (1, 2, 3, 4))
    stride = None if default_stride else s
    spec = A.MaxPool2d(kernel_size=k, stride=stride, padding=p, dilation=d, ceil_mode=ceil_mode)
    return spec, (draw(st.integers(1, 2)), *size)


@st.composite
def avg_pool_specs(draw):
    ceil_mode, default_stride = draw(st.booleans()), draw(st.booleans())
    axes = [draw(window_corner(pool=True, max_dilation=1, ceil_mode=ceil_mode,
                               stride_is_kernel=default_stride)) for _ in range(2)]
    size = tuple(a[0] for a in axes)
    k, s, p = (tuple(a[i] for a in axes) for i in (1, 2, 3))
    stride = None if default_stride else s
    spec = A.AvgPool2d(kernel_size=k, stride=stride, padding=p, ceil_mode=ceil_mode,
                       count_include_pad=draw(st.booleans()),
                       divisor_override=draw(st.sampled_from([None, None, 1, 3, 7])))
    return spec, (draw(st.integers(1, 2)), *size)


BN_MOMENTA = st.sampled_from([0.1, 0.5, 1.0, None])
# Older torch (2.11) has no batch-norm bias= keyword: bias=False (a scale without a shift)
# has no torch twin there, so it is drawn only where torch has one.
BATCH_NORM_HAS_BIAS = "bias" in inspect.signature(torch.nn.BatchNorm2d.__init__).parameters
BN_EPS = st.sampled_from([1e-5, 1e-3, 0.5])


@st.composite
def batch_norm_specs(draw):
    fields = dict(eps=draw(BN_EPS), momentum=draw(BN_MOMENTA), affine=draw(st.booleans()),
                  track_running_stats=draw(st.booleans()),
                  bias=draw(st.booleans() if BATCH_NORM_HAS_BIAS else st.just(True)))
    c = draw(st.integers(1, 3))
    if draw(st.booleans()):
        return A.BatchNorm2d(**fields), (c, draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    shape = (c,) if draw(st.booleans()) else (c, draw(st.integers(1, 3)))
    return A.BatchNorm1d(**fields), shape


@st.composite
def linear_specs(draw):
    return (A.Linear(out_features=draw(st.integers(1, 5)), bias=draw(st.booleans())),
            (draw(st.integers(1, 5)),))


BASIC_ACTIVATIONS = ("ReLU", "LeakyReLU", "PReLU", "Sigmoid", "Tanh", "Flatten")
ACTIVATION_KINDS = BASIC_ACTIVATIONS + ("GELU", "ELU", "SiLU", "Softmax", "LogSoftmax",
                                        "Dropout", "Dropout2d")


@st.composite
def activation_specs(draw, kinds=ACTIVATION_KINDS):
    """Pointwise layers, Flatten, the softmax family and dropout, every field drawn.
    Dropout's p is 0 or 1, where its output does not depend on the mask (the four
    paths draw their masks from different generators), and any p in eval mode."""
    c = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(kinds))
    extra = [draw(st.integers(1, 3)) for _ in range(2)] if kind == "Dropout2d" else draw(
        st.lists(st.integers(1, 3), max_size=2))
    shape = (c,) + tuple(extra)
    ndim = len(shape) + 1                                  # the batch axis included
    if kind == "Flatten":
        start = draw(st.integers(1, ndim - 1))
        end = draw(st.integers(start, ndim - 1))
        return A.Flatten(start_dim=start if draw(st.booleans()) else start - ndim,
                         end_dim=end if draw(st.booleans()) else end - ndim), shape
    if kind in ("Softmax", "LogSoftmax"):
        return getattr(A, kind)(dim=draw(st.integers(-ndim, ndim - 1))), shape
    if kind == "GELU":
        return A.GELU(approximate=draw(st.sampled_from(["none", "tanh"]))), shape
    if kind == "ELU":
        return A.ELU(alpha=draw(st.sampled_from([1.0, 0.3, 2.5, 0.0]))), shape
    if kind in ("Dropout", "Dropout2d"):
        return getattr(A, kind)(p=draw(st.sampled_from([0.0, 1.0]))), shape
    if kind == "LeakyReLU":
        return A.LeakyReLU(negative_slope=draw(st.sampled_from([0.01, 0.2, -0.5, 1.5, 0.0]))), shape
    if kind == "PReLU":
        num = draw(st.sampled_from([1, c]))
        init = draw(st.sampled_from([0.25, -0.3, 0.0, 1.5]))
        return A.PReLU(num_parameters=num, init=init), shape
    return getattr(A, kind)(), shape


@st.composite
def adaptive_specs(draw):
    """Adaptive pooling to an int or a pair (entries may be None: keep that size), on a
    (C, H, W) input smaller than, equal to or larger than the output."""
    cls = draw(st.sampled_from([A.AdaptiveAvgPool2d, A.AdaptiveMaxPool2d]))
    size = draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    side = st.integers(1, 4)
    output_size = draw(st.one_of(side, st.tuples(st.none() | side, st.none() | side)))
    return cls(output_size=output_size), size


@st.composite
def sequence_specs(draw):
    """Rows on a (C, H, W) image, or an RNN/LSTM/GRU spec on a (steps, features) sequence,
    every field drawn (one or two layers, either direction, last step or whole output)."""
    kind = draw(st.sampled_from(["Rows", "RNN", "LSTM", "GRU"]))
    if kind == "Rows":
        return A.Rows(), tuple(draw(st.integers(1, 3)) for _ in range(3))
    fields = dict(hidden_size=draw(st.integers(1, 3)), num_layers=draw(st.integers(1, 2)),
                  bias=draw(st.booleans()), bidirectional=draw(st.booleans()),
                  last_step=draw(st.booleans()))
    if kind == "RNN":
        fields["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    return getattr(A, kind)(**fields), (draw(st.integers(1, 4)), draw(st.integers(1, 3)))


# Every spec class and the fields its strategy draws (test_module_args checks this list
# against the dataclass fields, so a new field must be drawn here to pass).
SPEC_STRATEGIES = {
    A.Conv2d: conv_specs(), A.MaxPool2d: max_pool_specs(), A.AvgPool2d: avg_pool_specs(),
    A.BatchNorm1d: batch_norm_specs(), A.BatchNorm2d: batch_norm_specs(),
    A.Linear: linear_specs(), A.ReLU: activation_specs(), A.LeakyReLU: activation_specs(),
    A.PReLU: activation_specs(), A.Sigmoid: activation_specs(), A.Tanh: activation_specs(),
    A.Flatten: activation_specs(), A.GELU: activation_specs(), A.ELU: activation_specs(),
    A.SiLU: activation_specs(), A.Softmax: activation_specs(), A.LogSoftmax: activation_specs(),
    A.Dropout: activation_specs(), A.Dropout2d: activation_specs(),
    A.AdaptiveAvgPool2d: adaptive_specs(), A.AdaptiveMaxPool2d: adaptive_specs(),
    A.Rows: sequence_specs(), A.RNN: sequence_specs(), A.LSTM: sequence_specs(),
}
DRAWN_FIELDS = {
    A.Conv2d: {"out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias",
               "padding_mode"},
    A.MaxPool2d: {"kernel_size", "stride", "padding", "dilation", "ceil_mode"},
    A.AvgPool2d: {"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                  "divisor_override"},
    A.BatchNorm1d: {"eps", "momentum", "affine", "track_running_stats", "bias"},
    A.BatchNorm2d: {"eps", "momentum", "affine", "track_running_stats", "bias"},
    A.Linear: {"out_features", "bias"}, A.LeakyReLU: {"negative_slope"},
    A.PReLU: {"num_parameters", "init"}, A.ReLU: set(), A.Sigmoid: set(), A.Tanh: set(),
    A.Flatten: {"start_dim", "end_dim"}, A.GELU: {"approximate"}, A.ELU: {"alpha"},
    A.SiLU: set(), A.Softmax: {"dim"}, A.LogSoftmax: {"dim"}, A.Dropout: {"p"},
    A.Dropout2d: {"p"}, A.AdaptiveAvgPool2d: {"output_size"},
    A.AdaptiveMaxPool2d: {"output_size"}, A.Rows: set(),
    A.RNN: {"hidden_size", "num_layers", "nonlinearity", "bias", "bidirectional", "last_step"},
    A.LSTM: {"hidden_size", "num_layers", "bias", "bidirectional", "last_step"},
}
# sequences and attention: GRU (in sequence_specs) and the vision-transformer specs
@st.composite
def transformer_specs(draw):
    """A vision-transformer spec with every field drawn, on its per-sample input: Patches
    on (C, H, W); ClassToken, PositionEmbedding, FirstToken, LayerNorm and
    TransformerEncoderLayer on (tokens, features). The encoder's dropout is drawn as 0
    only: its attention-weight masks cannot be shared with torch (the twin refuses)."""
    kind = draw(st.sampled_from(["Patches", "ClassToken", "PositionEmbedding", "FirstToken",
                                 "LayerNorm", "TransformerEncoderLayer"]))
    if kind == "Patches":
        return A.Patches(), tuple(draw(st.integers(1, 3)) for _ in range(3))
    tokens = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    if kind == "LayerNorm":
        return A.LayerNorm(eps=draw(st.sampled_from([1e-5, 1e-3])),
                           elementwise_affine=draw(st.booleans()),
                           bias=draw(st.booleans())), tokens
    if kind == "TransformerEncoderLayer":
        heads = draw(st.integers(1, 3))
        tokens = (tokens[0], heads * draw(st.integers(1, 2)))
        return A.TransformerEncoderLayer(
            heads, dim_feedforward=draw(st.integers(1, 4)), dropout=0.0,
            activation=draw(st.sampled_from(["relu", "gelu"])),
            layer_norm_eps=draw(st.sampled_from([1e-5, 1e-3])),
            norm_first=draw(st.booleans()), bias=draw(st.booleans())), tokens
    return getattr(A, kind)(), tokens


SPEC_STRATEGIES.update({A.GRU: sequence_specs(), **dict.fromkeys(
    (A.Patches, A.ClassToken, A.PositionEmbedding, A.FirstToken, A.LayerNorm,
     A.TransformerEncoderLayer), transformer_specs())})
DRAWN_FIELDS.update({
    A.GRU: {"hidden_size", "num_layers", "bias", "bidirectional", "last_step"},
    A.Patches: set(), A.ClassToken: set(), A.PositionEmbedding: set(), A.FirstToken: set(),
    A.LayerNorm: {"eps", "elementwise_affine", "bias"},
    A.TransformerEncoderLayer: {"nhead", "dim_feedforward", "dropout", "activation",
                                "layer_norm_eps", "norm_first", "bias"}})
SPEC_FAMILIES = {"conv": conv_specs(), "max_pool": max_pool_specs(),
                 "avg_pool": avg_pool_specs(), "batch_norm": batch_norm_specs(),
                 "linear": linear_specs(), "activation": activation_specs(),
                 "leaky_relu": activation_specs(kinds=("LeakyReLU",)),
                 "prelu": activation_specs(kinds=("PReLU",)), "adaptive_pool": adaptive_specs(),
                 "sequence": sequence_specs(), "transformer": transformer_specs(),
                 "activation_options": activation_specs(
                     kinds=("GELU", "ELU", "Flatten", "Softmax", "LogSoftmax"))}
LAYER_SPECS = st.one_of(*SPEC_FAMILIES.values())


# 1-D convolution and max pooling specs (the sequence-of-rows networks), registered with
# the other spec strategies.
def _maybe_one_tuple(draw, v):
    return (v,) if draw(st.booleans()) else v


@st.composite
def conv1d_specs(draw):
    """Conv1d with every field drawn on a fitting (C, L): one axis of :func:`window_corner`,
    padding also 'valid' or 'same' (stride 1), every padding mode that fits."""
    size, k, s, p, d, _, _ = draw(window_corner(pool=False, ceil_mode=False))
    groups = draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["int", "valid", "same"])) if s == 1 else "int"
    if padding != "int":   # no padding to rely on: at least one window without any
        p, size = padding, max(size, d * (k - 1) + 1)
    width = {"int": p, "valid": 0, "same": d * (k - 1) - d * (k - 1) // 2}[padding]
    modes = ["zeros", "replicate"] + (["reflect"] if width < size else []) + (
        ["circular"] if width <= size else [])
    spec = A.Conv1d(out_channels=groups * draw(st.integers(1, 2)),
                    kernel_size=_maybe_one_tuple(draw, k), stride=_maybe_one_tuple(draw, s),
                    padding=p if isinstance(p, str) else _maybe_one_tuple(draw, p),
                    dilation=_maybe_one_tuple(draw, d), groups=groups,
                    bias=draw(st.booleans()), padding_mode=draw(st.sampled_from(modes)))
    return spec, (groups * draw(st.integers(1, 2)), size)


@st.composite
def max_pool1d_specs(draw):
    ceil_mode, default_stride = draw(st.booleans()), draw(st.booleans())
    size, k, s, p, d, _, _ = draw(window_corner(pool=True, ceil_mode=ceil_mode,
                                                stride_is_kernel=default_stride))
    # ints only: scratch's MaxPool1d refuses the one-int tuples torch's also takes
    spec = A.MaxPool1d(kernel_size=k, stride=None if default_stride else s, padding=p,
                       dilation=d, ceil_mode=ceil_mode)
    return spec, (draw(st.integers(1, 2)), size)


SPEC_STRATEGIES.update({A.Conv1d: conv1d_specs(), A.MaxPool1d: max_pool1d_specs()})
DRAWN_FIELDS.update({
    A.Conv1d: {"out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias",
               "padding_mode"},
    A.MaxPool1d: {"kernel_size", "stride", "padding", "dilation", "ceil_mode"},
})
SPEC_FAMILIES.update({"conv1d": conv1d_specs(), "max_pool1d": max_pool1d_specs()})


# Transposed convolution specs (the autoencoder's decoder), registered the same way.
@st.composite
def conv_transpose2d_specs(draw):
    """ConvTranspose2d with every field drawn, each axis on a fitting size: output_padding
    below the stride or the dilation (torch's rule), padding small enough that at least one
    output position is left."""
    axes = []
    for _ in range(2):
        n, k, s, d = (draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3)),
                      draw(st.integers(1, 2)))
        op = draw(st.integers(0, max(s, d) - 1))
        full = (n - 1) * s + d * (k - 1) + op            # the output size minus one at p = 0
        axes.append((n, k, s, draw(st.integers(0, full // 2)), op, d))
    size, k, s, p, op, d = (tuple(a[i] for a in axes) for i in range(6))
    k, s, p, op, d = (_int_or_pair(draw, v) for v in (k, s, p, op, d))
    groups = draw(st.integers(1, 2))
    spec = A.ConvTranspose2d(out_channels=groups * draw(st.integers(1, 2)), kernel_size=k,
                             stride=s, padding=p, output_padding=op, groups=groups,
                             bias=draw(st.booleans()), dilation=d)
    return spec, (groups * draw(st.integers(1, 2)), *size)


SPEC_STRATEGIES[A.ConvTranspose2d] = conv_transpose2d_specs()
DRAWN_FIELDS[A.ConvTranspose2d] = {"out_channels", "kernel_size", "stride", "padding",
                                   "output_padding", "groups", "bias", "dilation"}
SPEC_FAMILIES["conv_transpose"] = conv_transpose2d_specs()
