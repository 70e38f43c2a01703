"""``scratch.indexing.index_add`` does what ``np.add.at`` does: repeated indices add up.

Drawn with many repeats (a few distinct indices for many rows), rows of any
trailing shape, float64 and float32; compared with ``np.add.at`` bit for bit (the
same additions in the same order, on the flattened table), into a table that is
not contiguous too, and with torch's ``index_add_`` to rounding.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scratch.indexing import index_add


@st.composite
def index_add_cases(draw):
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    size = draw(st.integers(1, 6))
    rows = draw(st.integers(0, 30))
    tail = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=4))
    index = draw(hnp.arrays(np.int64, rows, elements=st.integers(0, size - 1)))
    values = st.floats(-1e3, 1e3, width=32)
    out = draw(hnp.arrays(dtype, (size, *tail), elements=values))
    source = draw(hnp.arrays(dtype, (rows, *tail), elements=values))
    return out, index, source


@given(index_add_cases())
def test_index_add_matches_np_add_at(case):
    out, index, source = case
    want = out.copy()
    np.add.at(want, index, source)
    got = index_add(out.copy(), index, source)
    assert got.dtype == out.dtype
    assert got.tobytes() == want.tobytes(), (got, want)


@given(index_add_cases())
def test_index_add_writes_into_a_table_that_is_not_contiguous(case):
    out, index, source = case
    want = out.copy()
    np.add.at(want, index, source)
    strided = np.zeros((out.shape[0], 2, *out.shape[1:]), out.dtype)[:, 1]
    strided[...] = out
    assert index_add(strided, index, source) is strided
    assert strided.tobytes() == want.tobytes(), (strided, want)


@given(index_add_cases())
def test_index_add_matches_torch_index_add(case):
    out, index, source = case
    want = torch.from_numpy(out.copy()).index_add_(0, torch.from_numpy(index),
                                                   torch.from_numpy(source)).numpy()
    got = index_add(out.copy(), index, source)
    rtol = 1e-12 if out.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 1e3 * (len(index) + 1))


@pytest.mark.parametrize("index, error", [
    (np.array([1.7, 2.2]), r"index_add: the index must hold integers, got dtype float64"),
    (np.array([True, False]), r"index_add: the index must hold integers, got dtype bool"),
    (np.array([0, 3]), r"index 3 is out of bounds for axis 0 with size 3"),
    (np.array([-4, 0]), r"index -4 is out of bounds for axis 0 with size 3")])
def test_index_add_refuses_what_np_add_at_refuses_and_names_the_row(index, error):
    out = np.zeros((3, 4))
    with pytest.raises(IndexError, match=error):
        index_add(out, index, np.ones((2, 4)))
    assert not out.any()


def test_index_add_takes_negative_rows_as_np_add_at():
    out, expected = np.zeros((3, 2)), np.zeros((3, 2))
    source = np.arange(6.0).reshape(3, 2)
    index_add(out, np.array([-1, 0, -3]), source)
    np.add.at(expected, np.array([-1, 0, -3]), source)
    np.testing.assert_array_equal(out, expected)
