"""Layer options: every ``F.pad`` mode, Conv2d with every padding form and
``padding_mode``, adaptive pooling to sizes below, equal to and above the input's."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from parity_tests.strategies.values import SEEDS, array

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
