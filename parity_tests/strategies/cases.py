"""Functional-pair cases: one axis of window geometry and the conv, pooling, linear,
classification and recurrent cases built on it (geometry first, then an input that fits)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from parity_tests.strategies.values import _TIE_VALUES, SEEDS, WEIGHT_VALUES, array


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


@st.composite
def transposed_axis(draw, max_kernel=3, max_size=4):
    """(size, kernel, stride, padding, output_padding, dilation) with a positive output
    and output_padding below stride or dilation, as torch requires."""
    k, s, d = draw(st.integers(1, max_kernel)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    op = draw(st.integers(0, max(s, d) - 1))
    size = draw(st.integers(1, max_size))
    reach = (size - 1) * s + d * (k - 1) + op + 1
    p = draw(st.integers(0, min(2, (reach - 1) // 2)))
    return size, k, s, p, op, d


@st.composite
def transposed_cases(draw, spatial, max_kernel=3, max_size=4, max_batch=2):
    """A valid transposed conv: x (N, C, *size), w (C, F/groups, *kernel), b (F,) or None,
    ``[stride, padding, output_padding, dilation]`` (pairs for ``spatial`` 2), groups, a
    seed."""
    axes = [draw(transposed_axis(max_kernel, max_size), label=f"axis {i}")
            for i in range(spatial)]
    groups = draw(st.integers(1, 2))
    c, f = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    n = draw(st.integers(1, max_batch))
    x = draw(array((n, c, *(a[0] for a in axes))), label="x")
    w = draw(array((c, f // groups, *(a[1] for a in axes)), WEIGHT_VALUES), label="w")
    b = draw(array((f,), WEIGHT_VALUES), label="b") if draw(st.booleans()) else None
    geometry = [tuple(a[i] for a in axes) for i in (2, 3, 4, 5)]   # stride, pad, op, dil
    if spatial == 1:
        geometry = [g[0] for g in geometry]
    return x, w, b, geometry, groups, draw(SEEDS)
