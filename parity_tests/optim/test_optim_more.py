"""NAdam, RAdam, Adamax, Rprop and ASGD against torch.optim: every option step by step in 1-3
parameter groups (the runner, ``check_against_torch``, compares parameters and every
state array after each step, within the step tolerance of
:mod:`parity_tests.optim_problems`), NAdam's momentum schedule over many steps,
RAdam across its switch to the rectified step, torch's state-dict layout, exact
mid-run round trips, repr, argument checks and the constructor signature.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import (
    assert_close,
    dtypes,
)
from parity_tests.optim_problems import (
    MORE_NAMES,
    assert_params_match,
    build,
    check_against_torch,
    grouped,
    optim_problems,
    set_grads,
)
from reference import convert
from scratch import optim
from scratch.nn import Parameter

LONG = optim_problems(min_steps=6, max_steps=8)


@pytest.mark.parametrize("name", MORE_NAMES)
@dtypes
@given(data=st.data())
def test_optimizer_matches_torch_optim(name, dtype, data):
    problem, kwargs = data.draw(grouped(name, LONG if name == "RAdam" else None))
    check_against_torch(name, problem, kwargs, dtype)


@dtypes
@given(momentum_decay=st.sampled_from([4e-3, 0.05, 0.5]), beta1=st.floats(0.5, 0.99),
       seed=S.SEEDS)
def test_nadam_momentum_schedule_over_many_steps_matches_torch(momentum_decay, beta1, seed,
                                                                dtype):
    """30 steps: the product of the mu_t (a float32 scalar in torch) and mu_{t+1}."""
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(4).astype(dtype)
    p, t = Parameter(p0.copy()), torch.tensor(p0.copy(), requires_grad=True)
    kw = dict(lr=0.01, betas=(beta1, 0.999), momentum_decay=momentum_decay)
    opt, t_opt = optim.NAdam([p], **kw), torch.optim.NAdam([t], **kw)
    for _ in range(30):
        g = rng.standard_normal(4).astype(dtype)
        set_grads([p], [t], [g])
        opt.step()
        t_opt.step()
    assert opt.state[p]["mu_product"].dtype == np.float32
    assert float(opt.state[p]["mu_product"]) == float(t_opt.state[t]["mu_product"])
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert_close(p.data, t, rtol, 30 * rtol, "param")


@pytest.mark.parametrize("name", MORE_NAMES)
@dtypes
@given(data=st.data())
def test_state_dict_layout_equals_torch_and_round_trips(name, dtype, data):
    """Packed layout and group values as torch's; a saved state loaded into a fresh
    optimizer continues as torch's does from its own saved state."""
    problem, kwargs = data.draw(grouped(name, optim_problems(min_steps=4, max_steps=5)))
    params, t_params, opt, t_opt = build(name, problem, kwargs, dtype)
    grads = problem.grads(dtype)
    for row in grads[:2]:
        set_grads(params, t_params, row)
        opt.step()
        t_opt.step()
    ours, theirs = opt.state_dict(), convert.optimizer_state_dict_to_numpy(t_opt.state_dict())
    assert ours["param_groups"] == theirs["param_groups"]
    assert ours["state"].keys() == theirs["state"].keys()
    for i in ours["state"]:
        assert list(ours["state"][i]) == list(theirs["state"][i])
    # resumed from the saved states, both sides continue alike (torch casts a loaded
    # NAdam mu_product to the parameter's dtype, so a resumed float64 run may differ in
    # the last bits from the uninterrupted one: on both sides)
    copies = [Parameter(p.data.copy()) for p in params]
    t_copies = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    resumed = getattr(optim, name)(problem.param_groups(copies), **kwargs)
    t_resumed = getattr(torch.optim, name)(problem.param_groups(t_copies), **kwargs)
    resumed.load_state_dict(ours)
    t_resumed.load_state_dict(t_opt.state_dict())
    for step, row in enumerate(grads[2:], start=3):
        set_grads(copies, t_copies, row)
        resumed.step()
        t_resumed.step()
        assert_params_match(copies, t_copies, dtype, step)


@pytest.mark.parametrize("name", MORE_NAMES)
@given(data=st.data())
def test_optimizers_print_as_torch(name, data):
    problem, kwargs = data.draw(grouped(name))
    _, _, opt, t_opt = build(name, problem, kwargs, np.float64)
    assert repr(opt) == repr(t_opt)


@pytest.mark.parametrize("name", MORE_NAMES)
def test_constructor_signature_equals_torch(name):
    ours = inspect.signature(getattr(optim, name))
    theirs = inspect.signature(getattr(torch.optim, name))
    assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == [
        (p.name, p.kind, p.default) for p in theirs.parameters.values()]


BAD = [("NAdam", dict(momentum_decay=-1.0)), ("NAdam", dict(betas=(1.0, 0.9))),
       ("RAdam", dict(eps=-1.0)), ("RAdam", dict(lr=-0.1)),
       ("Adamax", dict(betas=(0.9, 1.5))), ("Adamax", dict(weight_decay=-1.0)),
       ("Rprop", dict(etas=(1.5, 1.2))), ("Rprop", dict(lr=-1.0)),
       ("ASGD", dict(weight_decay=-0.1))]


@pytest.mark.parametrize("name, kwargs", BAD, ids=[f"{n}-{k}" for n, k in BAD])
def test_invalid_arguments_raise_value_error_like_torch(name, kwargs):
    with pytest.raises(ValueError) as ours:
        getattr(optim, name)([Parameter(np.zeros(2))], **kwargs)
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    assert str(ours.value) == str(theirs.value)
