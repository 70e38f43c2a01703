"""Hypothesis strategies for the parity suite, all valid by construction.

Geometry (kernel, stride, padding, dilation) is drawn first, then an input
size that fits it, so nothing is rejected. Sizes stay small so failures shrink
to a few elements. Values are bounded, exactly representable in float32 (so
the float32 and float64 runs see the same numbers) and often repeated, so
pooling windows hold ties and ReLU inputs hold exact zeros. Upstream
gradients come from a drawn seed: random normal, never all ones.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scratch import arch as A

# Values that make ties and exact zeros likely, mixed with arbitrary float32s.
_TIE_VALUES = st.sampled_from([0.0, 1.0, -1.0, 0.5, -2.0])
INPUT_VALUES = st.one_of(_TIE_VALUES, st.floats(-4, 4, width=32))
WEIGHT_VALUES = st.one_of(st.sampled_from([0.0, 0.5, -0.25]), st.floats(-1, 1, width=32))
SEEDS = st.integers(0, 2**32 - 1)


def array(shape, values=INPUT_VALUES):
    """float64 array strategy; cast to float32 exactly (the values are float32)."""
    return hnp.arrays(np.float64, shape, elements=values)


@st.composite
def window_axis(draw, max_kernel=3, max_stride=3, max_dilation=2, pool=False,
                ceil_mode=False):
    """(size, kernel, stride, padding, dilation) for one spatial axis, always valid.

    Pooling limits padding to half the kernel, as torch does.
    """
    k = draw(st.integers(1, max_kernel))
    d = draw(st.integers(1, max_dilation))
    s = draw(st.integers(1, max_stride))
    p = draw(st.integers(0, k // 2 if pool else 2))
    span = d * (k - 1) + 1
    # A dilated pooling window must not fall entirely into the padding: an input at
    # least as long as the window guarantees that (scratch refuses it otherwise).
    smallest = max(1, span if pool and d > 1 else span - 2 * p)
    size = draw(st.integers(smallest, smallest + 5))
    return size, k, s, p, d


@dataclass
class ConvCase:
    stride: tuple
    padding: tuple
    dilation: tuple
    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    seed: int
    groups: int = 1


@st.composite
def conv_cases(draw, max_groups=1):
    """A valid conv: x (N, C, H, W), w (F, C/groups, kh, kw), b (F,) or None."""
    h, kh, sh, ph, dh = draw(window_axis())
    w_, kw, sw, pw, dw = draw(window_axis())
    groups = draw(st.integers(1, max_groups))
    per_group = st.integers(1, 3 if groups == 1 else 2)
    n, c_g, f_g = draw(st.integers(1, 2)), draw(per_group), draw(per_group)
    f = f_g * groups
    bias = draw(st.booleans())
    return ConvCase(
        stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw),
        x=draw(array((n, c_g * groups, h, w_))), w=draw(array((f, c_g, kh, kw), WEIGHT_VALUES)),
        b=draw(array((f,), WEIGHT_VALUES)) if bias else None, seed=draw(SEEDS), groups=groups)


@dataclass
class PoolCase:
    kernel_size: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    ceil_mode: bool
    x: np.ndarray
    seed: int


@st.composite
def pool_cases(draw, max_dilation=2):
    h, kh, sh, ph, dh = draw(window_axis(max_dilation=max_dilation, pool=True))
    w, kw, sw, pw, dw = draw(window_axis(max_dilation=max_dilation, pool=True))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    return PoolCase(kernel_size=(kh, kw), stride=(sh, sw), padding=(ph, pw),
                    dilation=(dh, dw), ceil_mode=draw(st.booleans()),
                    x=draw(array((n, c, h, w))), seed=draw(SEEDS))


@st.composite
def batch_shapes(draw, min_dims=2, max_dims=4, min_batch=1):
    """(N, C, ...) with 2 to 4 dims, small."""
    ndim = draw(st.integers(min_dims, max_dims))
    return (draw(st.integers(min_batch, 4)), draw(st.integers(1, 4))) + tuple(
        draw(st.integers(1, 4)) for _ in range(ndim - 2))


@st.composite
def pointwise_inputs(draw, values=INPUT_VALUES):
    """An input of 2 to 4 dims and an upstream-gradient seed."""
    return draw(array(draw(batch_shapes()), values)), draw(SEEDS)


@st.composite
def linear_cases(draw, max_lead_dims=1):
    """(x (*, in), weight (out, in), bias (out,) or None, seed); ``*`` is 0 to
    ``max_lead_dims`` axes (1: the classic (N, in))."""
    if max_lead_dims == 1:
        lead = (draw(st.integers(1, 4)),)
    else:                                                        # 1-D x included
        lead = tuple(draw(st.lists(st.integers(1, 3), max_size=max_lead_dims)))
    fin, fout = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    bias = draw(st.booleans())
    return (draw(array(lead + (fin,))), draw(array((fout, fin), WEIGHT_VALUES)),
            draw(array((fout,), WEIGHT_VALUES)) if bias else None, draw(SEEDS))


@st.composite
def classification_cases(draw, max_abs_logit=4.0):
    """(logits (N, K), targets (N,), seed); targets always in range."""
    n, k = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    values = st.one_of(_TIE_VALUES, st.floats(-max_abs_logit, max_abs_logit, width=32))
    logits = draw(array((n, k), values))
    target = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)),
                      dtype=np.int64)
    return logits, target, draw(SEEDS)


ACTIVATION_SPECS = st.sampled_from([A.ReLU(), A.LeakyReLU(0.1), A.Sigmoid(), A.Tanh(),
                                    A.PReLU(), A.GELU(), A.GELU("tanh"), A.ELU(0.5), A.SiLU()])


@st.composite
def architectures(draw):
    """A small valid CNN: conv [BN] act pool, flatten, linear [BN] act, linear.

    Input 6..9 pixels a side, 3x3-or-smaller kernels with padding 1 and a 2x2 pool
    always fit, so no drawn architecture is invalid.
    """
    c_in, size = draw(st.integers(1, 2)), draw(st.integers(6, 9))
    groups = draw(st.sampled_from([1, c_in]))          # c_in = 2 allows a grouped conv
    channels, hidden = groups * draw(st.integers(1, 3)), draw(st.integers(2, 6))
    layers = [("conv", A.Conv2d(channels, draw(st.integers(1, 3)), padding=1,
                                stride=draw(st.integers(1, 2)), groups=groups))]
    if draw(st.booleans()):
        layers.append(("bn", A.BatchNorm2d()))
    layers.append(("act", draw(ACTIVATION_SPECS)))
    layers.append(("pool", draw(st.sampled_from([A.MaxPool2d(2), A.AvgPool2d(2),
                                                A.MaxPool2d(3, 2, 1, ceil_mode=True)]))))
    layers += [("flatten", A.Flatten()), ("fc1", A.Linear(hidden))]
    if draw(st.booleans()):
        layers.append(("bn1", A.BatchNorm1d()))
    layers += [("act1", draw(ACTIVATION_SPECS)), ("fc2", A.Linear(draw(st.integers(2, 5))))]
    return A.Architecture(input_shape=(c_in, size, size), layers=tuple(layers))


@dataclass
class RecurrentCase:
    """A recurrent layer's configuration and an input that fits it.

    ``x`` is (L, N, H_in), (N, L, H_in) with ``batch_first``, or (L, H_in) when
    ``batch`` is None; ``seed`` draws weights, initial states and upstream gradients.
    """
    mode: str                # "RNN_TANH", "RNN_RELU" or "LSTM"
    input_size: int
    hidden_size: int
    num_layers: int
    bias: bool
    batch_first: bool
    bidirectional: bool
    steps: int
    batch: int | None
    initial_state: bool
    x: np.ndarray
    seed: int

    @property
    def kwargs(self) -> dict:
        """Constructor arguments shared by scratch and torch (nonlinearity for RNN)."""
        kw = dict(num_layers=self.num_layers, bias=self.bias, batch_first=self.batch_first,
                  bidirectional=self.bidirectional)
        if self.mode != "LSTM":
            kw["nonlinearity"] = "relu" if self.mode == "RNN_RELU" else "tanh"
        return kw


@st.composite
def recurrent_cases(draw, modes=("RNN_TANH", "RNN_RELU", "LSTM"), max_steps=5,
                    max_layers=2, bidirectional=True):
    """Sizes, layers, directions, batch_first and bias first, then an input of 1 to
    ``max_steps`` steps and batch 1..3 or unbatched; values in [-1, 1] with ties and zeros."""
    mode = draw(st.sampled_from(modes))
    d_in, hidden = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    layers = draw(st.integers(1, max_layers))
    batch_first, bias = draw(st.booleans()), draw(st.booleans())
    bidir = draw(st.booleans()) if bidirectional else False
    steps = draw(st.integers(1, max_steps))
    batch = draw(st.one_of(st.none(), st.integers(1, 3)))
    shape = ((steps, d_in) if batch is None
             else (batch, steps, d_in) if batch_first else (steps, batch, d_in))
    values = st.one_of(st.sampled_from([0.0, 1.0, -1.0, 0.5]), st.floats(-1, 1, width=32))
    return RecurrentCase(mode, d_in, hidden, layers, bias, batch_first, bidir, steps, batch,
                         draw(st.booleans()), draw(array(shape, values)), draw(SEEDS))


# --------------------------------------------------------------------------- losses, dropout
@dataclass
class LossCase:
    """A valid classification loss call: logits (C,), (N, C) or (N, C, d1, ...) and
    a target of class indices (some set to ``ignore_index``) or of probabilities."""
    logits: np.ndarray
    target: np.ndarray
    weight: np.ndarray | None
    ignore_index: int
    label_smoothing: float
    reduction: str
    seed: int

    @property
    def probabilities(self) -> bool:
        return self.target.dtype.kind == "f"


@st.composite
def loss_cases(draw, probabilities=True, smoothing=True, min_batch=0, max_abs_logit=4.0):
    """Form first (unbatched, batched, K-dim), then classes, then a fitting target.

    ``ignore_index`` is the default -100, a class inside [0, C) or a value above
    it, and some targets take it (all of them now and then: 'mean' is then NaN).
    """
    form = draw(st.sampled_from(["unbatched", "batched", "kdim"]))
    c = draw(st.integers(1, 5))
    if form == "unbatched":
        index_shape, logits_shape = (), (c,)
    else:
        n = draw(st.integers(min_batch if form == "batched" else max(min_batch, 1), 4))
        extra = (tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(1, 2))))
                 if form == "kdim" else ())
        index_shape, logits_shape = (n, *extra), (n, c, *extra)
    values = st.one_of(_TIE_VALUES, st.floats(-max_abs_logit, max_abs_logit, width=32))
    logits = draw(array(logits_shape, values))
    weight_values = st.sampled_from([0.0, 0.5, 1.0, 2.0]) | st.floats(0.125, 2, width=32)
    weight = draw(array((c,), weight_values)) if draw(st.booleans()) else None
    eps = draw(st.sampled_from([0.0, 0.0, 0.1, 1.0]) | st.floats(0, 1, width=32)
               ) if smoothing else 0.0
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    seed = draw(SEEDS)
    if probabilities and draw(st.booleans()):
        target = draw(array(logits_shape, st.sampled_from([0.0, 1.0, 0.25]) | st.floats(
            0, 1, width=32)))
        return LossCase(logits, target, weight, -100, eps, reduction, seed)
    ignore_index = draw(st.sampled_from([-100, 0, c - 1, c, c + 3]))
    size = int(np.prod(index_shape))
    classes = draw(st.lists(st.integers(0, c - 1), min_size=size, max_size=size))
    target = np.array(classes, dtype=np.int64).reshape(index_shape)
    ignored = np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size)), bool)
    target[ignored.reshape(index_shape)] = ignore_index
    return LossCase(logits, target, weight, ignore_index, eps, reduction, seed)


@st.composite
def dropout_cases(draw, channelwise=False):
    """(x, p, mask seed, upstream seed): x of 2 to 4 dims (4 for channel-wise); p often 0 or 1."""
    shape = draw(batch_shapes(min_dims=4 if channelwise else 2))
    p = draw(st.sampled_from([0.0, 0.5, 1.0, 0.25]) | st.floats(0, 1, width=32))
    return draw(array(shape)), p, draw(SEEDS), draw(SEEDS)


def fewer_examples(fraction: float):
    """``@settings`` running ``fraction`` of the active profile's examples (at least 3):
    for properties whose every example is costly (whole models, many steps) or whose
    input space is small, so the ``ci`` profile stays fast and ``thorough`` still
    scales them up."""
    return settings(max_examples=max(3, round(settings.default.max_examples * fraction)))


def more_examples(factor: float):
    """``@settings`` running ``factor`` times the active profile's examples: for cheap
    properties (microseconds an example) whose failing corner is a small part of the
    input space."""
    return settings(max_examples=round(settings.default.max_examples * factor))


# --------------------------------------------------------------------------- layer options
PAD_MODES = ("zeros", "reflect", "replicate", "circular")


@st.composite
def pad_cases(draw, mode=None, small=False):
    """(x (N, C, H, W), pad (left, right, top, bottom), F.pad mode, seed), each pad within
    the mode's limit: reflect < size, circular <= size, constant/replicate up to 3."""
    mode = mode or draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))

    def side(size):
        limit = {"reflect": size - 1, "circular": size}.get(mode, 3)
        return draw(st.integers(0, min(limit, 3)))

    pad = (side(w), side(w), side(h), side(h))
    n, c = (1, 1) if small else (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    return draw(array((n, c, h, w))), pad, mode, draw(SEEDS)


@dataclass
class ConvModuleCase:
    """Everything ``Conv2d(in, out, kernel_size, stride, padding, dilation, groups, bias,
    padding_mode)`` takes, and an input that fits it (batched or unbatched)."""
    in_channels: int
    out_channels: int
    kernel_size: tuple
    stride: tuple
    padding: object
    dilation: tuple
    groups: int
    bias: bool
    padding_mode: str
    x: np.ndarray
    seed: int


@st.composite
def conv_module_cases(draw, modes=PAD_MODES, small=False):
    """A Conv2d configuration with any padding form and padding_mode, and a fitting input.

    Padding is an int, a pair, 'valid' or 'same' (stride 1); sizes are drawn so the
    window fits and the padding mode's limit holds (reflect pads less than the size,
    circular at most the size). ``small``: one sample, no groups, for finite differences."""
    mode = draw(st.sampled_from(modes))
    form = draw(st.sampled_from(["int", "pair", "valid", "same"]))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    s = (1, 1) if form == "same" else (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if form == "int":
        padding = draw(st.integers(0, 2))
        pads = (padding, padding)
    elif form == "pair":
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        pads = padding
    else:
        padding = form
        pads = tuple(-(-d_ * (k_ - 1) // 2) if form == "same" else 0 for k_, d_ in zip(k, d))
    size = []
    for p, k_, d_ in zip(pads, k, d):
        span = d_ * (k_ - 1) + 1
        low = {"reflect": p + 1, "circular": p, "replicate": 1}.get(mode, 1)
        low = max(low, span - 2 * p, 1)
        size.append(draw(st.integers(low, low + (1 if small else 3))))
    groups = 1 if small else draw(st.sampled_from([1, 2]))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    batches = [(), (1,)] if small else [(), (1,), (2,)]         # () is unbatched (C, H, W)
    batch = draw(st.sampled_from(batches))
    return ConvModuleCase(c_in, c_out, k, s, padding, d, groups, draw(st.booleans()), mode,
                          draw(array(batch + (c_in, *size))), draw(SEEDS))


@st.composite
def adaptive_cases(draw, max_side=7):
    """(x (N, C, H, W) or (C, H, W), output_size, seed): output sizes below, equal to and
    above the input size (windows then overlap), entries None or not."""
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    entry = st.one_of(st.none(), st.integers(1, max_side + 1))
    output_size = draw(st.one_of(st.integers(1, max_side + 1), st.tuples(entry, entry)))
    batch = draw(st.sampled_from([(), (1,), (2,)] if max_side > 4 else [(), (1,)]))
    return draw(array(batch + (draw(st.integers(1, 3)), h, w))), output_size, draw(SEEDS)


@st.composite
def option_architectures(draw):
    """A small CNN drawing the torch options of conv, pooling, batch norm and flatten:
    conv (any padding form and mode) [BN, tracked or not] ReLU pool-of-any-kind flatten
    (all, or axes 1-2 with a second Flatten(-2) after fc1) linear [BN1d] ReLU linear.
    Inputs 6..8 a side keep every draw valid."""
    c_in, size = draw(st.integers(1, 2)), draw(st.integers(6, 8))
    padding = draw(st.sampled_from([0, 1, (1, 0), "same", "valid"]))
    stride = 1 if padding == "same" else draw(st.integers(1, 2))
    layers = [("conv", A.Conv2d(draw(st.integers(1, 3)), 3, stride, padding,
                                padding_mode=draw(st.sampled_from(PAD_MODES)),
                                bias=draw(st.booleans())))]
    if draw(st.booleans()):
        layers.append(("bn", A.BatchNorm2d(track_running_stats=draw(st.booleans()),
                                           affine=draw(st.booleans()),
                                           bias=draw(st.booleans()))))
    layers.append(("act", A.ReLU()))
    layers.append(("pool", draw(st.sampled_from([
        A.MaxPool2d(2, 2, 1, 1, ceil_mode=True), A.AvgPool2d(3, 2, 1, divisor_override=4),
        A.AdaptiveAvgPool2d((2, None)), A.AdaptiveAvgPool2d(1), A.AdaptiveMaxPool2d(3)]))))
    partial = draw(st.booleans())        # Flatten(1, 2): fc1 then acts on each row's W axis
    layers += [("flatten", A.Flatten(1, 2) if partial else A.Flatten()),
               ("fc1", A.Linear(draw(st.integers(2, 5))))]
    if draw(st.booleans()):
        layers.append(("bn1", A.BatchNorm1d(track_running_stats=draw(st.booleans()))))
    layers.append(("act1", A.ReLU()))
    if partial:
        layers.append(("flatten2", A.Flatten(-2)))
    layers.append(("fc2", A.Linear(draw(st.integers(2, 4)))))
    return A.Architecture(input_shape=(c_in, size, size), layers=tuple(layers))


# --------------------------------------------------------------------------- hardening
# Strategies added for the suite-hardening properties (test_module_args, test_state,
# test_arch_shapes, test_corners, test_numerics) and the bug catalogue.

# Values with a per-channel offset and spread: arbitrary float32s, near-constant
# channels (spread 1e-3 against an offset of 1e4) and large offsets, where a one-pass
# variance E[x^2] - E[x]^2 cancels catastrophically.
OFFSETS = st.sampled_from([0.0, 0.0, 3.0, -250.0, 1e4, -6e4])
SPREADS = st.sampled_from([1.0, 1.0, 1e-2, 1e-3])


@st.composite
def offset_channels(draw, shape):
    """float64 array (N, C, ...) exactly representable in float32: channel c holds
    ``offset_c + spread_c * z`` with z arbitrary float32s in [-1, 1]."""
    c = shape[1]
    offsets = np.array([draw(OFFSETS) for _ in range(c)])
    spreads = np.array([draw(SPREADS) for _ in range(c)])
    z = draw(array(shape, st.floats(-1, 1, width=32)))
    view = (1, c) + (1,) * (len(shape) - 2)
    x = offsets.reshape(view) + spreads.reshape(view) * z
    return x.astype(np.float32).astype(np.float64)


# Special cases of torch's sliding-window geometry along one axis, each aimed at on
# purpose (see window_corner): the tests record which occurred with hypothesis.event().
WINDOW_CORNERS = ("plain", "one_output", "overhang", "ceil_dropped", "stride_over_kernel",
                  "full_padding")


def axis_corners(size, k, s, p, d, ceil_mode):
    """The corner cases a valid one-axis geometry realises (a set of WINDOW_CORNERS names)."""
    span = d * (k - 1) + 1
    total = size + 2 * p - span
    floor_out = total // s + 1
    ceil_out = -(-total // s) + 1
    found = set()
    out = ceil_out if ceil_mode else floor_out
    if ceil_mode and (ceil_out - 1) * s >= size + p:
        found.add("ceil_dropped")
        out -= 1
    if ceil_mode and (out - 1) * s + span > size + 2 * p:
        found.add("overhang")
    if out == 1:
        found.add("one_output")
    if s > span:
        found.add("stride_over_kernel")
    if p and p == k // 2:
        found.add("full_padding")
    return found


def _all_padding_window(size, k, s, p, d, ceil_mode):
    """Whether some window reads only padding (torch: -inf for max pooling)."""
    span = d * (k - 1) + 1
    total = size + 2 * p - span
    out = (-(-total // s) if ceil_mode else total // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    index = np.arange(out)[:, None] * s + np.arange(k) * d - p
    return not ((index >= 0) & (index < size)).any(axis=1).all()


@st.composite
def window_corner(draw, pool=True, max_dilation=2, ceil_mode=None, allow_all_padding=None,
                  stride_is_kernel=False):
    """``(size, k, s, p, d, ceil_mode, corners)`` for one axis, aimed at a drawn corner.

    A corner is drawn first (each equally likely), then geometry that allows it,
    then an input size among those that realise it (computed, never rejected).
    ``corners`` is the set :func:`axis_corners` finds in the result. Windows lying
    entirely in the padding are avoided for pooling (scratch refuses them) unless
    ``allow_all_padding``; a convolution may have them (its output there is the bias).
    ``stride_is_kernel`` gives pooling's default stride (``stride=None``).
    """
    if allow_all_padding is None:
        allow_all_padding = not pool
    corners = WINDOW_CORNERS[1:] + (("all_padding",) if allow_all_padding and pool
                                    and max_dilation > 1 else ())
    want = draw(st.sampled_from(corners))
    ceil_corner = want in ("overhang", "ceil_dropped")
    k = draw(st.integers(2 if ceil_corner or want == "all_padding" else 1, 3))
    d = 2 if want == "all_padding" else draw(st.integers(1, max_dilation))
    span = d * (k - 1) + 1
    if stride_is_kernel:
        s = k
    elif want == "stride_over_kernel":
        s = draw(st.integers(span + 1, span + 2))
    else:
        s = draw(st.integers(2 if ceil_corner else 1, 3))
    max_p = k // 2 if pool else 2
    p = max_p if want in ("full_padding", "all_padding") else draw(st.integers(0, max_p))
    if ceil_mode is None:
        ceil_mode = True if ceil_corner else draw(st.booleans())
    smallest = max(1, span - 2 * p)
    sizes = [n for n in range(smallest, smallest + 2 * s + 4)
             if allow_all_padding or not _all_padding_window(n, k, s, p, d, ceil_mode)]
    hits = [n for n in sizes if want in axis_corners(n, k, s, p, d, ceil_mode)
            or want == "all_padding" and _all_padding_window(n, k, s, p, d, ceil_mode)]
    size = draw(st.sampled_from(hits or sizes))
    return size, k, s, p, d, ceil_mode, axis_corners(size, k, s, p, d, ceil_mode)


@st.composite
def corner_pool_cases(draw, max_dilation=2):
    """A PoolCase whose height axis aims at a drawn corner (width: another drawn corner);
    ``case.corners`` names those realised on either axis."""
    h, kh, sh, ph, dh, ceil_mode, c1 = draw(window_corner(max_dilation=max_dilation))
    w, kw, sw, pw, dw, _, c2 = draw(window_corner(max_dilation=max_dilation,
                                                  ceil_mode=ceil_mode))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    case = PoolCase(kernel_size=(kh, kw), stride=(sh, sw), padding=(ph, pw),
                    dilation=(dh, dw), ceil_mode=ceil_mode, x=draw(array((n, c, h, w))),
                    seed=draw(SEEDS))
    case.corners = c1 | c2
    return case


# Layer specs with every field drawn, each with a per-sample input shape that fits.
def _geometry_pair(draw, pool):
    """Kernel, stride, padding, dilation drawn as an int or a pair, with a fitting (H, W)."""
    axes = [draw(window_corner(pool=pool, ceil_mode=False)) for _ in range(2)]
    size = tuple(a[0] for a in axes)
    k, s, p, d = (tuple(a[i] for a in axes) for i in (1, 2, 3, 4))

    def maybe_int(v):
        return v[0] if v[0] == v[1] and draw(st.booleans()) else v
    return size, maybe_int(k), maybe_int(s), maybe_int(p), maybe_int(d)


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


@st.composite
def deep_architectures(draw, max_blocks=3):
    """A valid CNN of 1-3 drawn blocks (conv, pool, batch norm, activation, any order and
    fields), then flatten and 1-2 linear layers: built by walking the shape, so it is
    valid by construction. The input may be as small as one pixel a side."""
    c, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 7)), draw(st.integers(1, 7))
    layers, shape = [], (c, h, w)
    for i in range(draw(st.integers(1, max_blocks))):
        kind = draw(st.sampled_from(["conv", "max", "avg", "bn", "act"]))
        if kind in ("conv", "max", "avg"):
            ceil_mode = draw(st.booleans())
            default_stride = kind != "conv" and draw(st.booleans())
            axes = []
            for size in shape[1:]:
                k = draw(st.integers(1, 3))
                d = draw(st.integers(1, 2)) if kind != "avg" else 1
                p = draw(st.integers(0, k // 2 if kind != "conv" else 2))
                s = draw(st.integers(1, 3))
                span = d * (k - 1) + 1
                if default_stride:
                    s = k
                if kind != "conv" and _all_padding_window(size, k, s, p, d, ceil_mode):
                    p = 0
                if size + 2 * p < span:                  # shrink the window to fit
                    k, d = 1, 1                          # (after the padding is final)
                    p = 0 if kind != "conv" else p
                    s = k if default_stride else s
                axes.append((k, s, p, d))
            k, s, p, d = (tuple(a[j] for a in axes) for j in range(4))
            if kind == "conv":
                spec = A.Conv2d(draw(st.integers(1, 3)), k, s, p, d, bias=draw(st.booleans()))
            elif kind == "max":
                spec = A.MaxPool2d(k, None if default_stride else s, p, d, ceil_mode)
            else:
                spec = A.AvgPool2d(k, None if default_stride else s, p, ceil_mode,
                                   draw(st.booleans()))
        elif kind == "bn":
            spec = A.BatchNorm2d(draw(BN_EPS), draw(BN_MOMENTA), draw(st.booleans()))
        else:
            spec, _ = draw(activation_specs(kinds=BASIC_ACTIVATIONS))
            if isinstance(spec, A.Flatten):
                spec = A.ReLU()
            if isinstance(spec, A.PReLU):
                spec = A.PReLU(draw(st.sampled_from([1, shape[0]])), spec.init)
        layers.append((f"{kind}{i}", spec))
        shape = spec.output_shape(shape)
    layers.append(("flatten", A.Flatten()))
    for j in range(draw(st.integers(1, 2))):
        layers.append((f"fc{j}", A.Linear(draw(st.integers(1, 4)), draw(st.booleans()))))
    return A.Architecture(input_shape=(c, h, w), layers=tuple(layers))


# --------------------------------------------------------------------------- residual blocks
@st.composite
def residual_blocks(draw, in_channels: int):
    """A Residual block for ``in_channels`` input channels, valid on any size by
    construction: a body of conv (kernel 1 or 3, padding keeping the size, stride 1 or 2),
    optional batch norm, optionally an activation and a second 3x3 conv (and batch norm);
    the identity shortcut when neither stride nor channels change, else (and sometimes
    anyway) a projection: a 1x1 conv of the body's stride, with or without batch norm.
    Both branches then give floor((size - 1) / stride) + 1 a side. ReLU after the sum or
    not."""
    out = draw(st.integers(1, 3))
    stride = draw(st.sampled_from([1, 2]))
    k = draw(st.sampled_from([1, 3]))
    body = [("conv1", A.Conv2d(out, k, stride, padding=k // 2, bias=draw(st.booleans())))]
    if draw(st.booleans()):
        body.append(("bn1", A.BatchNorm2d()))
    if draw(st.booleans()):
        body += [("act1", draw(ACTIVATION_SPECS)),
                 ("conv2", A.Conv2d(out, 3, padding=1, bias=draw(st.booleans())))]
        if draw(st.booleans()):
            body.append(("bn2", A.BatchNorm2d()))
    shortcut = ()
    if stride != 1 or out != in_channels or draw(st.booleans()):
        shortcut = (("conv", A.Conv2d(out, 1, stride, bias=draw(st.booleans()))),)
        if draw(st.booleans()):
            shortcut += (("bn", A.BatchNorm2d()),)
    return A.Residual(tuple(body), shortcut, relu=draw(st.booleans()))


@st.composite
def residual_architectures(draw, max_blocks=2):
    """An optional conv stem, 1-2 drawn residual blocks (:func:`residual_blocks`), optional
    global average pooling, flatten and a linear layer, on an input of 1-6 pixels a side."""
    c, size = draw(st.integers(1, 3)), draw(st.integers(1, 6))
    layers, shape = [], (c, size, size)
    if draw(st.booleans()):
        layers.append(("stem", A.Conv2d(draw(st.integers(1, 3)), 3, padding=1)))
        shape = layers[-1][1].output_shape(shape)
    for i in range(draw(st.integers(1, max_blocks))):
        block = draw(residual_blocks(shape[0]))
        layers.append((f"block{i + 1}", block))
        shape = block.output_shape(shape)
    if draw(st.booleans()):
        layers.append(("pool", A.AdaptiveAvgPool2d(1)))
    layers += [("flatten", A.Flatten()), ("fc", A.Linear(draw(st.integers(2, 4))))]
    return A.Architecture(input_shape=(c, size, size), layers=tuple(layers))


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
