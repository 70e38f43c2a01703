"""Strategies for BatchNorm3d and batch norm's edge cases (zero-size and one-value
batches): constructor arguments in torch's order and inputs valid by construction."""
from __future__ import annotations

from typing import NamedTuple

from hypothesis import strategies as st

from parity_tests import strategies as S

BN_EPS = st.sampled_from([1e-5, 1e-3, 0.5])
BN_MOMENTA = st.sampled_from([0.1, 0.5, 1.0, None])


class BatchNormArgs(NamedTuple):
    """torch's positional arguments after ``num_features``, and the keyword-only bias."""
    eps: float
    momentum: float | None
    affine: bool
    track_running_stats: bool
    bias: bool


@st.composite
def batch_norm_args(draw):
    """Every constructor argument of BatchNorm1d/2d/3d drawn (bias only where torch has it)."""
    return BatchNormArgs(draw(BN_EPS, label="eps"), draw(BN_MOMENTA, label="momentum"),
                         draw(st.booleans(), label="affine"),
                         draw(st.booleans(), label="track_running_stats"),
                         draw(st.booleans() if S.BATCH_NORM_HAS_BIAS else st.just(True),
                              label="bias"))


@st.composite
def volume_shapes(draw, min_batch=1, max_side=3):
    """(N, C, D, H, W) with more than one value per channel (torch's training limit)."""
    shape = (draw(st.integers(min_batch, 3)), draw(st.integers(1, 3)),
             *(draw(st.integers(1, max_side)) for _ in range(3)))
    if shape[0] * shape[2] * shape[3] * shape[4] == 1:
        shape = shape[:4] + (2,)
    return shape
