"""interpolate and Upsample (nearest, linear, bilinear; size or scale_factor;
align_corners; recompute_scale_factor) against torch.

The functional pair and the modules (repr, output, input gradient with a random
upstream gradient), finite differences, torch's refusals. Budget: an output
mixes at most four inputs, and an input's gradient sums the outputs that read it
(at most about ``out / in + 1`` per axis, K below).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import (
    assert_module_matches_torch,
    assert_pair_matches_torch,
    assert_refused_alike,
    check,
    dtypes,
    spread,
)
from scratch import functional as F
from scratch import nn

FACTORS = st.sampled_from([2.0, 0.5, 1.5, 3.0, 1.7, 0.6, 1.0])


@st.composite
def interpolate_cases(draw):
    mode = draw(st.sampled_from(["nearest", "linear", "bilinear"]))
    spatial = {"linear": 1, "bilinear": 2}.get(mode) or draw(st.integers(1, 2))
    sizes = tuple(draw(st.integers(1, 5)) for _ in range(spatial))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + sizes
    kw = dict(mode=mode)
    if mode != "nearest":
        kw["align_corners"] = draw(st.sampled_from([None, False, True]))
    if draw(st.booleans(), label="by size"):
        out = tuple(draw(st.integers(1, 7)) for _ in range(spatial))
        kw["size"] = out if spatial > 1 or draw(st.booleans()) else out[0]
    else:
        factors = tuple(draw(FACTORS) for _ in range(spatial))
        factors = tuple(max(f, 1.0 / n) for f, n in zip(factors, sizes))   # output >= 1
        kw["scale_factor"] = factors if spatial > 1 or draw(st.booleans()) else factors[0]
        kw["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    return shape, kw


def budget(shape, out_shape):
    return 4 * int(np.prod([max(o // i, 1) + 1 for i, o in zip(shape[2:], out_shape[2:])]))


@dtypes
@given(case=interpolate_cases(), data=st.data())
def test_interpolate_matches_torch(case, data, dtype):
    shape, kw = case
    x = data.draw(S.array(shape), label="x").astype(dtype)
    assert_pair_matches_torch(lambda x: F.interpolate_forward(x, **kw), F.interpolate_backward,
                              lambda x: TF.interpolate(x, **kw), dict(x=x), dtype,
                              data.draw(S.SEEDS),
                              lambda out: dict(out=4, dx=budget(shape, out.shape)))


@dtypes
@given(case=interpolate_cases(), data=st.data())
def test_upsample_module_matches_torch(case, data, dtype):
    shape, kw = case
    args = (kw.get("size"), kw.get("scale_factor"), kw["mode"], kw.get("align_corners"),
            kw.get("recompute_scale_factor"))
    mine, theirs = nn.Upsample(*args), torch.nn.Upsample(*args)
    assert repr(mine) == repr(theirs)
    x = data.draw(S.array(shape), label="x").astype(dtype)
    out_shape = F.interpolate_forward(x, **kw)[0].shape
    assert_module_matches_torch(mine, theirs, x, dtype, data.draw(S.SEEDS),
                                budget(shape, out_shape))


@pytest.mark.parametrize("cls", ["UpsamplingNearest2d", "UpsamplingBilinear2d"])
@pytest.mark.parametrize("args", [((5, 3),), (None, 2), (None, (1.5, 2.0))], ids=str)
def test_fixed_mode_upsampling_layers_match_torch(cls, args):
    mine, theirs = getattr(nn, cls)(*args), getattr(torch.nn, cls)(*args)
    assert repr(mine) == repr(theirs)
    x = np.random.default_rng(0).standard_normal((2, 3, 3, 4))
    assert_module_matches_torch(mine, theirs, x, np.float64, 1, 8)


@given(case=interpolate_cases(), seed=S.SEEDS)
def test_interpolate_backward_matches_finite_differences(case, seed):
    shape, kw = case
    check(lambda x: F.interpolate_forward(x, **kw), F.interpolate_backward,
          spread(shape, seed))


ERRORS = [
    ("size_and_scale", lambda m: m.Upsample(4, 2.0)(np.zeros((1, 1, 3))), ValueError),
    ("neither", lambda m: m.Upsample()(np.zeros((1, 1, 3))), ValueError),
    ("align_corners_nearest", lambda m: m.Upsample(4, None, "nearest", True)(
        np.zeros((1, 1, 3))), ValueError),
    ("bilinear_3d", lambda m: m.Upsample(4, None, "bilinear")(np.zeros((1, 1, 3))),
     NotImplementedError),
    ("size_length", lambda m: m.Upsample((4, 4))(np.zeros((1, 1, 3))), ValueError),
    ("recompute_with_size", lambda m: m.Upsample(4, None, "nearest", None, True)(
        np.zeros((1, 1, 3))), ValueError),
]


@pytest.mark.parametrize("call, error", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_arguments_are_refused_as_torch_refuses_them(call, error):
    assert_refused_alike(call, error)


def test_modes_scratch_lacks_are_refused_when_built():
    with pytest.raises(ValueError, match=r"Upsample: mode must be one of 'nearest', 'linear', "
                                         r"'bilinear' \(scratch has no 'bicubic' resampling\)"):
        nn.Upsample(scale_factor=2, mode="bicubic")


@dtypes
@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("recompute", [None, True])
def test_scale_factor_not_the_size_ratio_places_the_samples(mode, recompute, dtype):
    """5 * 1.7 gives 8 outputs; torch reads at multiples of 1 / 1.7, not of 5 / 8, unless
    recompute_scale_factor asks for the ratio of the sizes."""
    x = np.arange(10.0).reshape(1, 2, 5).astype(dtype)
    kw = dict(scale_factor=1.7, mode=mode, recompute_scale_factor=recompute)
    assert_pair_matches_torch(lambda x: F.interpolate_forward(x, **kw), F.interpolate_backward,
                              lambda x: TF.interpolate(x, **kw), dict(x=x), dtype, 2,
                              dict(out=4, dx=8))
