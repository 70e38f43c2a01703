"""Shared objects: drawn module trees that always hold a tied parameter (one Parameter
registered under two names) and a reused module, against the same tree in torch, through
``parameters``, ``zero_grad``, ``load_state_dict``, every optimizer and gradient clipping;
and a tied parameter used by two modules in one forward, which torch's autograd sums
and scratch (each backward *sets* ``.grad``) refuses rather than get wrong.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import module_trees as T
from parity_tests import strategies as S
from parity_tests.helpers import assert_close
from scratch import nn, optim
from scratch.nn import utils

OPTIMIZERS = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "RMSprop", "Adamax", "NAdam",
              "RAdam", "ASGD", "Rprop"]
# float32 parameters, three elementwise optimizer steps: a few float32 roundings apart
RTOL, ATOL = 1e-5, 1e-6


@st.composite
def shared_trees(draw):
    """A root holding a Linear (so there is a parameter to tie), a drawn tree, a tied
    parameter and a reused module (each picked from what was built before it)."""
    return T.Custom("Net", (
        T.Entry("fc", "child", "attr", node=T.Leaf("linear", (2, 3, True))),
        T.Entry("body", "child", "attr", node=draw(T.nodes(2))),
        T.Entry("tied", "tied", pick=draw(st.integers(0, 50))),
        T.Entry("skip", "shared", pick=draw(st.integers(0, 50)))))


def _filled(tree, seed):
    """The twins with the same random values and gradients in every distinct parameter."""
    ours, theirs = T.twins(tree)
    rng = np.random.default_rng(seed)
    mine, twin = list(ours.parameters()), list(theirs.parameters())
    assert len(mine) == len(twin) == len({id(p) for p in mine})
    for p, t in zip(mine, twin):
        p.data[...] = rng.standard_normal(p.data.shape).astype(np.float32)
        with torch.no_grad():
            t.copy_(torch.from_numpy(p.data))
    return ours, theirs


def _give_grads(ours, theirs, rng):
    for p, t in zip(ours.parameters(), theirs.parameters()):
        p.grad = rng.standard_normal(p.data.shape).astype(np.float32)
        t.grad = torch.from_numpy(p.grad.copy())


def _assert_same(ours, theirs, what="data"):
    pairs = list(zip(ours.named_parameters(remove_duplicate=False),
                     theirs.named_parameters(remove_duplicate=False), strict=True))
    for (name, p), (t_name, t) in pairs:
        assert name == t_name
        value, t_value = getattr(p, what), getattr(t, what)
        if t_value is None:
            assert value is None, name
            continue
        assert_close(value, t_value, RTOL, ATOL, name)


@S.fewer_examples(1 / 3)
@given(tree=shared_trees(), seed=S.SEEDS, name=st.sampled_from(OPTIMIZERS))
def test_optimizer_steps_a_tied_parameter_once_as_torch(tree, seed, name):
    ours, theirs = _filled(tree, seed)
    lr = {"lr": 0.1} if name == "SGD" else {}
    opt = getattr(optim, name)(ours.parameters(), **lr)
    t_opt = getattr(torch.optim, name)(theirs.parameters(), **lr)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        _give_grads(ours, theirs, rng)
        opt.step()
        t_opt.step()
    _assert_same(ours, theirs)
    opt.zero_grad()
    t_opt.zero_grad()
    _assert_same(ours, theirs, "grad")


@given(tree=shared_trees(), seed=S.SEEDS, set_to_none=st.booleans())
def test_zero_grad_clears_every_name_of_a_tied_parameter_as_torch(tree, seed, set_to_none):
    ours, theirs = _filled(tree, seed)
    _give_grads(ours, theirs, np.random.default_rng(seed))
    ours.zero_grad(set_to_none)
    theirs.zero_grad(set_to_none)
    _assert_same(ours, theirs, "grad")


@given(tree=shared_trees(), seed=S.SEEDS, max_norm=st.floats(0.1, 3.0),
       norm_type=st.sampled_from([1.0, 2.0, float("inf")]), twice=st.booleans())
def test_clipping_visits_a_tied_gradient_as_torch(tree, seed, max_norm, norm_type, twice):
    """Over ``parameters()`` (each tied parameter once) and over a list naming every
    parameter twice (torch counts and scales what it is given)."""
    ours, theirs = _filled(tree, seed)
    _give_grads(ours, theirs, np.random.default_rng(seed))
    mine, twin = list(ours.parameters()), list(theirs.parameters())
    if twice:
        mine, twin = mine + mine, twin + twin
    total = utils.clip_grad_norm_(mine, max_norm, norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(twin, max_norm, norm_type)
    assert_close(total, t_total, RTOL, ATOL, "total norm")
    _assert_same(ours, theirs, "grad")
    utils.clip_grad_value_(mine, max_norm / 4)
    torch.nn.utils.clip_grad_value_(twin, max_norm / 4)
    _assert_same(ours, theirs, "grad")


@given(tree=shared_trees(), seed=S.SEEDS)
def test_loading_a_state_sets_a_tied_parameter_as_torch(tree, seed):
    """A tied parameter is saved under each name; loading writes it under each name
    (the last one wins in both libraries)."""
    ours, theirs = _filled(tree, seed)
    rng = np.random.default_rng(seed + 1)
    state = {k: torch.from_numpy(rng.standard_normal(tuple(v.shape)).astype(np.float32))
             for k, v in theirs.state_dict().items() if v.dtype == torch.float32}
    theirs.load_state_dict(state, strict=False)
    ours.load_state_dict({k: v.numpy() for k, v in state.items()}, strict=False)
    _assert_same(ours, theirs)


# ------------------------------------------------------------ a tied parameter used twice
def _tied_linears(lib, dtype):
    first, second = lib.nn.Linear(3, 3, dtype=dtype), lib.nn.Linear(3, 3, dtype=dtype)
    second.weight = first.weight
    return first, second


def test_a_tied_parameter_used_twice_in_one_forward_is_refused_not_overwritten():
    """torch sums the two modules' gradients of a tied weight; scratch's backward would
    set .grad twice and keep only the last, so the second module's backward is refused
    with an error naming the tie."""
    rng = np.random.default_rng(0)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    first, second = _tied_linears(T.SCRATCH, np.float64)
    out = second(first(x))
    assert out.shape == dout.shape
    with pytest.raises(RuntimeError, match="'weight' is also a parameter of Linear.*tied"):
        second.backward(dout)
    t_first, t_second = _tied_linears(T.TORCH, torch.float64)
    with torch.no_grad():
        t_first.weight.copy_(torch.from_numpy(first.weight.data))
    tx = torch.from_numpy(x)
    t_second(t_first(tx)).backward(torch.from_numpy(dout))
    w, h = first.weight.data, t_first(tx).detach().numpy()
    second_use, first_use = dout.T @ h, (dout @ w).T @ x
    assert not np.allclose(second_use, first_use)
    assert_close(t_first.weight.grad, second_use + first_use, 1e-12, name="grad")


def test_a_tied_parameter_used_by_one_module_per_pass_trains_as_before():
    """Tied but used by one module at a time (each forward followed by its backward):
    single use, no refusal, the gradient equals torch's."""
    rng = np.random.default_rng(1)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    first, second = _tied_linears(T.SCRATCH, np.float64)
    first(x)
    first.backward(dout)
    second(x)
    second.backward(dout)
    t_first, t_second = _tied_linears(T.TORCH, torch.float64)
    with torch.no_grad():
        t_first.weight.copy_(torch.from_numpy(first.weight.data))
        t_second.bias.copy_(torch.from_numpy(second.bias.data))
    t_second(torch.from_numpy(x)).backward(torch.from_numpy(dout))
    assert_close(second.weight.grad, t_second.weight.grad, 1e-12, name="grad")


def test_a_reused_module_is_refused_at_its_second_backward():
    """A module applied twice in one forward keeps only the second call's cache: its
    second backward is refused (torch would sum both uses)."""
    layer = nn.Linear(3, 3, dtype=np.float64)
    x = np.random.default_rng(2).standard_normal((2, 3))
    out = layer(layer(x))
    layer.backward(np.ones_like(out) * 0.5)
    with pytest.raises(RuntimeError, match="second time after one forward"):
        layer.backward(np.ones_like(out) * 0.5)
