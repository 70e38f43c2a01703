"""The numbers and shapes every strategy draws from: bounded values, exactly
representable in float32 and often tied; seeds for upstream gradients; small batch
shapes; values with a per-channel offset and spread; the example-count settings."""
from __future__ import annotations

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# Values that make ties and exact zeros likely, mixed with arbitrary float32s.
_TIE_VALUES = st.sampled_from([0.0, 1.0, -1.0, 0.5, -2.0])
INPUT_VALUES = st.one_of(_TIE_VALUES, st.floats(-4, 4, width=32))
WEIGHT_VALUES = st.one_of(st.sampled_from([0.0, 0.5, -0.25]), st.floats(-1, 1, width=32))
SEEDS = st.integers(0, 2**32 - 1)


def array(shape, values=INPUT_VALUES):
    """float64 array strategy; cast to float32 exactly (the values are float32)."""
    return hnp.arrays(np.float64, shape, elements=values)


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
