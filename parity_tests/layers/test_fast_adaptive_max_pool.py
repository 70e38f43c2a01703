"""Adaptive max pooling whose windows tile the input (:mod:`scratch.backends.fast.pooling`)
equals the plain loop over windows, bit for bit, and torch.

The general tests (test_pooling.py, test_pooling1d.py) draw sizes that tile now and
then; here every draw tiles, with ties (the array strategy repeats values), NaN,
infinities and signed zeros, batched and unbatched, 2-D and 1-D, with and without
indices. The fast path copies values where the plain path copies them and adds a
gradient onto zero where the plain path adds it, so the output, the indices and the
input gradient are the same bytes.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.fast_path_helpers import assert_bitwise_equal, plain, with_specials
from parity_tests.helpers import assert_pair_matches_torch, dtypes, upstream
from scratch import functional as F
from scratch.backends import fast
from scratch.backends.fast import pooling as fast_pooling
from scratch.functional.pooling import AdaptiveMaxPool2dCache


@pytest.fixture(autouse=True)
def fast_on():
    """The fast paths on for every test here, also in a run with SCRATCH_FAST_PATHS=0."""
    with fast.flags(enabled=True):
        yield


@st.composite
def tiled_inputs(draw, spatial=2):
    """(x, output_size, seed): x (lead..., H, W) (or (lead..., L)) whose sizes are
    multiples of the output's."""
    out = [draw(st.integers(1, 3)) for _ in range(spatial)]
    tile = [draw(st.integers(1, 4)) for _ in range(spatial)]
    lead = draw(st.sampled_from([(2,), (1, 3), (2, 2)]))
    x = draw(S.array((*lead, *(o * t for o, t in zip(out, tile)))), label="x")
    return x, (tuple(out) if spatial == 2 else out[0]), draw(S.SEEDS)


PAIRS = {1: (F.adaptive_max_pool1d_forward, F.adaptive_max_pool1d_backward),
         2: (F.adaptive_max_pool2d_forward, F.adaptive_max_pool2d_backward)}


@dtypes
@pytest.mark.parametrize("spatial", [1, 2])
@given(data=st.data(), return_indices=st.booleans())
def test_adaptive_max_pool_tiles_equal_the_plain_path_bit_for_bit(spatial, data,
                                                                  return_indices, dtype):
    x, output_size, seed = data.draw(tiled_inputs(spatial), label="case")
    x = with_specials(data, x.astype(dtype))
    forward, backward = PAIRS[spatial]
    out, cache = forward(x, output_size, return_indices)
    p_out, p_cache = plain(forward, x, output_size, return_indices)
    assert isinstance(cache, fast_pooling.AdaptiveTileCache)
    assert isinstance(p_cache, AdaptiveMaxPool2dCache)
    if return_indices:
        (out, indices), (p_out, p_indices) = out, p_out
        assert_bitwise_equal(indices, p_indices, "indices")
    assert_bitwise_equal(out, p_out, "out")
    dout = with_specials(data, upstream(seed, out.shape, dtype))
    assert_bitwise_equal(backward(dout, cache), plain(backward, dout, p_cache), "dx")


@dtypes
@pytest.mark.parametrize("spatial", [1, 2])
@given(data=st.data())
def test_adaptive_max_pool_tiles_match_torch_indices_included(spatial, data, dtype):
    x, output_size, seed = data.draw(tiled_inputs(spatial), label="case")
    x = x.astype(dtype)
    forward, backward = PAIRS[spatial]
    torch_fn = TF.adaptive_max_pool2d if spatial == 2 else TF.adaptive_max_pool1d
    out, cache = assert_pair_matches_torch(
        lambda x: forward(x, output_size), backward, lambda x: torch_fn(x, output_size),
        dict(x=x), dtype, seed)    # K = 1: no overlap, each element in one window
    assert isinstance(cache, fast_pooling.AdaptiveTileCache)
    (_, indices), _ = forward(x, output_size, True)
    _, t_indices = torch_fn(torch.from_numpy(x), output_size, True)
    np.testing.assert_array_equal(indices, t_indices.numpy())


@pytest.mark.parametrize("size, output_size, switch, tiles", [
    ((6, 4), (3, 2), True, True), ((6, 4), (3, 2), False, False),
    ((5, 4), (3, 2), True, False), ((6, 4), (6, 4), True, True),
    ((6, 4), (7, 4), True, False), ((6, 4), (1, None), True, True),
    ((36, 1), (1, 1), True, True), ((37, 1), (1, 1), True, False),   # 36 taps, then 37
    ((12, 12), (1, 1), True, False), ((6, 4), (0, 2), True, False)])
def test_the_tile_path_is_taken_exactly_when_the_windows_tile(size, output_size, switch,
                                                             tiles):
    x = np.arange(2 * size[0] * size[1], dtype=np.float64).reshape(2, *size)
    with fast.flags(enabled=switch):
        _, cache = F.adaptive_max_pool2d_forward(x, output_size)
    assert isinstance(cache, fast_pooling.AdaptiveTileCache) == tiles


def test_an_empty_output_and_global_pooling_give_the_plain_result():
    """Output size 0 (functional calls only: the modules refuse it) and one tile of the
    whole plane, both left to the plain path: its result, as torch's."""
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8))
    for size in ((0, 0), (1, 1)):
        out, cache = F.adaptive_max_pool2d_forward(x, size)
        p_out, _ = plain(F.adaptive_max_pool2d_forward, x, size)
        assert isinstance(cache, AdaptiveMaxPool2dCache)
        assert_bitwise_equal(out, p_out, "out")
        assert out.shape == tuple(TF.adaptive_max_pool2d(torch.from_numpy(x), size).shape)
