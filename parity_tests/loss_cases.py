"""Drawn cases for the losses of ``scratch.functional.{regression,probability,margin}_loss``:
one strategy per loss, valid by construction, with values at each loss's kinks drawn
on purpose (equal input and target, differences of exactly beta or delta, margins
violated by exactly 0, orthogonal pairs at a zero cosine margin, probabilities of 0
and 1, variances under ``eps``), every reduction and every input form torch accepts.

A case names the differentiable arrays (``inputs``, in the loss's argument order),
the constants (``consts``: targets, weights, a float variance), the keyword options
both functionals share, and the module's constructor arguments in torch's order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from parity_tests.strategies import INPUT_VALUES, SEEDS, array

REDUCTIONS = st.sampled_from(["mean", "sum", "none"])
PROBABILITIES = st.one_of(st.sampled_from([0.0, 1.0, 0.5, 0.25]), st.floats(0, 1, width=32))
POSITIVE = st.one_of(st.sampled_from([0.5, 1.0, 2.0]), st.floats(0.125, 4, width=32))
INTEGERS = st.integers(-2, 2).map(float)


@dataclass
class LossCase:
    name: str
    inputs: dict                   # differentiable arrays, in argument order
    consts: dict                   # targets, weights (arrays or None), a float var
    options: dict                  # keyword options of both functionals
    module_args: tuple = ()        # positional constructor arguments (torch's order)
    module_kwargs: dict = field(default_factory=dict)
    seed: int = 0


@st.composite
def shapes(draw, min_dims=0, max_dims=3, min_side=0):
    """Any rank up to ``max_dims``; a zero-size axis now and then."""
    ndim = draw(st.integers(min_dims, max_dims))
    sides = st.one_of(st.integers(max(min_side, 1), 3), st.just(min_side))
    return tuple(draw(sides) for _ in range(ndim))


def _suffix(draw, shape, label):
    """A weight shape that broadcasts to ``shape``: a suffix of it, ones allowed."""
    k = draw(st.integers(0, len(shape)), label=f"{label} rank")
    return tuple(draw(st.sampled_from([1, s])) for s in shape[len(shape) - k:])


@st.composite
def elementwise_cases(draw, name):
    """MSE, L1, smooth L1, Huber, soft margin: input and target of one shape."""
    shape = draw(shapes())
    x = draw(array(shape))
    reduction = draw(REDUCTIONS)
    options = dict(reduction=reduction)
    if name == "soft_margin_loss":
        target = draw(array(shape, st.sampled_from([1.0, -1.0])))
    else:   # near the input: equal (the L1 kink) or 0.5, 1, 2 apart (the beta/delta kinks)
        offset = draw(array(shape, st.one_of(st.sampled_from([0.0, 0.5, -1.0, 1.0, 2.0]),
                                             st.floats(-3, 3, width=32))))
        target = np.asarray(x + offset).astype(np.float32).astype(np.float64)
    args = (None, None, reduction)
    if name == "smooth_l1_loss":
        options["beta"] = draw(st.sampled_from([1.0, 0.5, 2.0, 0.0]), label="beta")
        args += (options["beta"],)
    if name == "huber_loss":
        options["delta"] = draw(st.sampled_from([1.0, 0.5, 2.0]), label="delta")
        args = (reduction, options["delta"])
    return LossCase(name, dict(input=x), dict(target=target), options, args,
                    seed=draw(SEEDS))


@st.composite
def bce_cases(draw, logits=False):
    shape = draw(shapes())
    x = draw(array(shape, INPUT_VALUES if logits else PROBABILITIES))
    target = draw(array(shape, PROBABILITIES))
    reduction = draw(REDUCTIONS)
    weight = (draw(array(_suffix(draw, shape, "weight"), POSITIVE))
              if draw(st.booleans(), label="weighted") else None)
    consts = dict(target=target, weight=weight)
    options = dict(reduction=reduction)
    args = (weight, None, None, reduction)
    name = "binary_cross_entropy"
    if logits:
        name += "_with_logits"
        pos_weight = None
        if shape and draw(st.booleans(), label="pos_weight"):
            pos_weight = draw(array((shape[-1],) if draw(st.booleans()) else shape, POSITIVE))
        consts["pos_weight"] = pos_weight
        args += (pos_weight,)
    return LossCase(name, dict(input=x), consts, options, args, seed=draw(SEEDS))


@st.composite
def kl_div_cases(draw):
    shape = draw(shapes())
    log_target = draw(st.booleans(), label="log_target")
    x = draw(array(shape))
    target = draw(array(shape, INPUT_VALUES if log_target else
                        st.one_of(st.just(0.0), PROBABILITIES, POSITIVE)))
    reduction = draw(st.sampled_from(["mean", "sum", "none", "batchmean"]))
    return LossCase("kl_div", dict(input=x), dict(target=target),
                    dict(reduction=reduction, log_target=log_target),
                    (None, None, reduction, log_target), seed=draw(SEEDS))


@st.composite
def multi_margin_cases(draw):
    """Integer scores with margin 1 violate margins by exactly 0 often (the kink)."""
    batched = draw(st.booleans(), label="batched")
    c = draw(st.integers(1, 4))
    reduction = draw(REDUCTIONS)   # torch reduces an empty batch to whatever memory held
    n = draw(st.integers(reduction != "none", 3)) if batched else None
    shape = (n, c) if batched else (c,)
    x = draw(array(shape, st.one_of(INTEGERS, INPUT_VALUES)))
    target = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n if batched else 1,
                                   max_size=n if batched else 1)),
                      np.int64).reshape(shape[:-1])
    p = draw(st.sampled_from([1, 2]))
    margin = draw(st.sampled_from([1.0, 0.5, 2.0, 0.0]))
    weight = draw(array((c,), POSITIVE)) if draw(st.booleans(), label="weighted") else None
    return LossCase("multi_margin_loss", dict(input=x), dict(target=target, weight=weight),
                    dict(p=p, margin=margin, reduction=reduction),
                    (p, margin, weight, None, None, reduction), seed=draw(SEEDS))


@st.composite
def cosine_embedding_cases(draw):
    """Zeros among the values make orthogonal pairs, a zero cosine: the kink of the
    default margin 0."""
    batched = draw(st.booleans(), label="batched")
    d = draw(st.integers(1, 4))
    n = draw(st.integers(0, 3)) if batched else None
    shape = (n, d) if batched else (d,)
    values = st.one_of(st.just(0.0), INPUT_VALUES)
    x1, x2 = draw(array(shape, values)), draw(array(shape, values))
    size = n if batched else 1
    target = np.array(draw(st.lists(st.sampled_from([1, -1, -1, 0]), min_size=size,
                                    max_size=size)), np.int64).reshape(shape[:-1])
    margin = draw(st.sampled_from([0.0, 0.0, 0.5, -0.5]))
    reduction = draw(REDUCTIONS)
    return LossCase("cosine_embedding_loss", dict(input1=x1, input2=x2), dict(target=target),
                    dict(margin=margin, reduction=reduction), (margin, None, None, reduction),
                    seed=draw(SEEDS))


@st.composite
def gaussian_nll_cases(draw):
    """var: the input's shape, its shape less the last dim, one dim of size 1, or a
    float; some entries below eps (clamped) or exactly 0."""
    shape = draw(shapes(min_dims=1, min_side=1))
    x, target = draw(array(shape)), draw(array(shape))
    eps = draw(st.sampled_from([1e-6, 0.25]))
    var_values = st.one_of(POSITIVE, st.sampled_from([0.0, 1e-7, 0.125]))
    form = draw(st.sampled_from(["same", "last_dim_dropped", "one_dim_1", "float"]))
    inputs, consts = dict(input=x), dict(target=target)
    if form == "float":
        consts["var"] = draw(st.sampled_from([0.5, 2.0, 1e-7]))
    else:
        if form == "same":
            vshape = shape
        elif form == "last_dim_dropped":
            vshape = shape[:-1]
        else:
            axis = draw(st.integers(0, len(shape) - 1))
            vshape = shape[:axis] + (1,) + shape[axis + 1:]
            if vshape == shape:
                vshape = shape[:-1]            # that axis had size 1 already
        inputs["var"] = draw(array(vshape, var_values))
    options = dict(full=draw(st.booleans()), eps=eps, reduction=draw(REDUCTIONS))
    return LossCase("gaussian_nll_loss", inputs, consts, options, (), dict(options),
                    seed=draw(SEEDS))


CASES = {
    "mse_loss": elementwise_cases("mse_loss"),
    "l1_loss": elementwise_cases("l1_loss"),
    "smooth_l1_loss": elementwise_cases("smooth_l1_loss"),
    "huber_loss": elementwise_cases("huber_loss"),
    "soft_margin_loss": elementwise_cases("soft_margin_loss"),
    "binary_cross_entropy": bce_cases(),
    "binary_cross_entropy_with_logits": bce_cases(logits=True),
    "kl_div": kl_div_cases(),
    "multi_margin_loss": multi_margin_cases(),
    "cosine_embedding_loss": cosine_embedding_cases(),
    "gaussian_nll_loss": gaussian_nll_cases(),
}

MODULES = {"mse_loss": "MSELoss", "l1_loss": "L1Loss", "smooth_l1_loss": "SmoothL1Loss",
           "huber_loss": "HuberLoss", "soft_margin_loss": "SoftMarginLoss",
           "binary_cross_entropy": "BCELoss",
           "binary_cross_entropy_with_logits": "BCEWithLogitsLoss", "kl_div": "KLDivLoss",
           "multi_margin_loss": "MultiMarginLoss",
           "cosine_embedding_loss": "CosineEmbeddingLoss",
           "gaussian_nll_loss": "GaussianNLLLoss"}
