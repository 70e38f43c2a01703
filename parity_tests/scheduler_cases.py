"""Scheduler cases drawn for the parity tests: a :class:`Spec` builds the same scheduler
on either side (scratch or torch), ``setups()`` draws optimizer groups, a scheduler and a
number of steps, and :func:`horizon` gives the number of steps that passes every boundary
a scheduler has (milestones, ``total_iters``, the end of a cosine half-period or of a
one-cycle schedule) by at least one step.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from hypothesis import note
from hypothesis import strategies as st

from scratch import optim
from scratch.nn import Parameter


class Decay:
    """A callable object with state: torch's state_dict saves its ``__dict__``, not None."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, epoch):
        return self.rate ** epoch


LAMBDAS = {"pow": lambda epoch: 0.9 ** epoch, "inverse": lambda epoch: 1.0 / (epoch + 1),
           "constant": lambda epoch: 0.95, "object": Decay(0.8)}


@dataclass
class Spec:
    """A scheduler to build on either side: ``name`` in lr_scheduler, its kwargs, and
    for SequentialLR/ChainedScheduler the child specs."""
    name: str
    kwargs: dict
    children: list = field(default_factory=list)

    def build(self, module, opt):
        kwargs = dict(self.kwargs)
        if "lr_lambda" in kwargs:
            kwargs["lr_lambda"] = LAMBDAS[kwargs["lr_lambda"]]
        if self.name == "SequentialLR":
            return module.SequentialLR(opt, [c.build(module, opt) for c in self.children],
                                       **kwargs)
        if self.name == "ChainedScheduler":
            children = [c.build(module, opt) for c in self.children]
            return module.ChainedScheduler(children, **({"optimizer": opt} if kwargs else {}))
        return getattr(module, self.name)(opt, **kwargs)


GAMMAS = st.floats(0.1, 1.0)
ITERS = st.integers(1, 8)


def simple_spec_strategies() -> dict:
    """name -> a strategy drawing that scheduler with every argument away from its
    default somewhere in its range (``last_epoch`` is drawn by the resume tests)."""
    return {
        "StepLR": st.builds(lambda s, g: Spec("StepLR", dict(step_size=s, gamma=g)),
                            st.integers(1, 5), GAMMAS),
        "MultiStepLR": st.builds(lambda m, g: Spec("MultiStepLR", dict(milestones=m, gamma=g)),
                                 st.lists(st.integers(1, 10), max_size=4), GAMMAS),
        "ExponentialLR": st.builds(lambda g: Spec("ExponentialLR", dict(gamma=g)),
                                   st.floats(0.5, 1.0)),
        "LinearLR": st.builds(lambda a, b, n: Spec("LinearLR", dict(
            start_factor=a, end_factor=b, total_iters=n)),
            st.floats(0.01, 1.0), st.floats(0.0, 1.0), ITERS),
        "ConstantLR": st.builds(lambda f, n: Spec("ConstantLR", dict(factor=f, total_iters=n)),
                                st.floats(0.05, 1.0), st.integers(0, 8)),
        "PolynomialLR": st.builds(lambda n, p: Spec("PolynomialLR", dict(total_iters=n,
                                                                         power=p)),
                                  ITERS, st.floats(0.5, 3.0)),
        "CosineAnnealingLR": st.builds(lambda t, e: Spec("CosineAnnealingLR", dict(
            T_max=t, eta_min=e)), st.integers(1, 10), st.one_of(st.just(0.0),
                                                                 st.floats(0.0, 1e-3))),
        "LambdaLR": st.builds(lambda f: Spec("LambdaLR", dict(lr_lambda=f)),
                              st.sampled_from(sorted(LAMBDAS))),
        "MultiplicativeLR": st.builds(lambda f: Spec("MultiplicativeLR", dict(lr_lambda=f)),
                                      st.sampled_from(sorted(LAMBDAS))),
        "OneCycleLR": one_cycle_specs(),
    }


def simple_specs():
    return st.one_of(*simple_spec_strategies().values())


@st.composite
def one_cycle_specs(draw, cycle_momentum=st.booleans()):
    """Every OneCycleLR argument: total_steps >= 12 >= the steps the other tests take,
    given as ``total_steps`` or as ``epochs * steps_per_epoch``; pct_start * total_steps > 1,
    so every phase is longer than 0 steps (a phase of length 0 divides by zero in torch);
    the factors and momenta away from their defaults."""
    total = 12 + draw(st.integers(0, 4))
    if draw(st.booleans()):
        steps = {"total_steps": total}
    else:
        epochs = draw(st.sampled_from([e for e in range(1, total + 1) if total % e == 0]))
        steps = {"epochs": epochs, "steps_per_epoch": total // epochs}
    base_momentum = draw(st.floats(0.5, 0.9))
    return Spec("OneCycleLR", dict(
        max_lr=draw(st.floats(0.01, 1.0)), **steps, pct_start=draw(st.floats(0.1, 0.45)),
        anneal_strategy=draw(st.sampled_from(["cos", "linear"])),
        three_phase=draw(st.booleans()), cycle_momentum=draw(cycle_momentum),
        base_momentum=base_momentum, max_momentum=draw(st.floats(base_momentum, 0.99)),
        div_factor=draw(st.floats(2.0, 50.0)), final_div_factor=draw(st.floats(10.0, 1e5))))


def total_steps(spec: Spec) -> int:
    """A OneCycleLR spec's total steps, in either of its two forms."""
    kwargs = spec.kwargs
    return kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]


@st.composite
def specs(draw):
    """A simple scheduler, or two chained, or two in sequence (OneCycleLR, which owns
    the schedule and forbids stepping past its end, only alone)."""
    kind = draw(st.sampled_from(["simple", "simple", "chained", "sequential"]))
    if kind == "simple":
        return draw(simple_specs())
    children = draw(st.lists(simple_specs().filter(lambda s: s.name != "OneCycleLR"),
                             min_size=2, max_size=2))
    if kind == "chained":       # the optimizer passed explicitly, or taken from the children
        return Spec("ChainedScheduler", {"optimizer": True} if draw(st.booleans()) else {},
                    children)
    return Spec("SequentialLR", dict(milestones=[draw(st.integers(1, 8))],
                                     last_epoch=draw(st.sampled_from([-1, -1, 0, 3]))),
                children)


OPTIMIZERS = ["SGD", "Adam", "AdamW"]   # momentum, or betas whose beta1 OneCycleLR cycles


@st.composite
def setups(draw):
    """Group lrs and momenta (SGD's momentum or Adam's beta1), the scheduler, the number
    of steps."""
    n_steps = draw(st.integers(1, 12))
    lrs = draw(st.lists(st.floats(1e-3, 1.0), min_size=1, max_size=3))
    momentum = draw(st.floats(0.5, 0.99))
    return lrs, (draw(st.sampled_from(OPTIMIZERS)), momentum), draw(specs()), n_steps


def optimizer_pair(lrs, momentum, tensor_lr=False):
    """``momentum``: a float (SGD), or ``(optimizer name, momentum or beta1)``."""
    name, momentum = momentum if isinstance(momentum, tuple) else ("SGD", momentum)
    hyper = dict(momentum=momentum) if name == "SGD" else dict(betas=(momentum, 0.999))
    params = [Parameter(np.zeros(2)) for _ in lrs]
    t_params = [torch.zeros(2, dtype=torch.float64, requires_grad=True) for _ in lrs]
    lr_of = (lambda lr: np.array(lr)) if tensor_lr else (lambda lr: lr)
    t_lr_of = (lambda lr: torch.tensor(lr, dtype=torch.float64)) if tensor_lr else (lambda lr: lr)
    opt = getattr(optim, name)([{"params": [p], "lr": lr_of(lr)} for p, lr in zip(params, lrs)],
                               lr=0.1, **hyper)
    t_opt = getattr(torch.optim, name)(
        [{"params": [p], "lr": t_lr_of(lr)} for p, lr in zip(t_params, lrs)], lr=0.1, **hyper)
    return opt, t_opt


def _floats(values):
    return [float(v) for v in values]


def assert_same(sched, t_sched, opt, t_opt, where, states=True):
    note(f"{where}: scratch {_floats(sched.get_last_lr())}, torch "
         f"{_floats(t_sched.get_last_lr())}")
    assert _floats(sched.get_last_lr()) == _floats(t_sched.get_last_lr()), where
    for group, t_group in zip(opt.param_groups, t_opt.param_groups):
        assert float(group["lr"]) == float(t_group["lr"]), where
        assert group.get("momentum") == t_group.get("momentum"), where
        assert _floats(group.get("betas", ())) == _floats(t_group.get("betas", ())), where
    if states:
        assert sched.state_dict() == t_sched.state_dict(), where


def step_once(sched, opt, metric=None):
    opt.step()
    if metric is None:
        sched.step()
    else:
        sched.step(metric)


def horizon(spec: Spec) -> int:
    """Steps after construction that pass every boundary of ``spec`` by at least one step:
    each milestone, ``total_iters``, the end of a cosine half-period and the next one, a
    ``SequentialLR`` switch and its second scheduler's own boundaries. For ``OneCycleLR``,
    exactly the steps it allows (``total_steps``): stepping once more is an error."""
    kwargs = spec.kwargs
    if spec.name == "OneCycleLR":
        return total_steps(spec)
    if spec.name == "StepLR":
        return 2 * kwargs["step_size"] + 1
    if spec.name == "MultiStepLR":
        return max(kwargs["milestones"], default=0) + 1
    if spec.name in ("LinearLR", "ConstantLR", "PolynomialLR"):
        return kwargs["total_iters"] + 1
    if spec.name == "CosineAnnealingLR":
        return 2 * kwargs["T_max"] + 1
    if spec.name == "ChainedScheduler":
        return max(horizon(c) for c in spec.children)
    if spec.name == "SequentialLR":
        first, second = spec.children
        return max(horizon(first), kwargs["milestones"][0] + horizon(second))
    return 3                                        # ExponentialLR, LambdaLR, MultiplicativeLR
