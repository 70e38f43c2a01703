"""Activations against torch: ReLU, LeakyReLU, PReLU, Sigmoid, Tanh, GELU (both forms),
ELU, SiLU, Softmax, LogSoftmax.

Through the functional pair, the module (torch's argument order, three steps)
and the architecture path (``scratch.model.build`` against
``reference.model.build``), with finite differences as the second oracle for
the layers added with issue 10. Every pointwise layer takes a 0-d input and
gives back a 0-d ndarray, as torch gives a 0-d tensor.
"""
from __future__ import annotations

import warnings

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
    assert_parity,
    cast,
    check,
    dtypes,
    spread,
    upstream,
)
from parity_tests.model_helpers import twins
from reference import convert
from scratch import arch as A
from scratch import functional as F
from scratch import nn

# name -> (scratch forward(x, dim), scratch backward, torch fn(input, dim), reduction(x, dim))
# ``dim`` is drawn for the softmax family and ignored by the element-wise ones.
ACTIVATIONS = {
    "relu": (lambda x, d: F.relu_forward(x), F.relu_backward, lambda t, d: TF.relu(t)),
    "leaky_relu": (lambda x, d: F.leaky_relu_forward(x, 0.1), F.leaky_relu_backward,
                   lambda t, d: TF.leaky_relu(t, 0.1)),
    "sigmoid": (lambda x, d: F.sigmoid_forward(x), F.sigmoid_backward,
                lambda t, d: torch.sigmoid(t)),
    "tanh": (lambda x, d: F.tanh_forward(x), F.tanh_backward, lambda t, d: torch.tanh(t)),
    "gelu": (lambda x, d: F.gelu_forward(x), F.gelu_backward, lambda t, d: TF.gelu(t)),
    "gelu_tanh": (lambda x, d: F.gelu_forward(x, "tanh"), F.gelu_backward,
                  lambda t, d: TF.gelu(t, approximate="tanh")),
    "elu": (lambda x, d: F.elu_forward(x), F.elu_backward, lambda t, d: TF.elu(t)),
    "elu_alpha": (lambda x, d: F.elu_forward(x, 0.3), F.elu_backward,
                  lambda t, d: TF.elu(t, 0.3)),
    "silu": (lambda x, d: F.silu_forward(x), F.silu_backward, lambda t, d: TF.silu(t)),
    "softmax": (F.softmax_forward, F.softmax_backward, lambda t, d: TF.softmax(t, d)),
    "log_softmax": (F.log_softmax_forward, F.log_softmax_backward,
                    lambda t, d: TF.log_softmax(t, d)),
}
SOFTMAX_FAMILY = ("softmax", "log_softmax")
NEW = ["gelu", "gelu_tanh", "elu", "elu_alpha", "silu", "softmax", "log_softmax"]


@dtypes
@pytest.mark.parametrize("name", ACTIVATIONS)
@S.fewer_examples(1 / 3)   # eleven forms, two dtypes: 10 examples each in ci
@given(case=S.pointwise_inputs(), data=st.data())
def test_activation_matches_torch(name, case, data, dtype):
    forward, backward, torch_fn = ACTIVATIONS[name]
    (x,) = cast(case[0], dtype=dtype)
    if data.draw(st.booleans(), label="column-major"):   # not C-contiguous: the general
        x = np.asfortranarray(x)                         # path, not the batch-split one
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
    k = x.shape[dim] if name in SOFTMAX_FAMILY else 1
    assert_pair_matches_torch(lambda x: forward(x, dim), backward, lambda t: torch_fn(t, dim),
                              dict(x=x), dtype, case[1], reductions=dict(out=k, dx=k))


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "gelu", "gelu_tanh", "elu", "silu",
                                  "softmax", "log_softmax"])
def test_saturating_activations_stay_finite_for_huge_inputs(name):
    forward, backward, _ = ACTIVATIONS[name]
    x = np.array([[-1e4, -100.0, 0.0, 100.0, 1e4]], dtype=np.float32)
    out, cache = forward(x, 1)
    assert np.isfinite(out).all() and np.isfinite(backward(np.ones_like(x), cache)).all()


@dtypes
@given(case=S.pointwise_inputs(), per_channel=st.booleans(), data=st.data())
def test_prelu_matches_torch(case, per_channel, data, dtype):
    (x,) = cast(case[0], dtype=dtype)
    p = x.shape[1] if per_channel else 1
    (weight,) = cast(data.draw(S.array((p,), S.WEIGHT_VALUES), label="weight"), dtype=dtype)
    assert_pair_matches_torch(F.prelu_forward, F.prelu_backward, TF.prelu,
                              dict(x=x, weight=weight), dtype, case[1],
                              reductions=dict(dweight=x.size // p))


# --------------------------------------------------------------------------- modules
# name -> (scratch module (dtype), torch module, reduction size); torch's positional order
MODULES = {
    "relu": (lambda d: nn.ReLU(False), lambda: torch.nn.ReLU(False), 1),
    "leaky_relu": (lambda d: nn.LeakyReLU(0.2, False), lambda: torch.nn.LeakyReLU(0.2, False),
                   1),
    "prelu_per_channel": (lambda d: nn.PReLU(3, 0.1, None, d), lambda: torch.nn.PReLU(3, 0.1),
                          2 * 4 * 4),
    "prelu_shared": (lambda d: nn.PReLU(dtype=d), torch.nn.PReLU, 2 * 3 * 4 * 4),
    "sigmoid": (lambda d: nn.Sigmoid(), torch.nn.Sigmoid, 1),
    "tanh": (lambda d: nn.Tanh(), torch.nn.Tanh, 1),
    "gelu": (lambda d: nn.GELU(), torch.nn.GELU, 1),
    "gelu_tanh": (lambda d: nn.GELU("tanh"), lambda: torch.nn.GELU("tanh"), 1),
    "elu": (lambda d: nn.ELU(0.5, False), lambda: torch.nn.ELU(0.5, False), 1),
    "silu": (lambda d: nn.SiLU(False), lambda: torch.nn.SiLU(False), 1),
    "softmax": (lambda d: nn.Softmax(1), lambda: torch.nn.Softmax(1), 3),
    "softmax_last": (lambda d: nn.Softmax(-1), lambda: torch.nn.Softmax(-1), 4),
    "log_softmax": (lambda d: nn.LogSoftmax(1), lambda: torch.nn.LogSoftmax(1), 3),
}
SHAPE = (2, 3, 4, 4)


def pair_of(name, dtype, seed):
    """A scratch module and its torch twin with the same (random) parameters."""
    make_scratch, make_torch, k = MODULES[name]
    scratch = make_scratch(np.dtype(dtype))
    twin = make_torch().to(TORCH_DTYPE[np.dtype(dtype)])
    rng = np.random.default_rng(seed)
    state = {key: rng.uniform(-1, 1, v.shape).astype(dtype)
             for key, v in scratch.state_dict().items()}
    scratch.load_state_dict(state)
    convert.load_numpy_state(twin, state)
    return scratch, twin, k


@dtypes
@pytest.mark.parametrize("name", MODULES)
@S.fewer_examples(1 / 6)   # fixed shape, three steps each; the values are what varies
@given(seed=S.SEEDS)
def test_module_forward_backward_matches_torch_over_steps(name, seed, dtype):
    scratch, twin, k = pair_of(name, dtype, seed)
    assert list(scratch.state_dict()) == list(twin.state_dict())
    rng = np.random.default_rng(seed)
    for step in range(3):
        x = rng.standard_normal(SHAPE).astype(dtype)
        assert_module_matches_torch(scratch, twin, x, dtype, seed + step, k)


@pytest.mark.parametrize("name", MODULES)
def test_backward_before_forward_is_a_clear_error(name):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        MODULES[name][0](np.dtype(np.float64)).backward(np.ones((1, 1)))


POINTWISE = {**{n: (m[0], m[1]) for n, m in MODULES.items()
                if n not in ("prelu_per_channel", "softmax", "log_softmax")},
             "softmax": (lambda d: nn.Softmax(0), lambda: torch.nn.Softmax(0)),
             "log_softmax": (lambda d: nn.LogSoftmax(-1), lambda: torch.nn.LogSoftmax(-1)),
             "dropout_eval": (lambda d: nn.Dropout().eval(), lambda: torch.nn.Dropout().eval()),
             "dropout_p0": (lambda d: nn.Dropout(0.0), lambda: torch.nn.Dropout(0.0))}


@dtypes
@pytest.mark.parametrize("name", POINTWISE)
@pytest.mark.parametrize("value", [-1.5, 0.0, 2.0])
def test_zero_dim_input_gives_zero_dim_arrays_as_torch(name, value, dtype):
    """A 0-d input comes back as a 0-d ndarray (not a NumPy scalar), forward and backward."""
    make_scratch, make_torch = POINTWISE[name]
    layer = make_scratch(np.dtype(dtype))
    x = np.array(value, dtype)
    out = layer.forward(x)
    assert isinstance(out, np.ndarray) and out.shape == () and out.dtype == dtype
    dout = np.array(-0.75, dtype)
    dx = layer.backward(dout)
    assert isinstance(dx, np.ndarray) and dx.shape == () and dx.dtype == dtype
    twin = make_torch().to(TORCH_DTYPE[np.dtype(dtype)])
    convert.load_numpy_state(twin, layer.state_dict())
    tx = torch.tensor(x, requires_grad=True)
    t_out = twin(tx)
    t_out.backward(torch.from_numpy(dout))
    assert_parity(dict(out=out, dx=dx), dict(out=t_out, dx=tx.grad), dtype)


@pytest.mark.parametrize("make", [lambda: nn.ReLU(True), lambda: nn.LeakyReLU(0.1, True),
                                  lambda: nn.ELU(1.0, True), lambda: nn.SiLU(True)],
                         ids=["relu", "leaky_relu", "elu", "silu"])
def test_inplace_is_accepted_in_torch_position_and_leaves_the_input_alone(make):
    x = np.linspace(-2, 2, 12).reshape(3, 4)
    before = x.copy()
    out = make().forward(x)
    assert out is not x
    np.testing.assert_array_equal(x, before)
    layer = make()
    layer.inplace = False
    np.testing.assert_array_equal(out, layer.forward(before))


@pytest.mark.parametrize("ndim", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
def test_implicit_dim_picks_torchs_axis_with_its_warning(cls, ndim):
    x = np.random.default_rng(ndim).standard_normal((2, 3, 2, 2)[:ndim])
    with pytest.warns(UserWarning, match=f"Implicit dimension choice for {cls.lower()} has been "
                                         f"deprecated"):
        out = getattr(nn, cls)().forward(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_out = getattr(torch.nn, cls)()(torch.from_numpy(x))
    assert_parity(dict(out=out), dict(out=t_out), np.float64, dict(out=4))


# --------------------------------------------------------------------------- model path
NEW_SPECS = {"gelu": A.GELU(), "gelu_tanh": A.GELU("tanh"), "elu": A.ELU(0.7), "silu": A.SiLU()}


@dtypes
@pytest.mark.parametrize("name", NEW_SPECS)
@S.fewer_examples(1 / 6)   # test_model also draws these activations into whole networks
@given(seed=S.SEEDS, n=st.integers(1, 3))
def test_model_with_new_activation_matches_torch(name, seed, n, dtype):
    """conv - act - flatten - linear - act - linear - softmax(dim=1), random upstream grad."""
    act = NEW_SPECS[name]
    arch = A.Architecture((2, 5, 5), (
        ("conv", A.Conv2d(3, 3, padding=1)), ("act", act), ("pool", A.MaxPool2d(2)),
        ("flatten", A.Flatten()), ("fc1", A.Linear(6)), ("act1", act), ("fc2", A.Linear(4)),
        ("softmax", A.Softmax(1))))
    scratch, torch_model = twins(arch, dtype, seed)
    x = np.random.default_rng(seed).standard_normal((n, 2, 5, 5)).astype(dtype)
    out = scratch.forward(x)
    dout = upstream(seed, out.shape, dtype)
    dx = scratch.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    t_out = torch_model(tx)
    t_out.backward(torch.from_numpy(dout))
    grads = {f"grad:{k}": p.grad for k, p in scratch.named_parameters()}
    t_grads = {f"grad:{k}": p.grad for k, p in torch_model.named_parameters()}
    k = 2 * 9 + n * 25 + 12 + 6
    assert_parity(dict(out=out, dx=dx, **grads), dict(out=t_out, dx=tx.grad, **t_grads), dtype,
                  {name: k for name in ["out", "dx", *grads]})


# --------------------------------------------------------------------------- finite differences
@pytest.mark.parametrize("name", NEW)
@S.fewer_examples(1 / 3)
@given(shape=S.batch_shapes(), seed=S.SEEDS, data=st.data())
def test_new_activation_backward_matches_finite_differences(name, shape, seed, data):
    forward, backward, _ = ACTIVATIONS[name]
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    check(lambda x: forward(x, dim), backward, spread(shape, seed, away_from_zero=True))


# --------------------------------------------------------------------------- errors
ERRORS = [
    ("gelu_approximate", lambda: nn.GELU("erf"), ValueError,
     r"GELU: approximate must be one of 'none', 'tanh', got 'erf'"),
    ("softmax_dim_range", lambda: nn.Softmax(2).forward(np.zeros((2, 3))), ValueError,
     r"Softmax: dim out of range for input with 2 dims \(expected to be in range of "
     r"\[-2, 1\], but got 2\)"),
    ("log_softmax_dim_type", lambda: nn.LogSoftmax(1.0), TypeError,
     r"LogSoftmax: dim must be an int, got 1\.0"),
    ("elu_alpha", lambda: nn.ELU("1"), TypeError, r"ELU: alpha must be a number, got '1'"),
    ("prelu_device", lambda: nn.PReLU(3, 0.1, "cuda"), ValueError,
     r"PReLU: device must be None or 'cpu'.*got 'cuda'"),
    ("relu_inplace_not_bool", lambda: nn.ReLU(0.1), TypeError,
     r"ReLU: inplace must be True or False, got 0\.1"),
    ("elu_inplace_not_bool", lambda: nn.ELU(1.0, "yes"), TypeError,
     r"ELU: inplace must be True or False, got 'yes'"),
]


@pytest.mark.parametrize("make, error, message", [c[1:] for c in ERRORS],
                         ids=[c[0] for c in ERRORS])
def test_bad_arguments_are_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("module", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape, dim", [((3, 0), 1), ((3, 0), 0), ((0, 4), 1), ((0, 4), 0),
                                        ((2, 0, 3), 1)], ids=str)
def test_softmax_over_empty_arrays_matches_torch(module, shape, dim):
    """An empty axis (or an empty batch) gives an empty output and gradient, as torch's,
    not NumPy's 'zero-size array to reduction operation maximum' error."""
    layer = getattr(nn, module)(dim)
    out = layer.forward(np.zeros(shape))
    dx = layer.backward(np.zeros(shape))
    tx = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    t_out = getattr(torch.nn, module)(dim)(tx)
    t_out.backward(torch.zeros(shape, dtype=torch.float64))
    assert out.shape == tuple(t_out.shape) and dx.shape == tuple(tx.grad.shape) == shape
