"""Strategies for EmbeddingBag: bags as torch takes them (a (B, L) batch of fixed-length
bags, or a flat (n,) input cut by offsets, empty bags included, with or without the
closing offset), every mode and option, few rows so that indices and maxima repeat."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from parity_tests import strategies as S

# weights with ties (equal values in different rows: max mode's first-entry rule)
TABLE_VALUES = st.one_of(st.sampled_from([0.0, 0.5, -0.5, 1.0]), st.floats(-2, 2, width=32))


class BagCase(NamedTuple):
    input: np.ndarray                 # (B, L) or (n,) int64 indices
    offsets: np.ndarray | None        # (B,) or (B + 1,) with include_last_offset; None for 2-D
    include_last_offset: bool
    weight: np.ndarray                # (num_embeddings, D) float64 (float32 values)
    mode: str
    per_sample_weights: np.ndarray | None   # input's shape, sum mode only
    padding_idx: int | None           # as given to the module (negative counts from the end)
    scale_grad_by_freq: bool
    max_norm: float | None
    norm_type: float
    seed: int


@st.composite
def bag_inputs(draw, num):
    """``(input, offsets, include_last_offset)``: 2-D bags, or 1-D bags cut by offsets
    (offsets start at 0 and never decrease, so bags may be empty)."""
    index = st.integers(0, num - 1)
    if draw(st.booleans(), label="2-D input"):
        b, length = draw(st.integers(0, 3)), draw(st.integers(1, 4))
        flat = draw(st.lists(index, min_size=b * length, max_size=b * length))
        return np.array(flat, np.int64).reshape(b, length), None, False
    n = draw(st.integers(0, 8))
    flat = np.array(draw(st.lists(index, min_size=n, max_size=n)), np.int64)
    cuts = sorted(draw(st.lists(st.integers(0, n), min_size=0, max_size=3)))
    last = draw(st.booleans(), label="include_last_offset")
    offsets = np.array([0, *cuts] + ([n] if last else []), np.int64)
    return flat, offsets, last


@st.composite
def bag_cases(draw, modes=("sum", "mean", "max"), max_norms=(None, 0.5, 1.0, 2.0)):
    num, dim = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    input, offsets, last = draw(bag_inputs(num))
    mode = draw(st.sampled_from(modes), label="mode")
    weight = draw(S.array((num, dim), TABLE_VALUES), label="weight")
    samples = (draw(S.array(input.shape, S.WEIGHT_VALUES), label="per_sample_weights")
               if mode == "sum" and draw(st.booleans()) else None)
    return BagCase(input, offsets, last, weight, mode, samples,
                   draw(st.none() | st.integers(-num, num - 1), label="padding_idx"),
                   mode != "max" and draw(st.booleans(), label="scale_grad_by_freq"),
                   draw(st.sampled_from(max_norms), label="max_norm"),
                   draw(st.sampled_from([2.0, 2.0, 1.0, 3.0, float("inf")]), label="norm_type"),
                   draw(S.SEEDS, label="seed"))
