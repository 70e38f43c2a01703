"""The special cases of torch's sliding-window geometry, aimed at on purpose.

Each strategy here draws a corner first (a ceil_mode window that runs past the
padding, one that ceil_mode drops because it would start in the right padding,
stride larger than the kernel, a single output position, padding of half the
kernel), then geometry and an input size that realise it (see
``strategies.window_corner``), so every ``ci`` run meets each one; hypothesis
``event()`` records which occurred (``pytest --hypothesis-show-statistics``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import event, given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import (
    assert_pair_matches_torch,
    dtypes,
)
from scratch import functional as F
from scratch import nn


def record(corners, prefix=""):
    for corner in sorted(corners):
        event(f"{prefix}corner: {corner}")


@dtypes
@given(case=S.corner_pool_cases())
def test_max_pool2d_corners_match_torch(case, dtype):
    record(case.corners)
    args = (case.kernel_size, case.stride, case.padding, case.dilation)
    assert_pair_matches_torch(
        lambda x: F.max_pool2d_forward(x, *args, case.ceil_mode), F.max_pool2d_backward,
        lambda x: TF.max_pool2d(x, *args, ceil_mode=case.ceil_mode),
        dict(x=case.x.astype(dtype)), dtype, case.seed,
        reductions=dict(dx=int(np.prod(case.kernel_size))))


@dtypes
@given(case=S.corner_pool_cases(max_dilation=1), count_include_pad=st.booleans())
def test_avg_pool2d_corners_match_torch(case, count_include_pad, dtype):
    record(case.corners)
    if "overhang" in case.corners and count_include_pad and any(case.padding):
        event("avg corner: overhang past the padding with count_include_pad")
    args = (case.kernel_size, case.stride, case.padding, case.ceil_mode, count_include_pad)
    k = int(np.prod(case.kernel_size))
    assert_pair_matches_torch(lambda x: F.avg_pool2d_forward(x, *args), F.avg_pool2d_backward,
                              lambda x: TF.avg_pool2d(x, *args), dict(x=case.x.astype(dtype)),
                              dtype, case.seed, reductions=dict(out=k, dx=k))


@dtypes
@given(data=st.data(), seed=S.SEEDS, bias=st.booleans())
def test_conv2d_corners_match_torch(data, seed, bias, dtype):
    (h, kh, sh, ph, dh, _, c1), (w, kw, sw, pw, dw, _, c2) = (
        data.draw(S.window_corner(pool=False, ceil_mode=False), label=a) for a in "hw")
    record(c1 | c2, "conv ")
    x = data.draw(S.array((2, 2, h, w)), label="x").astype(dtype)
    wt = data.draw(S.array((3, 2, kh, kw), S.WEIGHT_VALUES), label="w").astype(dtype)
    b = data.draw(S.array((3,), S.WEIGHT_VALUES), label="b").astype(dtype) if bias else None
    geometry = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))
    k = lambda out: 2 * kh * kw + 2 * out.shape[2] * out.shape[3]  # noqa: E731
    assert_pair_matches_torch(lambda x, w, b: F.conv2d_forward(x, w, b, **geometry),
                              F.conv2d_backward, lambda x, w, b: TF.conv2d(x, w, b, **geometry),
                              dict(x=x, w=wt, b=b), dtype, seed,
                              lambda out: dict(out=k(out), dx=k(out), dw=k(out), db=k(out)))


@given(data=st.data(), ceil_mode=st.booleans())
def test_max_pool2d_refuses_exactly_the_windows_torch_fills_with_minus_inf(data, ceil_mode):
    """Where torch outputs -inf for a finite input (a dilated window that reads only
    padding), scratch refuses with a ValueError naming the cause; otherwise it agrees."""
    axes = [data.draw(S.window_corner(pool=True, ceil_mode=ceil_mode, allow_all_padding=True),
                      label=a) for a in "hw"]
    size = tuple(a[0] for a in axes)
    k, s, p, d = (tuple(a[i] for a in axes) for i in (1, 2, 3, 4))
    x = data.draw(S.array((1, 1, *size)), label="x")
    t_out = TF.max_pool2d(torch.from_numpy(x), k, s, p, d, ceil_mode=ceil_mode)
    torch_minus_inf = bool(torch.isinf(t_out).any())
    event(f"window entirely in padding: {torch_minus_inf}")
    if torch_minus_inf:
        with np.testing.assert_raises_regex(ValueError, "entirely in the padding"):
            nn.MaxPool2d(k, s, p, d, ceil_mode=ceil_mode).forward(x)
    else:
        np.testing.assert_array_equal(nn.MaxPool2d(k, s, p, d, ceil_mode=ceil_mode).forward(x),
                                      t_out.numpy())
