"""Finite differences as a second, independent oracle (float64).

Each scratch forward/backward pair is wrapped in a ``torch.autograd.Function``
whose forward and backward are the scratch code; ``torch.autograd.gradcheck``
then compares the scratch backward with central differences of the scratch
forward. No torch layer is involved, so a mistake shared by scratch and torch
would still be caught here. Parameters are inputs of the Function, so their
gradients are checked too. Inputs are spread out (distinct values at least 0.1
apart, away from ReLU's kink) so that a step of 1e-6 never crosses a kink or a
pooling tie, where finite differences are meaningless.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import check, spread
from scratch import functional as F


@given(case=S.conv_cases(max_groups=3))
def test_conv2d_backward_matches_finite_differences(case):
    b = case.b if case.b is not None else np.zeros(case.w.shape[0])
    check(F.conv2d_forward, F.conv2d_backward, spread(case.x.shape, case.seed), case.w, b,
          stride=case.stride, padding=case.padding, dilation=case.dilation, groups=case.groups)


@given(case=S.pool_cases())
def test_max_pool2d_backward_matches_finite_differences(case):
    check(F.max_pool2d_forward, F.max_pool2d_backward, spread(case.x.shape, case.seed),
          kernel_size=case.kernel_size, stride=case.stride, padding=case.padding,
          dilation=case.dilation, ceil_mode=case.ceil_mode)


@given(case=S.pool_cases(max_dilation=1), count_include_pad=st.booleans())
def test_avg_pool2d_backward_matches_finite_differences(case, count_include_pad):
    check(F.avg_pool2d_forward, F.avg_pool2d_backward, case.x, kernel_size=case.kernel_size,
          stride=case.stride, padding=case.padding, ceil_mode=case.ceil_mode,
          count_include_pad=count_include_pad)


@given(case=S.linear_cases())
def test_linear_backward_matches_finite_differences(case):
    x, w, b, _ = case
    check(F.linear_forward, F.linear_backward, x, w, b if b is not None else np.zeros(len(w)))


@pytest.mark.parametrize("pair", [
    (F.relu_forward, F.relu_backward), (F.sigmoid_forward, F.sigmoid_backward),
    (F.tanh_forward, F.tanh_backward),
    (lambda x: F.leaky_relu_forward(x, 0.1), F.leaky_relu_backward)],
    ids=["relu", "sigmoid", "tanh", "leaky_relu"])
@given(shape=S.batch_shapes(), seed=S.SEEDS)
def test_activation_backward_matches_finite_differences(pair, shape, seed):
    check(*pair, spread(shape, seed, away_from_zero=True))


@given(shape=S.batch_shapes(), seed=S.SEEDS, per_channel=st.booleans())
def test_prelu_backward_matches_finite_differences(shape, seed, per_channel):
    weight = np.random.default_rng(seed).uniform(-1, 1, shape[1] if per_channel else 1)
    check(F.prelu_forward, F.prelu_backward, spread(shape, seed, away_from_zero=True), weight)


@given(shape=S.batch_shapes(min_batch=2), seed=S.SEEDS, training=st.booleans())
def test_batch_norm_backward_matches_finite_differences(shape, seed, training):
    c = shape[1]
    rng = np.random.default_rng(seed)
    stats = (rng.uniform(-1, 1, c), rng.uniform(0.5, 2, c))

    def forward(x, weight, bias):  # fresh running buffers: the update must not accumulate
        return F.batch_norm_forward(x, weight, bias, stats[0].copy(), stats[1].copy(),
                                    training)

    check(forward, F.batch_norm_backward, spread(shape, seed), rng.uniform(-1, 1, c),
          rng.uniform(-1, 1, c))
