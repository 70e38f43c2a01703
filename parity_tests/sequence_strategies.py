"""Hypothesis strategies of the sequence and attention parity tests, valid by construction
(sizes first, then arrays that fit them)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from parity_tests import strategies as S


def spread(shape, seed):
    """Distinct values 0.1 apart in random order: no ties, so no row of a layer norm is
    constant and finite differences are well conditioned."""
    size = int(np.prod(shape))
    values = (np.random.default_rng(seed).permutation(size) - size / 2 + 0.5) * 0.1
    return values.reshape(shape)


class LayerNormCase(NamedTuple):
    x: np.ndarray
    shape: tuple            # normalized_shape
    weight: np.ndarray | None
    bias: np.ndarray | None
    eps: float
    seed: int


@st.composite
def layer_norm_cases(draw, spread_values=False):
    """normalized_shape of 1-2 axes of 1-4, 0-3 leading axes of 1-3 (0 leading axes: the
    input is one sample of exactly normalized_shape), weight and bias each present or not."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)))
    lead = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=3)))
    seed = draw(S.SEEDS)
    x = spread(lead + shape, seed) if spread_values else draw(S.array(lead + shape))
    weight, bias = (draw(S.array(shape, S.WEIGHT_VALUES)) if draw(st.booleans()) else None
                    for _ in range(2))
    eps = draw(st.sampled_from([1e-5, 1e-3, 0.5]))
    return LayerNormCase(x, shape, weight, bias, eps, seed)


class EmbeddingCase(NamedTuple):
    indices: np.ndarray     # int64, any shape (size 0 included)
    weight: np.ndarray      # (num_embeddings, dim), float64 values representable in float32
    padding_idx: int | None  # as the module takes it: negative counts from the end
    max_norm: float | None
    norm_type: float
    scale_grad_by_freq: bool
    seed: int


@st.composite
def embedding_cases(draw):
    """Few rows and many lookups, so indices repeat (their gradients must add up)."""
    num, dim = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=3)))
    indices = np.array(draw(st.lists(st.integers(0, num - 1), min_size=int(np.prod(shape)),
                                     max_size=int(np.prod(shape)))), np.int64).reshape(shape)
    weight = draw(S.array((num, dim), st.floats(-2, 2, width=32))).astype(np.float64)
    padding_idx = draw(st.none() | st.integers(-num, num - 1))
    max_norm = draw(st.none() | st.sampled_from([0.5, 1.0, 2.0]))
    norm_type = draw(st.sampled_from([2.0, 2.0, 1.0, 3.0, float("inf")]))
    return EmbeddingCase(indices, weight, padding_idx, max_norm, norm_type,
                         draw(st.booleans()), draw(S.SEEDS))
