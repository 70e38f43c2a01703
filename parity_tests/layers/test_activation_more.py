"""The piecewise and smooth activations against torch: Hardtanh, ReLU6, Threshold,
Hardshrink, Softshrink, Hardsigmoid, Hardswish, Softplus, Mish, LogSigmoid, SELU,
CELU, Softsign, Tanhshrink, GLU, Softmin, Softmax2d.

Through the functional pair and the module (drawn arguments in torch's positional
order, repr, any input rank down to 0-d), with a random upstream gradient, float64
tight and float32; the inputs hold each layer's kinks on purpose, so the gradient
exactly at a bend is torch's (``activation_cases``); finite differences away from
the kinks as the second oracle; bad arguments refused as torch refuses them.
Tolerance: one element's handful of operations (``K = 1``); the softmax family
sums over its axis (``K`` = that size).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.activation_cases import ACTIVATIONS, activation_cases
from parity_tests.helpers import (
    TORCH_DTYPE,
    assert_module_matches_torch,
    assert_pair_matches_torch,
    assert_parity,
    assert_refused_alike,
    check,
    dtypes,
    spread,
    torch_run,
)
from scratch import nn


def reduction(case):
    if case.name in ("softmin", "softmax2d"):
        axis = case.args[0] if case.name == "softmin" else -3
        return case.x.shape[axis] if case.x.ndim else 1
    return 1


@dtypes
@pytest.mark.parametrize("name", ACTIVATIONS)
@S.fewer_examples(1 / 2)   # seventeen layers, two dtypes
@given(data=st.data())
def test_activation_matches_torch(name, data, dtype):
    case = data.draw(activation_cases(name), label="case")
    spec, x, k = ACTIVATIONS[name], case.x.astype(dtype), reduction(case)
    assert_pair_matches_torch(lambda x: spec.forward(x, *case.args), spec.backward,
                              lambda x: spec.torch_fn(x, *case.args), dict(x=x), dtype,
                              case.seed, dict(out=k, dx=k))


# --------------------------------------------------------------------------- modules
def modules(case, inplace=False):
    """Scratch's and torch's module from the same positional arguments."""
    spec = ACTIVATIONS[case.name]
    args = case.args + ((inplace,) if spec.inplace else ())
    return getattr(nn, spec.cls)(*args), getattr(torch.nn, spec.cls)(*args)


@dtypes
@pytest.mark.parametrize("name", ACTIVATIONS)
@S.fewer_examples(1 / 3)
@given(data=st.data())
def test_activation_module_matches_torch_module(name, data, dtype):
    """repr (with inplace drawn), output and input gradient of the module."""
    case = data.draw(activation_cases(name), label="case")
    inplace = ACTIVATIONS[name].inplace and data.draw(st.booleans(), label="inplace")
    mine, theirs = modules(case, inplace)
    assert repr(mine) == repr(theirs)
    x = case.x.astype(dtype)
    if inplace:               # scratch never writes into the input; torch's twin gets a copy
        theirs.inplace = False
    assert_module_matches_torch(mine, theirs.to(TORCH_DTYPE[np.dtype(dtype)]), x, dtype,
                                case.seed, reduction(case))
    np.testing.assert_array_equal(x, case.x.astype(dtype))


@pytest.mark.parametrize("name", [n for n, a in ACTIVATIONS.items() if a.min_dims == 0])
@pytest.mark.parametrize("value", [-3.0, 0.0, 0.5, 6.0])
def test_zero_dim_input_gives_zero_dim_arrays_as_torch(name, value):
    spec = ACTIVATIONS[name]
    args = {"hardtanh": (-1.0, 1.0), "threshold": (0.5, -2.0), "hardshrink": (0.5,),
            "softshrink": (0.5,), "softplus": (2.0, 1.0), "celu": (0.5,),
            "softmin": (0,)}.get(name, ())
    layer = getattr(nn, spec.cls)(*args)
    x = np.array(value)
    out = layer.forward(x)
    dx = layer.backward(np.array(-0.75))
    assert isinstance(out, np.ndarray) and out.shape == () and dx.shape == ()
    tx = torch.tensor(value, dtype=torch.float64, requires_grad=True)
    t_out = getattr(torch.nn, spec.cls)(*args)(tx)
    t_out.backward(torch.tensor(-0.75, dtype=torch.float64))
    assert_parity(dict(out=out, dx=dx), dict(out=t_out, dx=tx.grad), np.float64)


KINKS = {   # name -> (constructor args, points): the gradient exactly at each bend
    "relu6": ((), [0.0, 6.0, -0.0]),
    "hardtanh": ((-2.0, 0.5), [-2.0, 0.5]),
    "threshold": ((1.0, -3.0), [1.0]),
    "hardshrink": ((0.5,), [0.5, -0.5]),
    "softshrink": ((0.5,), [0.5, -0.5]),
    "hardsigmoid": ((), [-3.0, 3.0, 0.0]),
    "hardswish": ((), [-3.0, 3.0]),
    "softplus": ((2.0, 4.0), [2.0]),
    "selu": ((), [0.0]),
    "celu": ((0.5,), [0.0]),
}


@dtypes
@pytest.mark.parametrize("name", KINKS)
def test_gradient_exactly_at_each_kink_is_torchs(name, dtype):
    args, points = KINKS[name]
    spec = ACTIVATIONS[name]
    assert_pair_matches_torch(lambda x: spec.forward(x, *args), spec.backward,
                              lambda x: spec.torch_fn(x, *args), dict(x=np.array(points, dtype)),
                              dtype, 3)


@pytest.mark.parametrize("name", ["softplus", "mish", "log_sigmoid", "selu", "celu",
                                  "softsign", "tanhshrink", "hardswish"])
def test_huge_inputs_stay_finite_as_torch(name):
    spec = ACTIVATIONS[name]
    args = {"softplus": (1.0, 20.0), "celu": (1.0,)}.get(name, ())
    x = np.array([-1e4, -100.0, 100.0, 1e4], np.float32)
    out, cache = spec.forward(x, *args)
    dx = spec.backward(np.ones_like(x), cache)
    t_out, g = torch_run(lambda input: spec.torch_fn(input, *args), dict(input=x),
                         np.ones_like(x), np.float32)
    assert np.isfinite(out).all() and np.isfinite(dx).all()
    assert_parity(dict(out=out, dx=dx), dict(out=t_out, dx=g["input"]), np.float32)


# --------------------------------------------------------------------------- finite differences
@pytest.mark.parametrize("name", ACTIVATIONS)
@S.fewer_examples(1 / 3)
@given(data=st.data())
def test_activation_backward_matches_finite_differences(name, data):
    """Values 0.1 apart, offset 0.05 from every multiple of 0.1: at least 0.05 from each
    kink (all of which are multiples of 0.5 here)."""
    case = data.draw(activation_cases(name, kinks=False), label="case")
    spec = ACTIVATIONS[name]
    x = spread(case.x.shape, case.seed, away_from_zero=True)
    check(lambda z: spec.forward(z, *case.args), spec.backward, x)


# --------------------------------------------------------------------------- errors
ERRORS = [
    ("hardtanh_max_not_above_min", lambda m: m.Hardtanh(1.0, 1.0), AssertionError),
    ("softshrink_negative_lambd", lambda m: m.Softshrink(-1.0)(np.zeros(2)), RuntimeError),
    ("glu_odd_size", lambda m: m.GLU(1)(np.zeros((3, 3))), RuntimeError),
    ("glu_scalar", lambda m: m.GLU(0)(np.zeros(())), RuntimeError),
    ("glu_dim_range", lambda m: m.GLU(3)(np.zeros(4)), IndexError),
    ("softmax2d_2d", lambda m: m.Softmax2d()(np.zeros((2, 2))), ValueError),
    ("celu_alpha_0", lambda m: m.CELU(0.0)(np.ones(2)), RuntimeError),
]


@pytest.mark.parametrize("call, error", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_arguments_are_refused_as_torch_refuses_them(call, error):
    assert_refused_alike(call, error)


def test_softmin_without_dim_warns_and_picks_torchs_axis():
    x = np.random.default_rng(0).standard_normal((2, 3))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        out = nn.Softmin().forward(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_out = torch.nn.Softmin()(torch.from_numpy(x))
    assert_parity(dict(out=out), dict(out=t_out), np.float64, dict(out=3))


def test_hardtanh_deprecated_keywords_warn_as_torch():
    with pytest.warns(FutureWarning, match="`min_value` is deprecated and renamed to `min_val`"):
        layer = nn.Hardtanh(min_value=-3.0)
    assert layer.min_val == -3.0
