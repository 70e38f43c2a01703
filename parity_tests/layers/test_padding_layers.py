"""Padding layers, PixelShuffle/PixelUnshuffle and Unflatten against torch.

Every padding class with drawn padding (an int or a tuple, negative entries that
crop, pads up to each mode's limit) on batched and unbatched input, through the
module (repr, output, input gradient with a random upstream gradient) and the
functional pair against ``torch.nn.functional.pad``; the rearranging layers with
drawn factors and leading axes; finite differences for the pad's adjoint; torch's
refusals. These layers only copy and add, so the budget is one term (K = 1) and
for a padded element the number of positions that copied it.
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
    TORCH_DTYPE,
    assert_module_matches_torch,
    assert_pair_matches_torch,
    assert_refused_alike,
    check,
    dtypes,
    spread,
)
from scratch import functional as F
from scratch import nn

MODES = {"ZeroPad": "constant", "ConstantPad": "constant", "ReflectionPad": "reflect",
         "ReplicationPad": "replicate", "CircularPad": "circular"}


@st.composite
def axis_pads(draw, mode):
    """(size, before, after) valid for ``mode``: reflect under the size, circular at most
    what is left after cropping (torch crops first, then wraps), negative entries
    (crops) leaving at least one element."""
    size = draw(st.integers(2 if mode == "reflect" else 1, 4))
    limit = {"reflect": size - 1, "circular": size}.get(mode, 3)
    before, after = (draw(st.integers(-1, limit)) for _ in range(2))
    after = max(after, 1 - size - before)
    if mode == "circular":
        kept = size - max(-before, 0) - max(-after, 0)
        if kept < 1:
            before, after = max(before, 0), max(after, 0)
            kept = size
        before, after = min(before, kept), min(after, kept)
    return size, before, after


@st.composite
def pad_cases(draw, family, axes):
    """(layer args, input shape): 1 or 2 padded axes after 1 or 2 leading ones."""
    mode = MODES[family]
    drawn = [draw(axis_pads(mode), label=f"axis {i}") for i in range(axes)]
    sizes = tuple(size for size, _, _ in reversed(drawn))
    pads = tuple(v for _, before, after in drawn for v in (before, after))
    if len(set(pads)) == 1 and pads[0] >= 0 and draw(st.booleans(), label="int padding"):
        pads = pads[0]
    lead = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(1, 2))))
    args = (pads,) + ((draw(st.sampled_from([0.0, 1.5, -2.0]), label="value"),)
                      if family == "ConstantPad" else ())
    return args, lead + sizes


CLASSES = [f"{family}{axes}d" for family in MODES for axes in (1, 2)]


@dtypes
@pytest.mark.parametrize("cls", CLASSES)
@S.fewer_examples(1 / 3)
@given(data=st.data())
def test_padding_layer_matches_torch(cls, data, dtype):
    family, axes = cls[:-2], int(cls[-2])
    args, shape = data.draw(pad_cases(family, axes), label="args, shape")
    mine, theirs = getattr(nn, cls)(*args), getattr(torch.nn, cls)(*args)
    assert repr(mine) == repr(theirs)
    x = data.draw(S.array(shape), label="x").astype(dtype)
    copies = 1 + max(abs(p) for p in mine.padding)          # a border element's copies
    assert_module_matches_torch(mine, theirs.to(TORCH_DTYPE[np.dtype(dtype)]), x, dtype,
                                data.draw(S.SEEDS), copies)


@dtypes
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@given(data=st.data())
def test_pad_nd_matches_torch_pad(mode, data, dtype):
    axes = data.draw(st.integers(1, 2), label="axes")
    family = {v: k for k, v in MODES.items()}[mode]
    (pads, *value), shape = data.draw(pad_cases(family, axes), label="pads, shape")
    pads = (pads,) * (2 * axes) if isinstance(pads, int) else pads
    value = value[0] if value else 0.0
    x = data.draw(S.array(shape), label="x").astype(dtype)
    fill = value if mode == "constant" else None
    assert_pair_matches_torch(lambda x: F.pad_nd_forward(x, pads, mode, value), F.pad_nd_backward,
                              lambda x: TF.pad(x, pads, mode, fill), dict(x=x), dtype,
                              data.draw(S.SEEDS), dict(dx=1 + max(map(abs, pads))))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@S.fewer_examples(1 / 3)
@given(data=st.data())
def test_pad_nd_backward_matches_finite_differences(mode, data):
    family = {v: k for k, v in MODES.items()}[mode]
    (pads, *value), shape = data.draw(pad_cases(family, 2), label="pads, shape")
    pads = (pads,) * 4 if isinstance(pads, int) else pads
    check(lambda x: F.pad_nd_forward(x, pads, mode, 1.0), F.pad_nd_backward,
          spread(shape, data.draw(S.SEEDS)))


# --------------------------------------------------------------------------- pixel shuffle
@dtypes
@pytest.mark.parametrize("cls", ["PixelShuffle", "PixelUnshuffle"])
@given(data=st.data())
def test_pixel_shuffle_layers_match_torch(cls, data, dtype):
    r = data.draw(st.integers(1, 3), label="factor")
    lead = tuple(data.draw(st.integers(1, 2)) for _ in range(data.draw(st.integers(0, 2))))
    c, h, w = (data.draw(st.integers(1, 2)) for _ in range(3))
    shape = lead + ((c * r * r, h, w) if cls == "PixelShuffle" else (c, h * r, w * r))
    mine, theirs = getattr(nn, cls)(r), getattr(torch.nn, cls)(r)
    assert repr(mine) == repr(theirs)
    x = data.draw(S.array(shape), label="x").astype(dtype)
    assert_module_matches_torch(mine, theirs, x, dtype, data.draw(S.SEEDS))


@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 3),
                       st.integers(1, 3)), r=st.integers(1, 3), seed=S.SEEDS)
def test_pixel_shuffle_backward_matches_finite_differences(shape, r, seed):
    n, c, h, w = shape
    check(lambda x: F.pixel_shuffle_forward(x, r), F.pixel_shuffle_backward,
          spread((n, c * r * r, h, w), seed))


# --------------------------------------------------------------------------- unflatten
@st.composite
def unflatten_cases(draw):
    ndim = draw(st.integers(1, 3))
    dim = draw(st.integers(-ndim, ndim - 1), label="dim")
    sizes = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(1, 3)))]
    shape = [draw(st.integers(1, 3)) for _ in range(ndim)]
    shape[dim] = int(np.prod(sizes))
    if draw(st.booleans(), label="one -1"):
        sizes[draw(st.integers(0, len(sizes) - 1))] = -1
    form = draw(st.sampled_from([tuple, list]), label="tuple or list")
    return dim, form(sizes), tuple(shape)


@dtypes
@given(case=unflatten_cases(), data=st.data())
def test_unflatten_matches_torch(case, data, dtype):
    dim, sizes, shape = case
    mine, theirs = nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes)
    assert repr(mine) == repr(theirs)
    x = data.draw(S.array(shape), label="x").astype(dtype)
    assert_module_matches_torch(mine, theirs, x, dtype, data.draw(S.SEEDS))


# --------------------------------------------------------------------------- refusals
def z(*shape):
    return np.zeros(shape)


ERRORS = [
    ("reflection1d_4d", lambda m: m.ReflectionPad1d(1)(z(1, 2, 3, 4)), NotImplementedError),
    ("replication2d_2d", lambda m: m.ReplicationPad2d(1)(z(3, 4)), NotImplementedError),
    ("circular1d_4d", lambda m: m.CircularPad1d(1)(z(1, 2, 3, 4)), ValueError),
    ("circular2d_2d", lambda m: m.CircularPad2d(1)(z(3, 4)), ValueError),
    ("reflection_pad_too_big", lambda m: m.ReflectionPad1d((4, 0))(z(2, 4)), RuntimeError),
    ("circular_wraps_twice", lambda m: m.CircularPad1d((5, 0))(z(2, 4)), RuntimeError),
    ("zero_negative_output", lambda m: m.ZeroPad1d((-3, -2))(z(2, 4)), RuntimeError),
    ("pixel_shuffle_channels", lambda m: m.PixelShuffle(2)(z(1, 3, 2, 2)), RuntimeError),
    ("pixel_shuffle_2d", lambda m: m.PixelShuffle(2)(z(4, 2)), RuntimeError),
    ("pixel_unshuffle_height", lambda m: m.PixelUnshuffle(2)(z(1, 3, 3, 2)), RuntimeError),
    ("pixel_unshuffle_width", lambda m: m.PixelUnshuffle(2)(z(1, 3, 2, 3)), RuntimeError),
    ("unflatten_product", lambda m: m.Unflatten(1, (2, 3))(z(2, 5)), RuntimeError),
    ("unflatten_two_minus_ones", lambda m: m.Unflatten(1, (-1, -1))(z(2, 6)), RuntimeError),
    ("unflatten_int_size", lambda m: m.Unflatten(1, 3), TypeError),
    ("unflatten_float_entry", lambda m: m.Unflatten(1, (2, 3.0)), TypeError),
    ("unflatten_dim_range", lambda m: m.Unflatten(3, (1, 2))(z(2, 2)), IndexError),
]


@pytest.mark.parametrize("call, error", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_input_is_refused_as_torch_refuses_it(call, error):
    assert_refused_alike(call, error)


@pytest.mark.parametrize("cls, padding", [("ZeroPad2d", (1, 2)), ("ReflectionPad1d", (1, 2, 3)),
                                          ("ConstantPad1d", "2")])
def test_padding_of_the_wrong_form_is_refused_when_built(cls, padding):
    args = (padding, 0.0) if cls.startswith("Constant") else (padding,)
    with pytest.raises(ValueError, match=rf"{cls}: padding must be an int or a tuple of"):
        getattr(nn, cls)(*args)
