"""Embedding against torch: the lookup and its gradient (repeated indices add up,
padding_idx gets none, scale_grad_by_freq divides by the count), max_norm's in-place
renormalisation (the weight after forward is compared too), indices of any shape
(0-d and empty included), float64 and float32; finite differences; repr, state_dict,
initialisation and refusals.

Tolerance: a row of the weight gradient sums as many rows of dout as its index occurs
(``K`` = the largest count); the lookup itself is exact; max_norm's rescaled rows carry
the rounding of a norm over ``embedding_dim`` terms (``K = dim``).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given

from parity_tests import sequence_strategies as Q
from parity_tests.helpers import (
    assert_close,
    assert_parity,
    check,
    dtypes,
    upstream,
)
from parity_tests.sequence_helpers import torch_dtype
from scratch import functional as F
from scratch import nn


def largest_count(indices):
    return int(np.bincount(indices.ravel()).max(initial=1)) if indices.size else 1


def clear_of_max_norm(case):
    """True when no used row's norm lies within 1e-4 (relative) of max_norm: there float32
    rounding of the norm could decide differently on the two sides whether to rescale."""
    if case.max_norm is None or not case.indices.size:
        return True
    rows = case.weight[np.unique(case.indices)]
    norms = np.linalg.norm(rows, ord=case.norm_type, axis=1)
    return bool(np.all(np.abs(norms - case.max_norm) > 1e-4 * case.max_norm))


@dtypes
@given(case=Q.embedding_cases())
def test_embedding_matches_torch(case, dtype):
    """The functional pair: lookup, padding_idx and scale_grad_by_freq (no max_norm)."""
    weight = case.weight.astype(dtype)
    pad = None if case.padding_idx is None else case.padding_idx % len(weight)
    out, cache = F.embedding_forward(case.indices, weight, pad, case.scale_grad_by_freq)
    dout = upstream(case.seed, out.shape, dtype)
    dweight = F.embedding_backward(dout, cache)
    tw = torch.tensor(weight, requires_grad=True)
    t_out = TF.embedding(torch.from_numpy(case.indices), tw, case.padding_idx,
                         scale_grad_by_freq=case.scale_grad_by_freq)
    t_out.backward(torch.from_numpy(dout))
    assert_parity(dict(out=out, dweight=dweight), dict(out=t_out, dweight=tw.grad), dtype,
                  dict(dweight=largest_count(case.indices)))


@given(case=Q.embedding_cases())
def test_embedding_backward_matches_finite_differences(case):
    """The true derivative of the lookup (padding_idx and scale_grad_by_freq deliberately
    change the gradient, so they are checked against torch only)."""
    assume(case.indices.size)

    def forward(weight):
        out, cache = F.embedding_forward(case.indices, weight)
        return (out,), cache

    check(forward, lambda douts, cache: (F.embedding_backward(douts[0], cache),),
                       case.weight)


@dtypes
@given(case=Q.embedding_cases())
def test_embedding_module_matches_torch(case, dtype):
    """Every constructor argument in torch's order; with max_norm the weight is renormalised
    in place by forward (compared after forward) before the lookup."""
    assume(dtype == np.float64 or clear_of_max_norm(case))
    num, dim = case.weight.shape
    args = (num, dim, case.padding_idx, case.max_norm, case.norm_type, case.scale_grad_by_freq)
    layer = nn.Embedding(*args, dtype=dtype)
    twin = torch.nn.Embedding(*args, dtype=torch_dtype(dtype))
    assert repr(layer) == repr(twin)
    weight = case.weight.astype(dtype)
    layer.load_state_dict({"weight": weight})
    twin.load_state_dict({"weight": torch.from_numpy(weight.copy())})
    out = layer(case.indices)
    dout = upstream(case.seed, out.shape, dtype)
    assert layer.backward(dout) is None
    t_out = twin(torch.from_numpy(case.indices))
    t_out.backward(torch.from_numpy(dout))
    k = largest_count(case.indices) * (dim if case.max_norm is not None else 1)
    assert_parity(dict(out=out, weight=layer.weight.data, dweight=layer.weight.grad),
                  dict(out=t_out, weight=twin.weight, dweight=twin.weight.grad), dtype,
                  dict(out=dim, weight=dim, dweight=k))


def test_max_norm_rescales_only_the_rows_looked_up_and_only_when_over():
    """Rows 0 (norm 5, used) and 2 (norm 5, unused) and row 1 (norm 0.5, used) with
    max_norm=1: only row 0 changes, to norm 1 / (1 + 1e-7) * ... = max_norm / (5 + 1e-7) * 5."""
    weight = np.array([[3.0, 4.0], [0.3, 0.4], [3.0, 4.0]])
    layer = nn.Embedding(3, 2, max_norm=1.0, _weight=weight.copy())
    layer(np.array([0, 1, 0]))
    assert_close(layer.weight.data[0], weight[0] * (1.0 / (5 + 1e-7)), 1e-15, name="row 0")
    np.testing.assert_array_equal(layer.weight.data[1:], weight[1:])


def test_repeated_indices_add_their_gradients():
    layer = nn.Embedding(4, 2, dtype=np.float64)
    layer(np.array([1, 3, 1, 1]))
    dout = np.arange(8.0).reshape(4, 2)
    layer.backward(dout)
    np.testing.assert_array_equal(layer.weight.grad, [[0, 0], [0 + 4 + 6, 1 + 5 + 7], [0, 0],
                                                      [2, 3]])


def test_embedding_initialisation_is_standard_normal_with_the_padding_row_zeroed():
    layer = nn.Embedding(1000, 100, padding_idx=-2, generator=0)
    w = layer.weight.data
    assert w.dtype == np.float32 and layer.padding_idx == 998
    assert not w[998].any() and w[999].all()
    rest = np.delete(w, 998, axis=0).astype(np.float64)
    n = rest.size
    assert abs(rest.mean()) < 5 / np.sqrt(n)
    assert abs(rest.std() - 1) < 5 * np.sqrt(0.5 / n)
    again = nn.Embedding(1000, 100, padding_idx=-2, generator=0).weight.data
    np.testing.assert_array_equal(again, w)


def test_state_dict_and_repr_equal_torchs():
    for kwargs in (dict(), dict(padding_idx=0, max_norm=1.5, norm_type=1.0,
                                scale_grad_by_freq=True)):
        mine, theirs = nn.Embedding(5, 3, **kwargs), torch.nn.Embedding(5, 3, **kwargs)
        assert repr(mine) == repr(theirs)
        assert [(k, v.shape) for k, v in mine.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


BAD = [
    (lambda: nn.Embedding(3, 2)(np.zeros(2)), TypeError, "Long, Int"),
    (lambda: nn.Embedding(3, 2)(np.array([0, 3])), IndexError, "index out of range in self"),
    (lambda: nn.Embedding(3, 2)(np.array([-1])), IndexError, "index out of range in self"),
    (lambda: nn.Embedding(3, 2)([0, 1]), TypeError, "NumPy integer array"),
    (lambda: nn.Embedding(3, 2, padding_idx=3), AssertionError, "Padding_idx must be within"),
    (lambda: nn.Embedding(3, 2, padding_idx=-4), AssertionError, "Padding_idx must be within"),
    (lambda: nn.Embedding(3, 2, sparse=True), NotImplementedError, "sparse=True"),
    (lambda: nn.Embedding(3, 2, _weight=np.zeros((2, 2))), AssertionError,
     "Shape of weight does not match"),
    (lambda: nn.Embedding(0, 2), ValueError, "num_embeddings must be a positive int"),
    (lambda: nn.Embedding(3, 2).backward(np.zeros((1, 2), np.float32)), RuntimeError,
     "before forward"),
    (lambda: (lambda m: (m(np.array([0])), m.backward(np.zeros((2, 2), np.float32))))(
        nn.Embedding(3, 2)), ValueError, r"dout of shape \(1, 2\)"),
]


@pytest.mark.parametrize("call, error, pattern", BAD)
def test_bad_embedding_arguments_and_input_are_refused(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


@pytest.mark.parametrize("make, indices", [
    (lambda lib: lib.Embedding(3, 2), np.zeros(2)),
    (lambda lib: lib.Embedding(3, 2), np.array([0, 3])),
    (lambda lib: lib.Embedding(3, 2, padding_idx=3), None)])
def test_embedding_refuses_what_torch_refuses(make, indices):
    for lib, wrap in ((torch.nn, torch.from_numpy), (nn, lambda a: a)):
        with pytest.raises(Exception):  # noqa: B017  (the types are compared in BAD)
            layer = make(lib)
            layer(wrap(indices))
