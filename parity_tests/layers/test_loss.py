"""Losses against torch: cross-entropy (every option), NLL, the L2 penalty.

Through the functional pair (``scratch.functional``), the modules
(``scratch.nn.CrossEntropyLoss``/``NLLLoss``) and a whole model ending in
``LogSoftmax`` (``scratch.model.build`` against ``reference.model.build``),
with finite differences as the second oracle. ``S.loss_cases`` draws the form
(unbatched (C,), batched (N, C) with N = 0 now and then, K-dimensional
(N, C, d1, ...)), class weights, ``ignore_index`` (some targets, now and then
all of them, take it), label smoothing, the reduction and probability targets.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from parity_tests import strategies as S
from parity_tests.helpers import assert_parity, check, dtypes, torch_run, upstream
from parity_tests.model_helpers import batch_for, comparison_budget, twins
from scratch import arch as A
from scratch import functional as F
from scratch import nn


def cast(case, dtype):
    """(logits, target, weight) in ``dtype`` (integer targets stay integer)."""
    target = case.target.astype(dtype) if case.probabilities else case.target
    weight = None if case.weight is None else case.weight.astype(dtype)
    return case.logits.astype(dtype), target, weight


def options(case, nll=False):
    kw = dict(ignore_index=case.ignore_index, reduction=case.reduction)
    return kw if nll else dict(kw, label_smoothing=case.label_smoothing)


def torch_loss(fn, logits, target, weight, dloss, dtype, **kw):
    """Loss and logits gradient from torch autograd (target and weight are constants)."""
    tx = torch.tensor(logits, requires_grad=True)
    loss = fn(tx, torch.from_numpy(np.asarray(target)),
              weight=None if weight is None else torch.from_numpy(weight), **kw)
    loss.backward(torch.from_numpy(np.asarray(dloss, dtype)))
    return loss, tx.grad


def loss_budget(logits, case):
    """A loss sums C log-softmax terms per row over every row; its gradient divides by
    the (weighted) count, so each element's error is that of one row's C terms."""
    c = logits.shape[0 if logits.ndim == 1 else 1]
    rows = max(logits.size // max(c, 1), 1)
    return dict(loss=c * (rows if case.reduction != "none" else 1), dlogits=c)


def assert_parity_nan(scratch, reference, dtype, reductions):
    """:func:`assert_parity` where NaN (torch's 'mean' over zero weight) must sit at the
    same places on both sides; the other values are compared as usual."""
    ours, theirs = {}, {}
    for name, expected in reference.items():
        e = expected.detach().numpy()
        a = np.asarray(scratch[name])
        np.testing.assert_array_equal(np.isnan(a), np.isnan(e), err_msg=f"{name}: NaN places")
        ours[name] = np.where(np.isnan(a), 0, a).astype(a.dtype)
        theirs[name] = torch.from_numpy(np.where(np.isnan(e), 0, e))
    assert_parity(ours, theirs, dtype, reductions)


# --------------------------------------------------------------------------- functional pairs
@dtypes
@given(case=S.loss_cases())
def test_cross_entropy_matches_torch(case, dtype):
    logits, target, weight = cast(case, dtype)
    loss, cache = F.cross_entropy_forward(logits, target, weight, **options(case))
    dloss = upstream(case.seed, loss.shape, dtype)
    dlogits = F.cross_entropy_backward(dloss, cache)
    t_loss, t_grad = torch_loss(TF.cross_entropy, logits, target, weight, dloss, dtype,
                                **options(case))
    assert loss.shape == tuple(t_loss.shape)
    assert_parity_nan(dict(loss=loss, dlogits=dlogits), dict(loss=t_loss, dlogits=t_grad),
                      dtype, loss_budget(logits, case))


@dtypes
@given(case=S.loss_cases(probabilities=False, smoothing=False))
def test_nll_loss_matches_torch(case, dtype):
    log_probs, target, weight = cast(case, dtype)  # NLL is linear: any values will do
    loss, cache = F.nll_loss_forward(log_probs, target, weight, **options(case, nll=True))
    dloss = upstream(case.seed, loss.shape, dtype)
    dlog_probs = F.nll_loss_backward(dloss, cache)
    t_loss, t_grad = torch_loss(TF.nll_loss, log_probs, target, weight, dloss, dtype,
                                **options(case, nll=True))
    assert_parity_nan(dict(loss=loss, dlog_probs=dlog_probs),
                      dict(loss=t_loss, dlog_probs=t_grad), dtype,
                      dict(loss=max(target.size, 1), dlog_probs=1))


@dtypes
@given(case=S.loss_cases(probabilities=False, smoothing=False), data=st.data())
def test_nll_loss_with_minus_inf_log_probabilities_matches_torch(case, data, dtype):
    """log(0) = -inf is an ordinary log-probability: anywhere but at a counted target
    (other classes, every class of an ignored row) the loss stays finite and its
    gradient 0 there, as torch's (a dense ``-(onehot * log_probs).sum()`` gives NaN)."""
    log_probs, target, weight = cast(case, dtype)
    batched = log_probs.ndim > 1
    classes = np.arange(log_probs.shape[1 if batched else 0]).reshape(
        (1, -1) + (1,) * (log_probs.ndim - 2) if batched else (-1,))
    counted = np.expand_dims(target, 1) if batched else target
    keep = (classes == counted) & (counted != case.ignore_index)
    drop = data.draw(hnp.arrays(bool, log_probs.shape), label="-inf places") & ~keep
    log_probs = np.where(drop, -np.inf, log_probs).astype(dtype)
    loss, cache = F.nll_loss_forward(log_probs, target, weight, **options(case, nll=True))
    dloss = upstream(case.seed, loss.shape, dtype)
    dlog_probs = F.nll_loss_backward(dloss, cache)
    t_loss, t_grad = torch_loss(TF.nll_loss, log_probs, target, weight, dloss, dtype,
                                **options(case, nll=True))
    assert_parity_nan(dict(loss=loss, dlog_probs=dlog_probs),
                      dict(loss=t_loss, dlog_probs=t_grad), dtype,
                      dict(loss=max(target.size, 1), dlog_probs=1))


@dtypes
@given(case=S.classification_cases(max_abs_logit=1e4))
def test_cross_entropy_is_finite_and_matches_torch_for_huge_logits(case, dtype):
    logits, target, _ = case
    logits = (logits.astype(np.float64) * 1e4 / max(1.0, np.abs(logits).max())).astype(dtype)
    loss, cache = F.cross_entropy_forward(logits, target)
    dlogits = F.cross_entropy_backward(np.asarray(1.0, dtype), cache)
    assert np.isfinite(loss).all() and np.isfinite(dlogits).all()
    t_loss, g = torch_run(TF.cross_entropy, dict(input=logits, target=target), None, dtype)
    # losses reach 2e4, so the float32 budget scales with the magnitude of the logits
    k = logits.shape[1] * len(target) * 1e4
    assert_parity(dict(loss=loss, dlogits=dlogits), dict(loss=t_loss, dlogits=g["input"]),
                  dtype, reductions=dict(loss=k, dlogits=logits.shape[1]))


def test_mean_over_only_ignored_targets_is_nan_with_zero_gradient_as_torch():
    logits = np.random.default_rng(0).standard_normal((3, 4))
    target = np.array([-100, -100, -100])
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(logits, target)
    t_loss, t_grad = torch_loss(TF.cross_entropy, logits, target, None, 1.0, np.float64)
    assert np.isnan(loss) and torch.isnan(t_loss)
    np.testing.assert_array_equal(loss_fn.backward(), t_grad.numpy())   # zeros, not NaN


def test_mean_over_zero_total_weight_is_nan_even_with_label_smoothing_as_torch():
    """The smoothing term alone is finite there, but torch adds it to the NLL mean 0/0
    (found by the thorough profile: scratch used to give inf)."""
    logits, target, weight = np.zeros((2, 2)), np.array([0, -100]), np.array([0.0, 0.5])
    loss_fn = nn.CrossEntropyLoss(weight, label_smoothing=0.1)
    loss = loss_fn(logits, target)
    t_loss, t_grad = torch_loss(TF.cross_entropy, logits, target, weight, 1.0, np.float64,
                                label_smoothing=0.1)
    assert np.isnan(loss) and torch.isnan(t_loss)
    np.testing.assert_array_equal(loss_fn.backward(), t_grad.numpy())   # NaN row, zero row


@dtypes
@given(shapes=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4)), min_size=1,
                       max_size=3),
       lam=st.floats(0, 1, width=32), data=st.data())
def test_l2_penalty_matches_torch(shapes, lam, data, dtype):
    arrays = [data.draw(S.array(s, S.WEIGHT_VALUES), label=f"w{i}").astype(dtype)
              for i, s in enumerate(shapes)]
    dout = dtype(data.draw(st.floats(-3, 3, width=32), label="dout"))
    penalty = F.l2_penalty(arrays, lam)
    grads = F.l2_penalty_backward(arrays, lam, dout)
    inputs = {f"w{i}": a for i, a in enumerate(arrays)}
    t_pen, g = torch_run(lambda **ws: 0.5 * lam * sum((w * w).sum() for w in ws.values()),
                         inputs, np.asarray(dout), dtype)
    size = sum(a.size for a in arrays)
    assert_parity(dict(penalty=penalty, **{k: v for k, v in zip(inputs, grads)}),
                  dict(penalty=t_pen, **{k: g[k] for k in inputs}), dtype,
                  reductions=dict(penalty=size))


# --------------------------------------------------------------------------- modules
@dtypes
@given(case=S.loss_cases(), nll=st.booleans())
def test_loss_modules_match_torch_modules(case, nll, dtype):
    """The module, built with torch's positional argument order, against torch's module;
    a class weight is a buffer in both state dicts."""
    if nll:  # NLLLoss takes no label smoothing nor probabilities: use the index target form
        case = S.LossCase(case.logits, np.zeros(case.logits.shape[:1] + case.logits.shape[2:]
                                                if case.logits.ndim > 1 else (), np.int64),
                          case.weight, case.ignore_index, 0.0, case.reduction, case.seed)
    logits, target, weight = cast(case, dtype)
    args = (weight, None, case.ignore_index, None, case.reduction)
    if nll:
        mine, theirs = nn.NLLLoss(*args), torch.nn.NLLLoss(
            None if weight is None else torch.from_numpy(weight), *args[1:])
    else:
        mine = nn.CrossEntropyLoss(*args, case.label_smoothing)
        theirs = torch.nn.CrossEntropyLoss(None if weight is None else torch.from_numpy(weight),
                                           *args[1:], case.label_smoothing)
    loss = mine(logits, target)
    dloss = upstream(case.seed, loss.shape, dtype)
    dlogits = mine.backward(dloss)
    tx = torch.tensor(logits, requires_grad=True)
    t_loss = theirs(tx, torch.from_numpy(target))
    t_loss.backward(torch.from_numpy(dloss))
    assert_parity_nan(dict(loss=loss, dlogits=dlogits), dict(loss=t_loss, dlogits=tx.grad),
                      dtype, loss_budget(logits, case))
    assert {k: v.tolist() for k, v in mine.state_dict().items()} == {
        k: v.tolist() for k, v in theirs.state_dict().items()}


@pytest.mark.parametrize("size_average", [None, True, False])
@pytest.mark.parametrize("reduce", [None, True, False])
@pytest.mark.parametrize("cls", ["CrossEntropyLoss", "NLLLoss"])
def test_deprecated_size_average_and_reduce_map_to_reduction_as_torch(size_average, reduce,
                                                                      cls):
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        mine = getattr(nn, cls)(None, size_average, -100, reduce, "sum")
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        twin = getattr(torch.nn, cls)(None, size_average, -100, reduce, "sum")
    assert mine.reduction == twin.reduction
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]


@pytest.mark.parametrize("size_average", [None, True, False])
@pytest.mark.parametrize("reduce", [None, True, False])
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_functional_deprecated_size_average_and_reduce_equal_torch(size_average, reduce, name):
    """The functional pair takes the deprecated flags too (same positions as torch's):
    the loss they select, its gradient and the warning equal torch's."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3))
    target = np.array([0, 2, 1, 2])
    forward, backward = getattr(F, f"{name}_forward"), getattr(F, f"{name}_backward")
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        loss, cache = forward(x, target, None, size_average, -100, reduce)
    tx = torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        t_loss = getattr(TF, name)(tx, torch.from_numpy(target), None, size_average, -100,
                                   reduce)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    dloss = rng.standard_normal(np.shape(loss))
    t_loss.backward(torch.from_numpy(dloss))
    assert_parity(dict(loss=loss, dx=backward(dloss, cache)),
                  dict(loss=t_loss, dx=tx.grad), np.float64)


# --------------------------------------------------------------------------- model path
@dtypes
@S.fewer_examples(1 / 3)   # whole networks
@given(architecture=S.architectures(), seed=S.SEEDS, n=st.integers(2, 4),
       weighted=st.booleans(), ignore_first=st.booleans())
def test_model_with_log_softmax_and_nll_loss_matches_torch(architecture, seed, n, weighted,
                                                           ignore_first, dtype):
    """pytorch/examples' MNIST ending: log_softmax(dim=1) in the model, then NLLLoss."""
    arch = A.Architecture(architecture.input_shape,
                          architecture.layers + (("log_softmax", A.LogSoftmax(1)),))
    scratch, torch_model = twins(arch, dtype, seed)
    x, y = batch_for(arch, n, seed, dtype)
    if ignore_first:
        y[0] = -100
    classes = arch.num_outputs
    weight = (np.arange(1, classes + 1) / classes).astype(dtype) if weighted else None
    k = comparison_budget(arch, torch_model, x)

    loss_fn = nn.NLLLoss(weight)
    loss = loss_fn(scratch.forward(x), y)
    dx = scratch.backward(loss_fn.backward(np.asarray(1.0, dtype)))
    tx = torch.tensor(x, requires_grad=True)
    t_loss = TF.nll_loss(torch_model(tx), torch.from_numpy(y),
                         None if weight is None else torch.from_numpy(weight))
    t_loss.backward()
    grads = {f"grad:{name}": p.grad for name, p in scratch.named_parameters()}
    t_grads = {f"grad:{name}": p.grad for name, p in torch_model.named_parameters()}
    assert_parity(dict(loss=loss, dx=dx, **grads), dict(loss=t_loss, dx=tx.grad, **t_grads),
                  dtype, {name: k for name in ["loss", "dx", *grads]})


@dtypes
@given(seed=S.SEEDS, n=st.integers(1, 3), data=st.data())
def test_model_with_pixelwise_cross_entropy_matches_torch(seed, n, data, dtype):
    """K-dimensional logits: a conv net's per-pixel class scores (N, C, H, W), targets
    (N, H, W) with ignored pixels, as in segmentation."""
    arch = A.Architecture((2, 4, 4), (("conv", A.Conv2d(3, 3, padding=1)), ("act", A.GELU())))
    scratch, torch_model = twins(arch, dtype, seed)
    x = np.random.default_rng(seed).standard_normal((n, 2, 4, 4)).astype(dtype)
    y = np.array(data.draw(st.lists(st.sampled_from([0, 1, 2, 255]), min_size=n * 16,
                                    max_size=n * 16), label="y"), np.int64).reshape(n, 4, 4)
    loss_fn = nn.CrossEntropyLoss(ignore_index=255, label_smoothing=0.1)
    loss = loss_fn(scratch.forward(x), y)
    dx = scratch.backward(loss_fn.backward(np.asarray(1.0, dtype)))
    tx = torch.tensor(x, requires_grad=True)
    t_loss = TF.cross_entropy(torch_model(tx), torch.from_numpy(y), ignore_index=255,
                              label_smoothing=0.1)
    t_loss.backward()
    grads = {f"grad:{name}": p.grad for name, p in scratch.named_parameters()}
    t_grads = {f"grad:{name}": p.grad for name, p in torch_model.named_parameters()}
    k = 2 * 9 + n * 16 * 3
    assert_parity_nan(dict(loss=loss, dx=dx, **grads),
                      dict(loss=t_loss, dx=tx.grad, **t_grads), dtype,
                      {name: k for name in ["loss", "dx", *grads]})


# --------------------------------------------------------------------------- finite differences
def _finite(case):
    """'mean' over zero total weight is NaN (no derivative): take 'sum' for those draws."""
    if case.reduction != "mean" or case.probabilities:
        return case.reduction
    counted = case.target != case.ignore_index
    w = np.ones(case.logits.shape[0 if case.logits.ndim == 1 else 1]) if case.weight is None \
        else case.weight
    return "mean" if w[case.target[counted]].sum() > 0 else "sum"


@given(case=S.loss_cases(min_batch=1))
def test_cross_entropy_backward_matches_finite_differences(case):
    kw = dict(options(case), reduction=_finite(case))
    check(lambda z: F.cross_entropy_forward(z, case.target, case.weight, **kw),
          F.cross_entropy_backward, case.logits)


@given(case=S.loss_cases(probabilities=False, smoothing=False, min_batch=1))
def test_nll_loss_backward_matches_finite_differences(case):
    kw = dict(options(case, nll=True), reduction=_finite(case))
    check(lambda z: F.nll_loss_forward(z, case.target, case.weight, **kw),
          F.nll_loss_backward, case.logits)


@given(shapes=st.lists(st.tuples(st.integers(1, 3), st.integers(1, 3)), min_size=1,
                       max_size=3), lam=st.floats(0.01, 1), seed=S.SEEDS)
def test_l2_penalty_backward_matches_finite_differences(shapes, lam, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-1, 1, s) for s in shapes]
    check(lambda *ws: (F.l2_penalty(ws, lam), ws),
          lambda dout, ws: F.l2_penalty_backward(ws, lam, float(dout)), *arrays)


# --------------------------------------------------------------------------- errors
def zeros(*shape):
    return np.zeros(shape, np.float32)


@given(c=st.integers(1, 6), data=st.data())
def test_class_weights_of_the_wrong_length_name_expected_and_got(c, data):
    wrong = data.draw(st.integers(1, 8).filter(lambda k: k != c), label="len(weight)")
    for loss_fn in (nn.CrossEntropyLoss(np.ones(wrong)), nn.NLLLoss(np.ones(wrong))):
        name = type(loss_fn).__name__
        with pytest.raises(ValueError, match=rf"^{name}: weight must have one entry per class: "
                                             rf"expected shape \({c},\) .*{c} classes .*got "
                                             rf"weight of shape \({wrong},\)"):
            loss_fn(zeros(2, c), np.zeros(2, np.int64))


@given(n=st.integers(1, 5), c=st.integers(1, 6), ignore_index=st.sampled_from([-100, -1, 0]),
       data=st.data())
def test_targets_outside_the_classes_other_than_ignore_index_are_refused(n, c, ignore_index,
                                                                         data):
    target = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    target[0] = ignore_index                                           # allowed
    bad = data.draw(st.one_of(st.integers(-5, -1), st.integers(c, c + 5)).filter(
        lambda b: b != ignore_index), label="bad")
    target[data.draw(st.integers(0, n - 1))] = bad
    if (target == bad).any():
        for cls in (nn.CrossEntropyLoss, nn.NLLLoss):
            with pytest.raises(ValueError, match=rf"^{cls.__name__}: target class {bad} is out "
                                                 rf"of range for {c} classes \(valid: 0 to "
                                                 rf"{c - 1}\); only ignore_index="
                                                 rf"{ignore_index} may lie outside"):
                cls(ignore_index=ignore_index)(zeros(n, c), target)


@pytest.mark.parametrize("shape, axis", [((3, 4), 1), ((4,), 0), ((2, 4, 3), 1)])
def test_one_hot_targets_advise_argmax_or_probabilities(shape, axis):
    onehot = np.zeros(shape, np.int64)
    shape_re = re.escape(str(shape))
    with pytest.raises(TypeError, match=rf"CrossEntropyLoss: a target of the logits' shape "
                                        rf"{shape_re} is read as class probabilities and "
                                        rf"must be floating-point, got dtype int64; for one-hot "
                                        rf"labels pass class indices, target\.argmax\(axis="
                                        rf"{axis}\), or probabilities as floats"):
        nn.CrossEntropyLoss()(np.zeros(shape, np.float32), onehot)


LOSS_ERRORS = [
    ("probabilities_with_ignore_index",
     lambda: nn.CrossEntropyLoss(ignore_index=1)(zeros(3, 4), zeros(3, 4)), ValueError,
     r"CrossEntropyLoss: ignore_index is not supported for class-probability targets .*got "
     r"ignore_index=1"),
    ("label_smoothing_above_1", lambda: nn.CrossEntropyLoss(label_smoothing=1.5), ValueError,
     r"CrossEntropyLoss: label_smoothing must be between 0 and 1 .*got 1\.5"),
    ("label_smoothing_negative", lambda: nn.CrossEntropyLoss(label_smoothing=-0.1),
     ValueError, r"CrossEntropyLoss: label_smoothing must be between 0 and 1 .*got -0\.1"),
    ("weight_2d", lambda: nn.CrossEntropyLoss(np.ones((2, 2))), TypeError,
     r"CrossEntropyLoss: weight must be a 1-D array of per-class weights \(C,\)"),
    ("weight_string_as_old_reduction", lambda: nn.CrossEntropyLoss("sum"), TypeError,
     r"CrossEntropyLoss: weight must be a 1-D array .*got 'sum'"),
    ("nll_probabilities", lambda: nn.NLLLoss()(zeros(3, 4), zeros(3, 4)), ValueError,
     r"NLLLoss expects target of shape \(3,\) \(one class index per row of logits of batch "
     r"size 3\), got shape \(3, 4\)"),
    ("kdim_target_shape", lambda: nn.CrossEntropyLoss()(zeros(2, 3, 4), np.zeros((2, 3), int)),
     ValueError, r"CrossEntropyLoss expects target of shape \(2, 4\) \(one class index per "
     r"position .*or class probabilities of the logits' shape \(2, 3, 4\), got shape \(2, 3\)"),
    ("unbatched_target_shape", lambda: nn.CrossEntropyLoss()(zeros(4), np.array([1])),
     ValueError, r"CrossEntropyLoss expects target of shape \(\) \(a 0-d class index for "
     r"unbatched logits"),
    ("logits_0d", lambda: nn.CrossEntropyLoss()(zeros(), np.array(0)),
     ValueError, r"CrossEntropyLoss expects logits of shape \(C,\), \(N, C\) or \(N, C, d1, "
     r"\.\.\.\) \(at least 1 dim\), got shape \(\)"),
    ("ignore_index_float", lambda: nn.NLLLoss(ignore_index=0.5), TypeError,
     r"NLLLoss: ignore_index must be an int, got 0\.5"),
]


@pytest.mark.parametrize("make, error, message", [c[1:] for c in LOSS_ERRORS],
                         ids=[c[0] for c in LOSS_ERRORS])
def test_bad_loss_arguments_and_targets_are_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


@dtypes
def test_torch_positional_order_weight_then_ignore_index_then_reduction(dtype):
    """``CrossEntropyLoss(weight, size_average, ignore_index, reduce, reduction,
    label_smoothing)`` means the same thing positionally on both sides."""
    weight = np.array([0.5, 2.0, 1.0], dtype)
    mine = nn.CrossEntropyLoss(weight, None, 2, None, "sum", 0.2)
    theirs = torch.nn.CrossEntropyLoss(torch.from_numpy(weight), None, 2, None, "sum", 0.2)
    logits = np.random.default_rng(1).standard_normal((4, 3)).astype(dtype)
    target = np.array([0, 2, 1, 2])
    assert_parity(dict(loss=mine(logits, target)),
                  dict(loss=theirs(torch.from_numpy(logits), torch.from_numpy(target))),
                  dtype, dict(loss=12))
