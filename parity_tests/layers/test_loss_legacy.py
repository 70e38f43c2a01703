"""The deprecated ``size_average``/``reduce`` flags of every loss that still takes them
(besides cross entropy and NLL, tested in test_loss.py), functional and module: the
reduction they select, torch's deprecation warning word for word, the loss value and the
input gradients equal torch's for every combination of the two flags.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from parity_tests.helpers import assert_parity
from scratch import functional as F
from scratch import nn

FLAGS = [(s, r) for s in (None, True, False) for r in (None, True, False)
         if (s, r) != (None, None)]


def _inputs(name, rng):
    """(differentiable inputs, the target) for one loss, valid for its domain."""
    x = rng.standard_normal((4, 3))
    if name == "cosine_embedding_loss":
        return [x, rng.standard_normal((4, 3))], np.array([1.0, -1.0, -1.0, 1.0])
    if name == "multi_margin_loss":
        return [x], np.array([0, 2, 1, 2])
    if name == "soft_margin_loss":
        return [x], np.sign(rng.standard_normal((4, 3)))
    if name == "binary_cross_entropy":
        return [rng.uniform(0.05, 0.95, (4, 3))], rng.uniform(0, 1, (4, 3))
    if name == "binary_cross_entropy_with_logits":
        return [x], rng.uniform(0, 1, (4, 3))
    if name == "kl_div":
        logp = x - np.log(np.exp(x).sum(-1, keepdims=True))
        return [logp], rng.dirichlet(np.ones(3), 4)
    return [x], rng.standard_normal((4, 3))          # l1, mse, smooth l1


FUNCTIONAL = ["cosine_embedding_loss", "multi_margin_loss", "soft_margin_loss",
              "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
              "l1_loss", "mse_loss", "smooth_l1_loss"]
MODULES = {"CosineEmbeddingLoss": "cosine_embedding_loss",
           "MultiMarginLoss": "multi_margin_loss", "SoftMarginLoss": "soft_margin_loss",
           "BCELoss": "binary_cross_entropy",
           "BCEWithLogitsLoss": "binary_cross_entropy_with_logits", "KLDivLoss": "kl_div",
           "L1Loss": "l1_loss", "MSELoss": "mse_loss", "SmoothL1Loss": "smooth_l1_loss"}


def _messages(record):
    return [str(w.message) for w in record]


@pytest.mark.parametrize("size_average,reduce", FLAGS)
@pytest.mark.parametrize("name", FUNCTIONAL)
def test_functional_deprecated_flags_equal_torch(name, size_average, reduce):
    rng = np.random.default_rng(7)
    xs, target = _inputs(name, rng)
    flags = dict(size_average=size_average, reduce=reduce)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        loss, cache = getattr(F, f"{name}_forward")(*xs, target, **flags)
    txs = [torch.tensor(x, requires_grad=True) for x in xs]
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        t_loss = getattr(TF, name)(*txs, torch.from_numpy(target), **flags)
    assert _messages(ours) == _messages(theirs)
    assert np.shape(loss) == tuple(t_loss.shape)      # 'none' keeps the element shape
    dloss = rng.standard_normal(np.shape(loss))
    t_loss.backward(torch.from_numpy(dloss))
    grads = getattr(F, f"{name}_backward")(dloss, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert_parity({"loss": np.asarray(loss), **{f"dx{i}": g for i, g in enumerate(grads)}},
                  {"loss": t_loss, **{f"dx{i}": t.grad for i, t in enumerate(txs)}},
                  np.float64)


@pytest.mark.parametrize("size_average,reduce", FLAGS)
@pytest.mark.parametrize("cls", sorted(MODULES))
def test_module_deprecated_flags_equal_torch(cls, size_average, reduce):
    rng = np.random.default_rng(8)
    xs, target = _inputs(MODULES[cls], rng)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        mine = getattr(nn, cls)(size_average=size_average, reduce=reduce)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        twin = getattr(torch.nn, cls)(size_average=size_average, reduce=reduce)
    assert mine.reduction == twin.reduction
    assert _messages(ours) == _messages(theirs)
    assert repr(mine) == repr(twin)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # KLDivLoss's own 'mean' notice
        loss = mine(*xs, target)
        txs = [torch.tensor(x, requires_grad=True) for x in xs]
        t_loss = twin(*txs, torch.from_numpy(target))
    dloss = rng.standard_normal(np.shape(loss))
    t_loss.backward(torch.from_numpy(dloss))
    grads = mine.backward(dloss)
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert_parity({"loss": np.asarray(loss), **{f"dx{i}": g for i, g in enumerate(grads)}},
                  {"loss": t_loss, **{f"dx{i}": t.grad for i, t in enumerate(txs)}},
                  np.float64)
