"""Loss and dropout cases: classification losses in every form (class indices with
``ignore_index``, probabilities, weights, smoothing) and dropout inputs with p often 0 or 1."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from parity_tests.strategies.values import _TIE_VALUES, SEEDS, array, batch_shapes


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
