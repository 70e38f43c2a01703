"""Linear and Flatten against torch: functional pairs on (*, in_features) input
(1-D included), the modules in torch's argument order, Flatten(start_dim, end_dim),
finite differences and refusals."""
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
    cast,
    check,
    dtypes,
    same_state_twins,
)
from scratch import functional as F
from scratch import nn


@dtypes
@given(case=S.linear_cases(max_lead_dims=3))
def test_linear_matches_torch(case, dtype):
    """x of shape (*, in_features): no leading axis (1-D) up to three."""
    x, w, b = cast(*case[:3], dtype=dtype)
    rows, fin = x.size // x.shape[-1], x.shape[-1]
    assert_pair_matches_torch(F.linear_forward, F.linear_backward, TF.linear,
                              dict(x=x, w=w, b=b), dtype, case[3],
                              reductions=dict(out=fin, dx=w.shape[0], dw=rows, db=rows))


@given(case=S.linear_cases(max_lead_dims=3))
def test_linear_on_any_leading_axes_matches_finite_differences(case):
    x, w, b, _ = case
    check(F.linear_forward, F.linear_backward, x, w, b if b is not None else np.zeros(len(w)))


@dtypes
@given(case=S.linear_cases(max_lead_dims=3))
def test_linear_module_matches_torch(case, dtype):
    x, w, b, seed = case
    args = (w.shape[1], w.shape[0], b is not None)
    scratch = nn.Linear(*args, dtype=dtype)
    twin = same_state_twins(scratch, torch.nn.Linear(*args), dtype, seed)
    assert_module_matches_torch(scratch, twin, x.astype(dtype), dtype, seed,
                                max(x.size // x.shape[-1], x.shape[-1]))


def test_linear_takes_torch_positional_arguments_in_torch_order():
    layer = nn.Linear(3, 4, False, "cpu", np.float64)
    assert layer.bias is None and layer._params["weight"].data.dtype == np.float64
    assert layer.forward(np.ones(3)).shape == (4,)
    assert torch.nn.Linear(3, 4, False, "cpu").bias is None


# --------------------------------------------------------------------------- flatten
@st.composite
def flatten_cases(draw):
    """(x, start_dim, end_dim, seed) with start <= end after torch's normalisation,
    negative dims included."""
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=5)))
    ndim = len(shape)
    start = draw(st.integers(0, ndim - 1))
    end = draw(st.integers(start, ndim - 1))
    start -= ndim * draw(st.booleans())
    end -= ndim * draw(st.booleans())
    return draw(S.array(shape)), start, end, draw(S.SEEDS)


@dtypes
@given(case=flatten_cases())
def test_flatten_matches_torch(case, dtype):
    x, start, end, seed = case
    (x,) = cast(x, dtype=dtype)
    assert_pair_matches_torch(lambda x: F.flatten_forward(x, start, end), F.flatten_backward,
                              lambda x: torch.flatten(x, start, end), dict(x=x), dtype, seed)


@given(case=flatten_cases())
def test_flatten_backward_matches_finite_differences(case):
    x, start, end, _ = case
    check(F.flatten_forward, F.flatten_backward, x, start_dim=start, end_dim=end)


@given(case=flatten_cases())
def test_flatten_module_matches_torch(case):
    x, start, end, seed = case
    layer, twin = nn.Flatten(start, end), torch.nn.Flatten(start, end)
    assert_module_matches_torch(layer, twin, x, np.float64, seed)


def test_flatten_1_2_turns_a_batch_of_one_channel_images_into_sequences():
    layer = nn.Flatten(1, 2)
    assert layer.forward(np.zeros((5, 1, 28, 28))).shape == (5, 28, 28)
    assert tuple(torch.nn.Flatten(1, 2)(torch.zeros(5, 1, 28, 28)).shape) == (5, 28, 28)


BAD = [
    (lambda: nn.Flatten(2, 1), ValueError, r"Flatten: start_dim=2 comes after end_dim=1"),
    (lambda: nn.Flatten(-1, 1).forward(np.zeros((2, 3, 4))), ValueError,
     r"Flatten: start_dim=-1 comes after end_dim=1 for input of shape \(2, 3, 4\)"),
    (lambda: nn.Flatten(1, 3).forward(np.zeros((2, 3, 4))), ValueError,
     r"Flatten expects input of shape .*start_dim=1, end_dim=3 \(at least 4 dims\), got "
     r"shape \(2, 3, 4\)"),
    (lambda: nn.Flatten(1.0), TypeError, r"Flatten: start_dim must be an int, got 1\.0"),
    (lambda: nn.Linear(3, 4, device="cuda:0"), ValueError,
     r"Linear: device must be None or 'cpu' \(scratch computes with NumPy on the CPU\), got "
     r"'cuda:0'"),
    (lambda: nn.Linear(3, 4, "cpu"), TypeError, r"Linear: bias must be True or False, got "
                                                r"'cpu'"),
    (lambda: nn.Linear(3, 4).forward(np.zeros((2, 4, 5), np.float32)), ValueError,
     r"Linear expects 3 input features on axis 2 \(in_features=3\), got 5 in input of shape "
     r"\(2, 4, 5\)"),
]


@pytest.mark.parametrize("call, error, pattern", BAD)
def test_bad_linear_and_flatten_arguments_are_refused_naming_the_layer(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


@pytest.mark.parametrize("layer", [nn.Linear(2, 2), nn.Flatten()], ids=["Linear", "Flatten"])
def test_backward_before_forward_is_a_clear_error(layer):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones((1, 2), np.float32))
