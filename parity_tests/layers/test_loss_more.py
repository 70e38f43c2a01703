"""The regression, probability and margin losses against torch: MSELoss, L1Loss,
SmoothL1Loss, HuberLoss, GaussianNLLLoss, BCELoss, BCEWithLogitsLoss, KLDivLoss,
SoftMarginLoss, MultiMarginLoss, CosineEmbeddingLoss.

Through the functional pair and the module (torch's positional argument order,
state_dict, repr), each with every reduction and input form (``loss_cases``
draws values at every kink on purpose), a random upstream gradient, float64 tight
and float32; finite differences (away from the kinks) as the second oracle; bad
input refused with torch's exception type.

Tolerances: each loss element is a handful of operations on values of at most
about 100 (BCE's clamp, exp(4) in KL with log targets), so the per-element
budget of :mod:`parity_tests.helpers` (``K = 1``) holds for per-element losses
and gradients, through ``rtol``; a reduced loss sums ``K`` = the element count;
a gradient that sums ``C`` or ``D`` terms (the target score of the margin loss,
the cosine's dot products, a broadcast variance) gets that ``K``.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given

from parity_tests import loss_cases as L
from parity_tests import strategies as S
from parity_tests.helpers import (
    assert_parity,
    assert_refused_alike,
    check,
    dtypes,
    spread,
    upstream,
)
from scratch import functional as F
from scratch import nn


def cast(case, dtype):
    """The case's float arrays in ``dtype`` (integer targets and Python floats kept)."""
    def one(v):
        return v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
    return ({k: one(v) for k, v in case.inputs.items()},
            {k: one(v) for k, v in case.consts.items()})


def tensor(v):
    return torch.from_numpy(v) if isinstance(v, np.ndarray) else v


def torch_side(fn, inputs, consts, dloss, **options):
    """torch's loss and the gradient of each differentiable input (leaf tensors)."""
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items()}
    loss = fn(**leaves, **{k: tensor(v) for k, v in consts.items()}, **options)
    loss.backward(torch.from_numpy(np.asarray(dloss)))
    return loss, {f"d{k}": t.grad for k, t in leaves.items()}


def budgets(case, loss_shape):
    """K for the loss (its element count when reduced) and each gradient."""
    x = next(iter(case.inputs.values()))
    k_loss = 1 if case.options.get("reduction") == "none" else max(x.size, 1)
    k_grad = x.shape[-1] if case.name in ("multi_margin_loss", "cosine_embedding_loss") and \
        x.ndim else 1
    if "var" in case.inputs:
        k_grad = max(x.size // max(case.inputs["var"].size, 1), 1)
    return dict(loss=k_loss, **{f"d{k}": k_grad for k in case.inputs})


def scratch_grads(case, grads):
    grads = grads if isinstance(grads, tuple) else (grads,)
    return {f"d{k}": g for k, g in zip(case.inputs, grads)}


def quiet(fn, *args, **kwargs):
    """Call ``fn`` with KLDivLoss's 'mean' warning (tested on its own) silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "reduction: 'mean' divides")
        return fn(*args, **kwargs)


def assert_parity_nan(scratch, reference, dtype, reductions):
    """:func:`assert_parity` where NaN ('mean' over no elements, a negative KL target)
    must sit at the same places on both sides."""
    ours, theirs = {}, {}
    for name, expected in reference.items():
        e, a = expected.detach().numpy(), np.asarray(scratch[name])
        np.testing.assert_array_equal(np.isnan(a), np.isnan(e), err_msg=f"{name}: NaN places")
        ours[name] = np.where(np.isnan(a), 0, a).astype(a.dtype)
        theirs[name] = torch.from_numpy(np.where(np.isnan(e), 0, e))
    assert_parity(ours, theirs, dtype, reductions)


def torch_fn(name):
    return getattr(TF, name)


# --------------------------------------------------------------------------- functional pairs
@dtypes
@pytest.mark.parametrize("name", L.CASES)
@S.fewer_examples(1 / 2)   # eleven losses, two dtypes
@given(data=L.st.data())
def test_loss_matches_torch(name, data, dtype):
    case = data.draw(L.CASES[name], label="case")
    inputs, consts = cast(case, dtype)
    loss, cache = quiet(getattr(F, f"{name}_forward"), **inputs, **consts, **case.options)
    dloss = upstream(case.seed, loss.shape, dtype)
    grads = scratch_grads(case, getattr(F, f"{name}_backward")(dloss, cache))
    t_loss, t_grads = quiet(torch_side, torch_fn(name), inputs, consts, dloss, **case.options)
    assert loss.shape == tuple(t_loss.shape)
    assert_parity_nan(dict(loss=loss, **grads), dict(loss=t_loss, **t_grads), dtype,
                      budgets(case, loss.shape))


# --------------------------------------------------------------------------- modules
def make_modules(case, dtype):
    """The scratch module and torch's, built alike in torch's positional order."""
    cls = L.MODULES[case.name]
    args = tuple(a.astype(dtype) if isinstance(a, np.ndarray) else a for a in case.module_args)
    mine = getattr(nn, cls)(*args, **case.module_kwargs)
    theirs = getattr(torch.nn, cls)(*(tensor(a) for a in args), **case.module_kwargs)
    return mine, theirs


def call_args(case, inputs, consts):
    """forward's positional arguments: (input, target), (input1, input2, target) or
    (input, target, var)."""
    order = {"cosine_embedding_loss": ("input1", "input2", "target"),
             "gaussian_nll_loss": ("input", "target", "var")}.get(case.name,
                                                                 ("input", "target"))
    return [({**inputs, **consts})[k] for k in order]


@dtypes
@pytest.mark.parametrize("name", L.CASES)
@S.fewer_examples(1 / 2)   # eleven losses, two dtypes
@given(data=L.st.data())
def test_loss_module_matches_torch_module(name, data, dtype):
    """Loss, gradients, repr and state_dict (weights are buffers) of the module."""
    case = data.draw(L.CASES[name], label="case")
    inputs, consts = cast(case, dtype)
    mine, theirs = make_modules(case, dtype)
    assert repr(mine) == repr(theirs)
    assert {k: v.tolist() for k, v in mine.state_dict().items()} == {
        k: v.tolist() for k, v in theirs.state_dict().items()}
    loss = quiet(mine, *call_args(case, inputs, consts))
    dloss = upstream(case.seed, loss.shape, dtype)
    grads = scratch_grads(case, mine.backward(dloss))
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items()}
    t_loss = quiet(theirs, *map(tensor, call_args(case, leaves, consts)))
    t_loss.backward(torch.from_numpy(dloss))
    assert mine.reduction == theirs.reduction
    assert_parity_nan(dict(loss=loss, **grads),
                      dict(loss=t_loss, **{f"d{k}": t.grad for k, t in leaves.items()}),
                      dtype, budgets(case, loss.shape))


# --------------------------------------------------------------------------- kinks and extremes
KINKS = [   # (name, inputs, consts, options): gradients exactly where the loss bends
    ("l1_loss", dict(input=[0.0, 1.0, -2.0]), dict(target=[0.0, 1.0, 1.0]), {}),
    ("smooth_l1_loss", dict(input=[0.5, -0.5, 1.0, 0.0]), dict(target=[0.0, 0.0, 0.0, 0.0]),
     dict(beta=0.5)),
    ("smooth_l1_loss", dict(input=[0.0, 1.0]), dict(target=[0.0, 0.0]), dict(beta=0.0)),
    ("huber_loss", dict(input=[2.0, -2.0, 0.0]), dict(target=[0.0, 0.0, 0.0]), dict(delta=2.0)),
    ("binary_cross_entropy", dict(input=[0.0, 1.0, 0.0, 1.0]),
     dict(target=[0.0, 1.0, 1.0, 0.0]), {}),
    ("binary_cross_entropy_with_logits", dict(input=[1e4, -1e4, 80.0, -80.0]),
     dict(target=[0.0, 1.0, 0.5, 0.25], pos_weight=[2.0, 3.0, 0.5, 1.0]), {}),
    ("multi_margin_loss", dict(input=[[1.0, 0.0, 0.0], [0.0, 1.0, 2.0]]),
     dict(target=[0, 1]), {}),
    ("cosine_embedding_loss", dict(input1=[[1.0, 0.0], [1.0, 2.0]],
                                   input2=[[0.0, 3.0], [-2.0, 1.0]]),
     dict(target=[-1, -1]), {}),
    ("kl_div", dict(input=[0.5, -1.0]), dict(target=[0.0, 0.0]), dict(reduction="sum")),
    ("gaussian_nll_loss", dict(input=[1.0, 2.0, 3.0], var=[1e-8, 0.0, 1e-6]),
     dict(target=[0.0, 0.0, 0.0]), dict(reduction="sum")),
    ("soft_margin_loss", dict(input=[0.0, 60.0, -60.0]), dict(target=[1.0, 1.0, 1.0]), {}),
]


@dtypes
@pytest.mark.parametrize("name, inputs, consts, options", KINKS,
                         ids=[f"{k[0]}-{i}" for i, k in enumerate(KINKS)])
def test_gradient_at_kinks_and_extremes_matches_torch(name, inputs, consts, options, dtype):
    """At a bend (a zero difference, |d| = beta or delta, a margin violated by 0, a
    zero cosine at margin 0, a clamped variance) the gradient is torch's choice;
    probabilities of 0 and 1 and huge logits stay finite as in torch."""
    inputs = {k: np.array(v, dtype) for k, v in inputs.items()}
    consts = {k: np.array(v, np.int64 if k == "target" and name in (
        "multi_margin_loss", "cosine_embedding_loss") else dtype) for k, v in consts.items()}
    loss, cache = getattr(F, f"{name}_forward")(**inputs, **consts, **options)
    dloss = upstream(7, loss.shape, dtype)
    grads = getattr(F, f"{name}_backward")(dloss, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    t_loss, t_grads = torch_side(torch_fn(name), inputs, consts, dloss, **options)
    assert np.isfinite(loss).all() and all(np.isfinite(g).all() for g in grads)
    assert_parity(dict(loss=loss, **{f"d{k}": g for k, g in zip(inputs, grads)}),
                  dict(loss=t_loss, **t_grads), dtype, dict(loss=4))


# --------------------------------------------------------------------------- finite differences
@pytest.mark.parametrize("name", L.CASES)
@S.fewer_examples(1 / 2)   # eleven losses, two dtypes
@given(data=L.st.data())
def test_loss_backward_matches_finite_differences(name, data):
    """Inputs spread 0.1 apart and targets offset by 0.03 keep every difference at
    least 0.02 from a kink; probabilities are kept in [0.05, 0.95]."""
    case = data.draw(L.CASES[name], label="case")
    assume(all(v.size for v in case.inputs.values()))       # an empty input has no slope
    arrays = {k: spread(v.shape, case.seed + i, away_from_zero=True)
              for i, (k, v) in enumerate(case.inputs.items())}
    consts, options = dict(case.consts), dict(case.options)
    if name == "binary_cross_entropy":
        arrays["input"] = 0.5 + 0.45 * np.tanh(arrays["input"])
    if "target" in consts and consts["target"].dtype.kind == "f" and name not in (
            "soft_margin_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"):
        consts["target"] = spread(consts["target"].shape, case.seed + 9) + 0.03
        if name == "kl_div" and not options["log_target"]:
            consts["target"] = np.abs(consts["target"])
    if "var" in arrays:
        arrays["var"] = np.abs(arrays["var"]) + 0.5
    if name == "multi_margin_loss":
        options["margin"] = options["margin"] + 0.05
    if name == "cosine_embedding_loss":
        options["margin"] = -2.0 if options["margin"] else 0.97   # away from cos values
    fwd, bwd = getattr(F, f"{name}_forward"), getattr(F, f"{name}_backward")
    check(lambda *xs: quiet(fwd, **dict(zip(arrays, xs)), **consts, **options),
          lambda d, c: tuple(g for g in scratch_grads(case, bwd(d, c)).values()
                             if g is not None), *arrays.values())


# --------------------------------------------------------------------------- modules: protocol
def test_deprecated_flags_map_to_reduction_with_torchs_warning():
    for cls in ("MSELoss", "L1Loss", "BCELoss", "SoftMarginLoss", "KLDivLoss"):
        with warnings.catch_warnings(record=True) as ours:
            warnings.simplefilter("always")
            mine = getattr(nn, cls)(reduce=False)
        with warnings.catch_warnings(record=True) as theirs:
            warnings.simplefilter("always")
            twin = getattr(torch.nn, cls)(reduce=False)
        assert mine.reduction == twin.reduction == "none", cls
        assert [str(w.message) for w in ours] == [str(w.message) for w in theirs], cls


def test_kl_div_mean_warns_as_torch():
    x, t = np.zeros((2, 3)), np.full((2, 3), 0.5)
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        nn.KLDivLoss()(x, t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.KLDivLoss(reduction="batchmean")(x, t)


def test_backward_before_forward_is_a_clear_error():
    for cls in L.MODULES.values():
        with pytest.raises(RuntimeError, match="backward called before forward"):
            getattr(nn, cls)().backward()


# --------------------------------------------------------------------------- errors
def z(*shape):
    return np.zeros(shape)


ERRORS = [   # (id, scratch call, torch call): the same exception type on both sides
    ("smooth_l1_negative_beta", lambda m: m.SmoothL1Loss(beta=-1.0)(z(3), z(3)), RuntimeError),
    ("huber_zero_delta", lambda m: m.HuberLoss(delta=0.0)(z(3), z(3)), RuntimeError),
    ("bce_input_above_1", lambda m: m.BCELoss()(np.array([1.5]), z(1)), RuntimeError),
    ("bce_target_above_1", lambda m: m.BCELoss()(np.array([0.5]), np.array([2.0])),
     RuntimeError),
    ("bce_target_shape", lambda m: m.BCELoss()(z(3), z(3, 1)), ValueError),
    ("bce_logits_target_shape", lambda m: m.BCEWithLogitsLoss()(z(3), z(3, 1)), ValueError),
    ("bce_weight_grows_output", lambda m: m.BCEWithLogitsLoss(pos_weight=np.ones((2, 3)))(
        z(3), z(3)), RuntimeError),
    ("multi_margin_p3", lambda m: m.MultiMarginLoss(p=3), ValueError),
    ("multi_margin_weight_2d", lambda m: m.MultiMarginLoss(weight=np.ones((2, 2))), ValueError),
    ("multi_margin_3d", lambda m: m.MultiMarginLoss()(z(2, 3, 4), np.zeros(2, np.int64)),
     RuntimeError),
    ("multi_margin_target_range", lambda m: m.MultiMarginLoss()(z(2, 3), np.array([0, 3])),
     RuntimeError),
    ("multi_margin_target_size", lambda m: m.MultiMarginLoss()(z(2, 3), np.array([0, 1, 2])),
     RuntimeError),
    ("multi_margin_weight_size", lambda m: m.MultiMarginLoss(weight=np.ones(4))(
        z(2, 3), np.array([0, 1])), RuntimeError),
    ("multi_margin_float_target", lambda m: m.MultiMarginLoss()(z(2, 3), np.array([0.0, 1.0])),
     RuntimeError),
    ("cosine_3d", lambda m: m.CosineEmbeddingLoss()(z(2, 3, 1), z(2, 3, 1), np.array([1, -1])),
     RuntimeError),
    ("cosine_target_2d", lambda m: m.CosineEmbeddingLoss()(z(2, 3), z(2, 3),
                                                           np.array([[1, -1]])), RuntimeError),
    ("cosine_unbatched_target_1d", lambda m: m.CosineEmbeddingLoss()(z(3), z(3), np.array([1])),
     RuntimeError),
    ("cosine_widths", lambda m: m.CosineEmbeddingLoss()(z(2, 3), z(2, 4), np.array([1, -1])),
     RuntimeError),
    ("gaussian_negative_var", lambda m: m.GaussianNLLLoss()(z(2, 3), z(2, 3), -np.ones((2, 3))),
     ValueError),
    ("gaussian_var_size", lambda m: m.GaussianNLLLoss()(z(2, 3), z(2, 3), np.ones((3, 2))),
     ValueError),
    ("gaussian_var_two_ones", lambda m: m.GaussianNLLLoss()(z(2, 3), z(2, 3), np.ones((1, 1))),
     ValueError),
    ("gaussian_positional", lambda m: m.GaussianNLLLoss(True), TypeError),
    ("reduction", lambda m: m.MSELoss(reduction="x")(z(3), z(3)), ValueError),
]


@pytest.mark.parametrize("call, error", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_input_is_refused_as_torch_refuses_it(call, error):
    assert_refused_alike(call, error)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("cls", ["MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
                                 "SoftMarginLoss", "KLDivLoss"])
def test_target_of_another_shape_is_refused_naming_both_shapes(cls):
    """torch broadcasts it with a warning; scratch refuses it (documented)."""
    with pytest.raises(ValueError, match=r"target shape \(3, 1\) differs from input shape "
                                         r"\(3,\).*reshape the target"):
        getattr(nn, cls)()(z(3), z(3, 1))


@dtypes
def test_outputs_keep_the_input_dtype(dtype):
    x = np.linspace(0.1, 0.9, 6).reshape(2, 3).astype(dtype)
    for loss_fn, args in [(nn.MSELoss(), (x, x[::-1])), (nn.BCELoss(), (x, x)),
                          (nn.GaussianNLLLoss(), (x, x, np.ones(2))),
                          (nn.KLDivLoss(reduction="batchmean"), (x, x))]:
        assert loss_fn(*args).dtype == dtype
        grads = loss_fn.backward(np.asarray(1.0))
        for g in grads if isinstance(grads, tuple) else (grads,):
            assert g.dtype == dtype


@dtypes
def test_kl_div_batchmean_divides_by_the_batch_size(dtype):
    """'batchmean' is the sum over ``input.shape[0]``, not over the element count."""
    rng = np.random.default_rng(5)
    x, t = rng.standard_normal((2, 3)).astype(dtype), rng.uniform(0, 1, (2, 3)).astype(dtype)
    loss, cache = F.kl_div_forward(x, t, reduction="batchmean")
    dx = F.kl_div_backward(np.asarray(0.5, dtype), cache)
    t_loss, t_grads = torch_side(TF.kl_div, dict(input=x), dict(target=t), 0.5,
                                 reduction="batchmean")
    assert_parity(dict(loss=loss, dinput=dx), dict(loss=t_loss, **t_grads), dtype,
                  dict(loss=6))
