"""Whole architectures, valid by construction: small CNNs, CNNs drawing the torch
options of their layers, deep stacks built by walking the shape, residual blocks and
networks of them."""
from __future__ import annotations

from hypothesis import strategies as st

from parity_tests.strategies.corners import _all_padding_window
from parity_tests.strategies.options import PAD_MODES
from parity_tests.strategies.specs import BASIC_ACTIVATIONS, BN_EPS, BN_MOMENTA, activation_specs
from scratch import arch as A

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
