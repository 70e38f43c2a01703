"""The element-wise fast paths of :mod:`scratch.backends.fast` (SmoothL1Loss in
``loss.py``) equal the plain pairs they stand in for, and torch.

How equal:

- SmoothL1Loss: the slope ``clip(d, -beta, beta) / beta`` is the plain path's,
  bit for bit, and so is the input gradient (the plain backward runs on it). A loss
  element is ``0.5 m**2 / beta + (z - m)`` (``z = |d|``, ``m = min(z, beta)``),
  within a few roundings of the plain ``z - 0.5 beta`` outside (within twice the
  suite's budget for one term); the reduced loss sums the squares with ``np.dot``
  and the rest with ``sum``, in another order than the plain sum of the losses
  (within twice the budget for ``K`` terms, ``K`` the element count). NaN,
  infinities and signed zeros are drawn into the input, every shape of
  ``loss_cases`` (0-d, empty, unbatched 1-d) and every reduction.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import loss_cases as L
from parity_tests.fast_path_helpers import (
    assert_bitwise_equal,
    assert_within_twice_the_budget,
    plain,
    with_specials,
)
from parity_tests.helpers import assert_parity, dtypes, torch_run, upstream
from scratch import functional as F
from scratch.backends import fast
from scratch.backends.fast import loss as fast_loss


@pytest.fixture(autouse=True)
def fast_on():
    """The fast paths on for every test here, also in a run with SCRATCH_FAST_PATHS=0."""
    with fast.flags(enabled=True):
        yield


# --------------------------------------------------------------------------- SmoothL1Loss
def _smooth_l1(case, dtype):
    x, target = case.inputs["input"].astype(dtype), case.consts["target"].astype(dtype)
    return x, target, case.options["reduction"], case.options["beta"]


@dtypes
def test_smooth_l1_fast_path_matches_the_plain_path(dtype):
    @given(case=L.elementwise_cases("smooth_l1_loss"), data=st.data())
    def check(case, data):
        x, target, reduction, beta = _smooth_l1(case, dtype)
        x = with_specials(data, x)
        with np.errstate(invalid="ignore", over="ignore"):
            loss, cache = F.smooth_l1_loss_forward(x, target, reduction=reduction, beta=beta)
            p_loss, p_cache = plain(F.smooth_l1_loss_forward, x, target, reduction=reduction,
                                    beta=beta)
            dloss = upstream(case.seed, loss.shape, dtype)
            dx = F.smooth_l1_loss_backward(dloss, cache)
            p_dx = plain(F.smooth_l1_loss_backward, dloss, p_cache)
        assert loss.dtype == np.dtype(dtype) and loss.shape == p_loss.shape
        k = 1 if reduction == "none" else max(x.size, 1)
        assert_within_twice_the_budget(loss, p_loss, dtype, k, "loss")
        assert_bitwise_equal(dx, p_dx, "dinput")
    check()


@dtypes
@given(case=L.elementwise_cases("smooth_l1_loss"))
def test_smooth_l1_fast_path_matches_torch(case, dtype):
    x, target, reduction, beta = _smooth_l1(case, dtype)
    if beta > 0 and x.ndim:
        assert fast_loss.smooth_l1_loss(x - target, beta, reduction) is not None
    with np.errstate(invalid="ignore"):
        loss, cache = F.smooth_l1_loss_forward(x, target, reduction=reduction, beta=beta)
        dloss = upstream(case.seed, loss.shape, dtype)
        dx = F.smooth_l1_loss_backward(dloss, cache)
    t_loss, grads = torch_run(TF.smooth_l1_loss, dict(input=x), dloss, dtype,
                              target=torch.from_numpy(target), reduction=reduction, beta=beta)
    if reduction == "mean" and not x.size:                 # 0 / 0: NaN on both sides
        assert np.isnan(loss) and torch.isnan(t_loss) and dx.shape == x.shape
        return
    k = 1 if reduction == "none" else max(x.size, 1)
    assert_parity(dict(loss=loss, dinput=dx), dict(loss=t_loss, dinput=grads["input"]), dtype,
                  dict(loss=k))
