"""Strategies and the step-by-step runner shared by the optimizer parity tests.

The reference is torch's single-tensor implementation (``foreach=False``), which
is also what torch's default (``foreach=None``) runs for CPU tensors.

Tolerance: a parameter after ``n`` steps is the sum of ``n`` updates, and the
update of step ``k`` reads running averages (momentum buffers, moments,
accumulators) that themselves sum the ``k`` gradients seen so far, each term
rounded once per operation. Rounding errors made in a buffer re-enter every
later update, so the number of rounded terms behind the parameter is
``1 + 2 + ... + n = n (n + 1) / 2``: the reduction size passed to
:func:`assert_parity`. Magnitudes stay within the helper's assumption
(|M| <= 16): parameters start in [-1, 1], gradients are normal with scale <= 1,
lr <= 0.5 (Adadelta's, whose step is scaled by sqrt(eps), up to 1), at most 5
steps. The two sides are not bit-identical: torch's CPU kernels fuse some
multiply-adds (one rounding where NumPy rounds twice), so float64 results
differ in the last bits and float32 ones by a few float32 ulps.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from parity_tests import strategies as S
from parity_tests.helpers import assert_parity
from scratch import optim
from scratch.nn import Parameter

NAMES = ["SGD", "Adam", "AdamW", "Adadelta", "RMSprop", "Adagrad"]

# Properties drawn once per optimizer and dtype (12 variants) run a third of the
# profile's examples each (10 in ci, 200 in thorough): the suite's time budget.
per_variant = settings(max_examples=max(5, settings.default.max_examples // 3))


@dataclass
class OptimProblem:
    """Initial parameters, their split into groups, and per step a gradient or None for
    each parameter."""
    params: list            # float64 arrays, exactly representable in float32
    present: list           # present[step][i]: does parameter i get a gradient at step
    seed: int
    grad_scale: float
    zero_fraction: float
    groups: list = field(default_factory=list)   # [(param indices, overrides)]

    def grads(self, dtype):
        """The gradient sequence: normal values (never all ones), some exact zeros."""
        rng = np.random.default_rng(self.seed)
        steps = []
        for row in self.present:
            grads = []
            for p, has_grad in zip(self.params, row):
                g = np.asarray(rng.standard_normal(p.shape) * self.grad_scale)
                g[rng.random(p.shape) < self.zero_fraction] = 0.0
                grads.append(np.asarray(g, dtype=dtype) if has_grad else None)
            steps.append(grads)
        return steps

    def param_groups(self, params):
        """The constructor's ``params``: a plain list, or group dicts with overrides."""
        if not self.groups:
            return list(params)
        return [{"params": [params[i] for i in indices], **overrides}
                for indices, overrides in self.groups]


@st.composite
def optim_problems(draw, allow_missing_grads=True, min_steps=3, max_steps=5):
    """1-3 parameters of small shapes (0-d included), 3-5 steps of gradients."""
    shapes = draw(st.lists(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
                           min_size=1, max_size=3))
    params = [draw(S.array(shape, S.WEIGHT_VALUES)) for shape in shapes]
    n_steps = draw(st.integers(min_steps, max_steps))
    # About one gradient in four is None: torch skips such a parameter for that step.
    has_grad = st.sampled_from([True, True, True, False]) if allow_missing_grads else st.just(True)
    present = [[draw(has_grad) for _ in params] for _ in range(n_steps)]
    return OptimProblem(params=params, present=present, seed=draw(S.SEEDS),
                        grad_scale=draw(st.sampled_from([1e-2, 1.0])),
                        zero_fraction=draw(st.sampled_from([0.0, 0.0, 0.3])))


LRS = st.floats(1e-4, 0.5)
WEIGHT_DECAYS = st.one_of(st.just(0.0), st.floats(1e-4, 0.1))
EPS = st.sampled_from([1e-8, 1e-6, 1e-3])


@st.composite
def sgd_kwargs(draw):
    """Only valid combinations: nesterov needs momentum > 0 and zero dampening."""
    nesterov = draw(st.booleans())
    momentum = draw(st.floats(0.01, 0.99) if nesterov
                    else st.one_of(st.just(0.0), st.floats(0.01, 0.99)))
    dampening = 0.0 if nesterov else draw(st.one_of(st.just(0.0), st.floats(0.0, 0.9)))
    return dict(lr=draw(LRS), momentum=momentum, dampening=dampening, nesterov=nesterov,
                weight_decay=draw(WEIGHT_DECAYS), maximize=draw(st.booleans()))


@st.composite
def adam_kwargs(draw, decoupled_choice=True):
    """beta1 covers both branches of torch's lerp (weight ``1 - beta1`` below and above
    0.5). beta2 stays in [0.9, 0.9999] (torch's default is 0.999): with a shorter memory
    the step ``lr * m_hat / sqrt(v_hat)`` divides by the size of the latest gradient
    alone: a gradient that nearly cancels its L2 term (``g + wd*p ~ 0``) amplifies
    last-bit differences between any two correct implementations without bound, and an
    exact zero after a nonzero gradient gives a step of ``lr * m / eps``, far outside
    the magnitudes the helper's tolerances assume. (Seen with beta2 = 0: torch's own
    float32 result was as far from the float64 one as scratch's.)"""
    kwargs = dict(lr=draw(LRS), betas=(draw(st.floats(0.0, 0.99)), draw(st.floats(0.9, 0.9999))),
                  eps=draw(EPS), weight_decay=draw(WEIGHT_DECAYS), amsgrad=draw(st.booleans()),
                  maximize=draw(st.booleans()))
    if decoupled_choice:
        kwargs["decoupled_weight_decay"] = draw(st.booleans())
    return kwargs


@st.composite
def adadelta_kwargs(draw):
    """rho over its whole range [0, 1] (1 freezes both averages: delta = grad)."""
    return dict(lr=draw(st.floats(1e-3, 1.0)), rho=draw(st.floats(0.0, 1.0)),
                eps=draw(st.sampled_from([1e-6, 1e-4])), weight_decay=draw(WEIGHT_DECAYS),
                maximize=draw(st.booleans()))


@st.composite
def rmsprop_kwargs(draw):
    """alpha in [0.5, 0.99]: the centered variance ``v - a*a`` is at least about
    ``alpha*(1 - alpha)*g*g`` after the first step, so its cancellation amplifies
    rounding by at most ~100, inside the float32 budget; an alpha near 0 or 1 makes it
    ill-conditioned for any two implementations."""
    return dict(lr=draw(st.floats(1e-4, 0.1)), alpha=draw(st.floats(0.5, 0.99)),
                eps=draw(EPS), weight_decay=draw(WEIGHT_DECAYS),
                momentum=draw(st.one_of(st.just(0.0), st.floats(0.01, 0.9))),
                centered=draw(st.booleans()), maximize=draw(st.booleans()))


@st.composite
def adagrad_kwargs(draw):
    return dict(lr=draw(LRS), lr_decay=draw(st.one_of(st.just(0.0), st.floats(0.0, 0.5))),
                weight_decay=draw(WEIGHT_DECAYS),
                initial_accumulator_value=draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0))),
                eps=draw(st.sampled_from([1e-10, 1e-6, 1e-3])), maximize=draw(st.booleans()))


KWARGS = {"SGD": sgd_kwargs(), "Adam": adam_kwargs(), "AdamW": adam_kwargs(False),
          "Adadelta": adadelta_kwargs(), "RMSprop": rmsprop_kwargs(),
          "Adagrad": adagrad_kwargs()}


@st.composite
def grouped(draw, name, problems=None):
    """``(problem, kwargs)`` where the parameters are split into 1-3 groups, each
    overriding a drawn subset of the hyperparameters with values drawn afresh."""
    problem = draw(problems if problems is not None else optim_problems())
    kwargs = draw(KWARGS[name])
    n = len(problem.params)
    order = draw(st.permutations(range(n)))
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=2))) if n > 1 else []
    bounds = [0, *cuts, n]
    groups = []
    for lo, hi in zip(bounds, bounds[1:]):
        other = draw(KWARGS[name])
        keys = draw(st.sets(st.sampled_from(sorted(other))))
        groups.append((list(order[lo:hi]), {k: other[k] for k in sorted(keys)}))
    problem.groups = groups
    return problem, kwargs


def build(name, problem, kwargs, dtype, foreach=False):
    """The scratch and the torch optimizer over fresh copies of the problem's params."""
    params = [Parameter(p.astype(dtype)) for p in problem.params]
    t_params = [torch.tensor(p.astype(dtype), requires_grad=True) for p in problem.params]
    opt = getattr(optim, name)(problem.param_groups(params), **kwargs, foreach=foreach)
    t_opt = getattr(torch.optim, name)(problem.param_groups(t_params), **kwargs,
                                       foreach=foreach)
    return params, t_params, opt, t_opt


def set_grads(params, t_params, grads):
    for p, t, g in zip(params, t_params, grads):
        p.grad = None if g is None else g.copy()
        t.grad = None if g is None else torch.from_numpy(g.copy())


def steps_reduction(n_steps: int) -> int:
    """Rounded terms behind a parameter after ``n_steps`` (see the module docstring)."""
    return n_steps * (n_steps + 1) // 2


def assert_state_matches(opt, t_opt, params, t_params, dtype):
    """Same state keys per parameter as torch; arrays within tolerance and of the
    parameter's dtype; step counts equal. A state array after ``k`` steps of its
    parameter sums ``k`` rounded terms."""
    for i, (p, t) in enumerate(zip(params, t_params)):
        state, t_state = opt.state.get(p, {}), t_opt.state.get(t, {})
        assert state.keys() == t_state.keys(), (i, sorted(state), sorted(t_state))
        if "step" in state:
            assert float(state["step"]) == float(t_state["step"])
        scalars = [k for k in ("mu_product", "eta", "mu") if k in state]
        for k in scalars:   # NAdam's, ASGD's float32 scalars: exact, in torch's dtype
            assert state[k].dtype == np.dtype(str(t_state[k].dtype)[6:]), k
            assert float(state[k]) == float(t_state[k]), k
        arrays = {k: v for k, v in state.items() if k != "step" and k not in scalars}
        taken = int(t_state["step"]) if "step" in t_state else 5
        assert_parity({f"param{i}.{k}": v for k, v in arrays.items()},
                      {f"param{i}.{k}": t_state[k] for k in arrays}, dtype,
                      reductions={f"param{i}.{k}": max(taken, 1) for k in arrays})


def assert_params_match(params, t_params, dtype, n_steps):
    assert_parity({f"param{i}": p.data for i, p in enumerate(params)},
                  {f"param{i}": t.detach() for i, t in enumerate(t_params)}, dtype,
                  reductions={f"param{i}": steps_reduction(n_steps)
                              for i in range(len(params))})


def check_against_torch(name, problem, kwargs, dtype, foreach=False):
    """Step both optimizers through the problem's gradients, comparing after every step.

    Also checks, every step: parameters without a gradient are left bit-for-bit
    unchanged (both sides), the scratch optimizer does not write into ``.grad``, and
    no state array shares memory with a parameter or a gradient.
    """
    params, t_params, opt, t_opt = build(name, problem, kwargs, dtype, foreach)
    for step, grads in enumerate(problem.grads(dtype), start=1):
        before = [p.data.copy() for p in params]
        t_before = [t.detach().clone() for t in t_params]
        set_grads(params, t_params, grads)
        opt.step()
        t_opt.step()
        note(f"step {step}: grad present {[g is not None for g in grads]}")
        for i, (p, t, g) in enumerate(zip(params, t_params, grads)):
            if g is None:
                np.testing.assert_array_equal(p.data, before[i], err_msg=f"param{i} moved")
                assert torch.equal(t.detach(), t_before[i])
            else:
                np.testing.assert_array_equal(p.grad, g, err_msg=f"param{i}.grad written")
        assert_no_shared_memory(opt, params)
        assert_state_matches(opt, t_opt, params, t_params, dtype)
        assert_params_match(params, t_params, dtype, step)
    return params, t_params, opt, t_opt


def assert_no_shared_memory(opt, params):
    """Optimizer buffers never alias a parameter's data or gradient."""
    arrays = [a for state in opt.state.values() for a in state.values()
              if isinstance(a, np.ndarray)]
    others = [p.data for p in params] + [p.grad for p in params if p.grad is not None]
    for a in arrays:
        for b in others:
            assert not np.shares_memory(a, b), "an optimizer buffer shares memory"


# --------------------------------------------------------------------------- toolbox optimizers
# Hyperparameters of NAdam, RAdam and Adamax (their tests: test_optim_more.py). RAdam's
# beta2 reaches down to 0.75 so that a run of 6-8 steps crosses rho_t > 5 (the switch from
# plain momentum to the rectified adaptive step; with beta2 = 0.999 it comes after ~6
# steps, with beta2 < 2/3 never).
@st.composite
def nadam_kwargs(draw):
    return dict(lr=draw(LRS), betas=(draw(st.floats(0.0, 0.99)), draw(st.floats(0.9, 0.9999))),
                eps=draw(EPS), weight_decay=draw(WEIGHT_DECAYS),
                momentum_decay=draw(st.sampled_from([4e-3, 0.0, 0.1, 1.0])),
                decoupled_weight_decay=draw(st.booleans()), maximize=draw(st.booleans()))


@st.composite
def radam_kwargs(draw):
    return dict(lr=draw(LRS), betas=(draw(st.floats(0.0, 0.99)), draw(st.floats(0.75, 0.999))),
                eps=draw(EPS), weight_decay=draw(WEIGHT_DECAYS),
                decoupled_weight_decay=draw(st.booleans()), maximize=draw(st.booleans()))


@st.composite
def adamax_kwargs(draw):
    return dict(lr=draw(LRS), betas=(draw(st.floats(0.0, 0.99)), draw(st.floats(0.5, 0.9999))),
                eps=draw(EPS), weight_decay=draw(WEIGHT_DECAYS), maximize=draw(st.booleans()))


@st.composite
def rprop_kwargs(draw):
    low = draw(st.sampled_from([1e-6, 1e-3]))
    return dict(lr=draw(LRS), etas=(draw(st.floats(0.1, 0.9)), draw(st.floats(1.1, 2.0))),
                step_sizes=(low, draw(st.sampled_from([50.0, 0.2]))),
                maximize=draw(st.booleans()))


@st.composite
def asgd_kwargs(draw):
    """t0 of 0-2 starts the averaging within the run (torch's default 1e6 never does)."""
    return dict(lr=draw(LRS), lambd=draw(st.sampled_from([1e-4, 0.0, 0.1])),
                alpha=draw(st.sampled_from([0.75, 0.5, 1.0])),
                t0=draw(st.sampled_from([1e6, 0.0, 1.0, 2.0])),
                weight_decay=draw(WEIGHT_DECAYS), maximize=draw(st.booleans()))


MORE_NAMES = ["NAdam", "RAdam", "Adamax", "Rprop", "ASGD"]
KWARGS.update(NAdam=nadam_kwargs(), RAdam=radam_kwargs(), Adamax=adamax_kwargs(),
              Rprop=rprop_kwargs(), ASGD=asgd_kwargs())
