"""scratch.optim.lr_scheduler against torch.optim.lr_scheduler: the lr of every group
(and the momentum or beta1 OneCycleLR cycles) after construction and after every
step, ``get_last_lr()``, ``last_epoch`` and ``state_dict()``, for hypothesis-drawn
schedulers, chained and sequential ones included, on optimizers with several groups.

Both sides evaluate the same Python float expressions in the same order, so the
comparison is exact (``==``), not within a tolerance. Resuming (state dicts saved
mid-run and loaded into a fresh optimizer and scheduler, or ``last_epoch=k``) must
also give torch's lrs bit for bit.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests.helpers import assert_parity
from parity_tests.optim_problems import steps_reduction
from parity_tests.scheduler_cases import (
    OPTIMIZERS,
    Spec,
    assert_same,
    horizon,
    one_cycle_specs,
    optimizer_pair,
    setups,
    simple_spec_strategies,
    simple_specs,
    specs,
    step_once,
)
from reference import convert
from scratch import optim
from scratch.nn import Parameter
from scratch.optim import lr_scheduler


@given(setup=setups(), tensor_lr=st.booleans())
def test_scheduler_lrs_and_state_dicts_equal_torch(setup, tensor_lr):
    """After construction and after every step: the same lrs (exactly), momenta, and
    ``state_dict()`` as torch's (keys and values; lambdas saved as None)."""
    lrs, momentum, spec, n_steps = setup
    opt, t_opt = optimizer_pair(lrs, momentum, tensor_lr)
    sched, t_sched = spec.build(lr_scheduler, opt), spec.build(torch.optim.lr_scheduler, t_opt)
    assert_same(sched, t_sched, opt, t_opt, "constructed", states=not tensor_lr)
    for step in range(n_steps):
        step_once(sched, opt)
        step_once(t_sched, t_opt)
        assert_same(sched, t_sched, opt, t_opt, f"step {step + 1}", states=not tensor_lr)
    if tensor_lr:  # the scheduler fills the very array the optimizer reads
        assert all(isinstance(g["lr"], np.ndarray) for g in opt.param_groups)


@given(lrs=st.lists(st.floats(1e-3, 1.0), min_size=1, max_size=3),
       momentum=st.tuples(st.sampled_from(OPTIMIZERS), st.floats(0.5, 0.99)), spec=specs())
def test_every_boundary_step_equals_torch(lrs, momentum, spec):
    """Stepped exactly ``horizon(spec)`` times, one step past every milestone,
    ``total_iters``, cosine half-period and ``SequentialLR`` switch, each step compared:
    a schedule that changes one step early or late at its last boundary fails here,
    however short the drawn runs of the other tests are. ``OneCycleLR`` is stepped to
    its very last allowed step, and one more is refused on both sides."""
    opt, t_opt = optimizer_pair(lrs, momentum)
    sched, t_sched = spec.build(lr_scheduler, opt), spec.build(torch.optim.lr_scheduler, t_opt)
    for step in range(horizon(spec)):
        step_once(sched, opt)
        step_once(t_sched, t_opt)
        assert_same(sched, t_sched, opt, t_opt, f"step {step + 1} of {horizon(spec)}")
    if spec.name == "OneCycleLR":
        for s, o in ((sched, opt), (t_sched, t_opt)):
            with pytest.raises(ValueError, match="Tried to step"):
                step_once(s, o)


@pytest.mark.parametrize("last_epoch", [0, 3])
@given(lrs=st.lists(st.floats(1e-3, 1.0), min_size=1, max_size=3),
       children=st.lists(simple_specs().filter(lambda s: s.name != "OneCycleLR"), min_size=2,
                         max_size=2),
       milestone=st.integers(1, 8))
def test_sequential_lr_started_at_a_later_epoch_equals_torch(last_epoch, lrs, children,
                                                             milestone):
    """``SequentialLR(..., last_epoch=k)`` starts its own count at ``k + 1`` (its children
    keep theirs), so the switch to the second scheduler comes ``k + 1`` steps early."""
    spec = Spec("SequentialLR", dict(milestones=[milestone], last_epoch=last_epoch), children)
    opt, t_opt = optimizer_pair(lrs, 0.9)
    sched, t_sched = spec.build(lr_scheduler, opt), spec.build(torch.optim.lr_scheduler, t_opt)
    for step in range(horizon(spec)):
        step_once(sched, opt)
        step_once(t_sched, t_opt)
        assert_same(sched, t_sched, opt, t_opt, f"step {step + 1}")


@given(lrs=st.lists(st.floats(1e-3, 1.0), min_size=1, max_size=3),
       mode=st.sampled_from(["min", "max"]), threshold_mode=st.sampled_from(["rel", "abs"]),
       patience=st.integers(0, 3), cooldown=st.integers(0, 3), factor=st.floats(0.1, 0.9),
       min_lr=st.floats(0.0, 0.05))
def test_reduce_lr_on_plateau_boundaries_equal_torch(lrs, mode, threshold_mode, patience,
                                                     cooldown, factor, min_lr):
    """A flat metric for long enough to pass ``patience``, then ``cooldown``, then
    ``patience`` again (three reductions), for every mode and threshold mode together:
    the lr at each of those exact steps equals torch's."""
    kwargs = dict(mode=mode, threshold_mode=threshold_mode, patience=patience,
                  cooldown=cooldown, factor=factor, min_lr=min_lr)
    opt, t_opt = optimizer_pair(lrs, 0.9)
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    metrics = [1.0] + [1.0 - 1e-6] * 3 * (patience + cooldown + 2)
    for i, metric in enumerate(metrics):
        step_once(sched, opt, metric)
        step_once(t_sched, t_opt, metric)
        assert_same(sched, t_sched, opt, t_opt, f"metric {i}")


@given(setup=setups(), data=st.data())
def test_resuming_from_state_dicts_continues_bit_for_bit(setup, data):
    """Save optimizer and scheduler after ``k`` steps; a fresh optimizer and scheduler
    (built as at the start) load both and continue with exactly the lrs of the run that
    never stopped, which are torch's."""
    lrs, momentum, spec, n_steps = setup
    k = data.draw(st.integers(0, n_steps), label="k")
    opt, t_opt = optimizer_pair(lrs, momentum)
    sched, t_sched = spec.build(lr_scheduler, opt), spec.build(torch.optim.lr_scheduler, t_opt)
    for _ in range(k):
        step_once(sched, opt)
        step_once(t_sched, t_opt)
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
    opt2, _ = optimizer_pair(lrs, momentum)
    sched2 = spec.build(lr_scheduler, opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    assert_same(sched2, t_sched, opt2, t_opt, "resumed")
    for step in range(k, n_steps):
        step_once(sched, opt)
        step_once(sched2, opt2)
        step_once(t_sched, t_opt)
        assert_same(sched2, t_sched, opt2, t_opt, f"step {step + 1}")
        assert_same(sched, t_sched, opt, t_opt, f"step {step + 1} uninterrupted")


@pytest.mark.parametrize("name", OPTIMIZERS)
@given(spec=one_cycle_specs(cycle_momentum=st.just(True)),
       lrs=st.lists(st.floats(1e-3, 1.0), min_size=1, max_size=3),
       momentum=st.floats(0.5, 0.99), n_steps=st.integers(1, 12))
def test_one_cycle_cycles_sgd_momentum_and_adam_beta1_like_torch(name, spec, lrs, momentum,
                                                                  n_steps):
    """OneCycleLR's momentum cycle writes SGD's ``momentum`` and Adam's/AdamW's
    ``betas[0]`` (beta2 untouched), step by step as torch's."""
    opt, t_opt = optimizer_pair(lrs, (name, momentum))
    sched, t_sched = spec.build(lr_scheduler, opt), spec.build(torch.optim.lr_scheduler, t_opt)
    for step in range(n_steps):
        step_once(sched, opt)
        step_once(t_sched, t_opt)
        assert_same(sched, t_sched, opt, t_opt, f"step {step + 1}")


CLOSED_FORMS = ["StepLR", "MultiStepLR", "ExponentialLR", "LinearLR", "ConstantLR",
                "PolynomialLR", "CosineAnnealingLR"]


@pytest.mark.filterwarnings("ignore:The epoch parameter")
@given(setup=setups().filter(lambda s: s[2].name in CLOSED_FORMS),
       epochs=st.lists(st.integers(0, 20), min_size=1, max_size=6))
def test_step_with_an_epoch_uses_torchs_closed_form(setup, epochs):
    """``step(epoch)`` (deprecated in torch, still honoured) jumps to ``epoch`` through
    each scheduler's closed form: epochs drawn in any order, before and past
    ``total_iters``/``T_max``/the milestones, give torch's lrs exactly."""
    lrs, momentum, spec, _ = setup
    opt, t_opt = optimizer_pair(lrs, momentum)
    sched, t_sched = spec.build(lr_scheduler, opt), spec.build(torch.optim.lr_scheduler, t_opt)
    for epoch in epochs:
        opt.step()
        t_opt.step()
        sched.step(epoch)
        t_sched.step(epoch)
        assert_same(sched, t_sched, opt, t_opt, f"step({epoch})")


RESUMABLE = ["StepLR", "MultiStepLR", "ExponentialLR", "LinearLR", "ConstantLR",
             "PolynomialLR", "CosineAnnealingLR", "LambdaLR", "MultiplicativeLR", "OneCycleLR"]


@pytest.mark.parametrize("name", RESUMABLE)
@given(lrs=st.lists(st.floats(1e-3, 1.0), min_size=1, max_size=3),
       momentum=st.tuples(st.sampled_from(OPTIMIZERS), st.floats(0.5, 0.99)),
       n_steps=st.integers(1, 12), data=st.data())
def test_last_epoch_resume_equals_torch(name, lrs, momentum, n_steps, data):
    """A scheduler built with ``last_epoch=k`` over an optimizer whose groups hold
    ``initial_lr`` (loaded from a state dict, converted from torch's) gives torch's lrs
    from there on; without ``initial_lr`` both refuse with KeyError."""
    spec = data.draw(simple_spec_strategies()[name], label="spec")
    k = data.draw(st.integers(0, n_steps - 1), label="k")
    opt, t_opt = optimizer_pair(lrs, momentum)
    with pytest.raises(KeyError, match="initial_lr"):
        Spec(spec.name, dict(spec.kwargs, last_epoch=k)).build(lr_scheduler, opt)
    with pytest.raises(KeyError, match="initial_lr"):
        Spec(spec.name, dict(spec.kwargs, last_epoch=k)).build(torch.optim.lr_scheduler, t_opt)
    t_sched = spec.build(torch.optim.lr_scheduler, t_opt)
    for _ in range(k):
        step_once(t_sched, t_opt)
    opt.load_state_dict(convert.optimizer_state_dict_to_numpy(t_opt.state_dict()))
    resumed = Spec(spec.name, dict(spec.kwargs, last_epoch=k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = resumed.build(lr_scheduler, opt)
        t_resumed = resumed.build(torch.optim.lr_scheduler, t_opt)
    assert_same(sched, t_resumed, opt, t_opt, "resumed")
    for step in range(k, n_steps - 1):
        step_once(sched, opt)
        step_once(t_resumed, t_opt)
        assert_same(sched, t_resumed, opt, t_opt, f"step {step + 1}")


@st.composite
def plateau_setups(draw):
    """Every option; ``min_lr`` one for all groups or one per group (reached within the
    drawn metrics: up to 0.5 against lrs from 1e-3)."""
    lrs = draw(st.lists(st.floats(1e-3, 1.0), min_size=1, max_size=3))
    min_lr = st.one_of(st.just(0.0), st.floats(0.0, 1e-2), st.floats(0.0, 0.5))
    kwargs = dict(mode=draw(st.sampled_from(["min", "max"])), factor=draw(st.floats(0.1, 0.9)),
                  patience=draw(st.integers(0, 3)), threshold=draw(st.floats(0.0, 0.1)),
                  threshold_mode=draw(st.sampled_from(["rel", "abs"])),
                  cooldown=draw(st.integers(0, 2)),
                  min_lr=draw(st.one_of(min_lr, st.lists(min_lr, min_size=len(lrs),
                                                         max_size=len(lrs)))),
                  eps=draw(st.sampled_from([1e-8, 1e-3])))
    # few distinct values, so plateaus and ties happen
    metrics = draw(st.lists(st.sampled_from([1.0, 0.9, 0.8999, 0.5, 2.0]), min_size=1,
                            max_size=15))
    return lrs, kwargs, metrics


@given(setup=plateau_setups(), data=st.data())
def test_reduce_lr_on_plateau_equals_torch_and_resumes(setup, data):
    """Every option; lrs and state dicts equal torch's after each metric; a fresh
    scheduler loading the state dict mid-run continues identically."""
    lrs, kwargs, metrics = setup
    k = data.draw(st.integers(0, len(metrics)), label="k")
    with_epoch = data.draw(st.booleans(), label="step(metric, epoch)")
    opt, t_opt = optimizer_pair(lrs, 0.9)
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    for i, metric in enumerate(metrics):
        if i == k:
            opt_state, state = opt.state_dict(), sched.state_dict()
            opt, _ = optimizer_pair(lrs, 0.9)
            sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
            opt.load_state_dict(opt_state)
            sched.load_state_dict(state)
        if with_epoch:   # torch's deprecated explicit epoch: warned, and it sets last_epoch
            for sc, o in ((sched, opt), (t_sched, t_opt)):
                o.step()
                with pytest.warns(UserWarning, match="epoch parameter"):
                    sc.step(metric, epoch=2 * i + 1)
                assert sc.last_epoch == 2 * i + 1
        else:
            step_once(sched, opt, metric)
            step_once(t_sched, t_opt, metric)
        assert_same(sched, t_sched, opt, t_opt, f"metric {i}")


def test_adadelta_with_step_lr_trains_like_torch():
    """The pytorch/examples MNIST pairing (Adadelta lr 1.0, StepLR gamma 0.7 per epoch)
    on a small problem: the weights follow torch's through several epochs."""
    rng = np.random.default_rng(0)
    init = [rng.uniform(-1, 1, s) for s in [(4, 3), (4,), ()]]
    params = [Parameter(a.copy()) for a in init]
    t_params = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt, t_opt = optim.Adadelta(params, lr=1.0), torch.optim.Adadelta(t_params, lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    t_sched = torch.optim.lr_scheduler.StepLR(t_opt, step_size=1, gamma=0.7)
    n = 0
    for _epoch in range(4):
        for _ in range(3):
            for p, t in zip(params, t_params):
                g = rng.standard_normal(p.data.shape)
                p.grad, t.grad = g.copy(), torch.from_numpy(g.copy())
            opt.step()
            t_opt.step()
            n += 1
        sched.step()
        t_sched.step()
        assert sched.get_last_lr() == t_sched.get_last_lr()
    assert_parity({f"p{i}": p.data for i, p in enumerate(params)},
                  {f"p{i}": t.detach() for i, t in enumerate(t_params)}, np.float64,
                  reductions={f"p{i}": steps_reduction(n) for i in range(len(params))})


def test_scheduler_errors_and_warnings_like_torch():
    opt, t_opt = optimizer_pair([0.1], 0.9)
    for module, o in ((lr_scheduler, opt), (torch.optim.lr_scheduler, t_opt)):
        with pytest.raises(TypeError, match="is not an Optimizer"):
            module.StepLR(object(), 1)
        with pytest.raises(ValueError, match="between 0 and 1"):
            module.ConstantLR(o, factor=1.5)
        with pytest.raises(ValueError, match="Factor should be < 1.0"):
            module.ReduceLROnPlateau(o, factor=1.0)
        with pytest.raises(ValueError, match="total_steps OR"):
            module.OneCycleLR(o, max_lr=1.0)
        sched = module.StepLR(o, 1)
        with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
            sched.step()
        o.step()
        one_cycle = module.OneCycleLR(o, max_lr=1.0, total_steps=1)
        one_cycle.step()
        with pytest.raises(ValueError, match="Tried to step 2 times"):
            one_cycle.step()
        with pytest.raises(ValueError, match="number of milestone points"):
            module.SequentialLR(o, [module.StepLR(o, 1)], milestones=[1])


def test_cosine_lr_function_is_still_importable():
    assert optim.cosine_lr(1.0, 0, 10) == 1.0
    assert optim.lr_scheduler.cosine_lr is optim.cosine_lr
