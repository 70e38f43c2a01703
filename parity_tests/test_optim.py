"""scratch.optim against torch.optim: update rules step by step, the cosine schedule,
the L2 penalty as weight decay, argument validation and dtype keeping.

The reference is torch's single-tensor implementation (``foreach=False``), which
is also what torch's default (``foreach=None``) runs for CPU tensors
(:func:`test_torch_default_is_single_tensor_on_cpu` pins that down); the
multi-tensor path (``foreach=True``) orders a few operations differently and
must agree within the same tolerance.

Tolerance: a parameter after ``n`` steps is the sum of ``n`` updates, and the
update of step ``k`` reads a running average (momentum buffer, Adam moments)
that itself sums the ``k`` gradients seen so far, each term rounded once per
operation. Rounding errors made in a buffer re-enter every later update, so the
number of rounded terms behind the parameter is ``1 + 2 + ... + n =
n (n + 1) / 2``; that is the reduction size passed to :func:`assert_parity`.
Magnitudes stay within the helper's assumption (|M| <= 16): parameters start in
[-1, 1], gradients are normal with scale <= 1, lr <= 0.5, at most 5 steps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from parity_tests import strategies as S
from parity_tests.helpers import TORCH_DTYPE, assert_parity, dtypes
from scratch import functional as F
from scratch import optim
from scratch.nn import Parameter

foreach_modes = pytest.mark.parametrize("foreach", [False, True],
                                        ids=["single_tensor", "foreach"])


# --------------------------------------------------------------------------- strategies
@dataclass
class OptimProblem:
    """Initial parameters and, per step, a gradient or None for each parameter."""
    params: list            # float64 arrays, exactly representable in float32
    present: list           # present[step][i]: does parameter i get a gradient at step
    seed: int
    grad_scale: float
    zero_fraction: float

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


@st.composite
def optim_problems(draw, allow_missing_grads=True):
    """1-3 parameters of small shapes (0-d included), 3-5 steps of gradients."""
    shapes = draw(st.lists(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
                           min_size=1, max_size=3))
    params = [draw(S.array(shape, S.WEIGHT_VALUES)) for shape in shapes]
    n_steps = draw(st.integers(3, 5))
    # About one gradient in four is None: torch skips such a parameter for that step.
    has_grad = st.sampled_from([True, True, True, False]) if allow_missing_grads else st.just(True)
    present = [[draw(has_grad) for _ in params] for _ in range(n_steps)]
    return OptimProblem(params=params, present=present, seed=draw(S.SEEDS),
                        grad_scale=draw(st.sampled_from([1e-2, 1.0])),
                        zero_fraction=draw(st.sampled_from([0.0, 0.0, 0.3])))


LRS = st.floats(1e-4, 0.5)
WEIGHT_DECAYS = st.one_of(st.just(0.0), st.floats(1e-4, 0.1))


@st.composite
def sgd_kwargs(draw):
    """Only valid combinations: nesterov needs momentum > 0 and zero dampening."""
    nesterov = draw(st.booleans())
    momentum = draw(st.floats(0.01, 0.99) if nesterov
                    else st.one_of(st.just(0.0), st.floats(0.01, 0.99)))
    dampening = 0.0 if nesterov else draw(st.one_of(st.just(0.0), st.floats(0.0, 0.9)))
    return dict(lr=draw(LRS), momentum=momentum, dampening=dampening, nesterov=nesterov,
                weight_decay=draw(WEIGHT_DECAYS))


@st.composite
def adam_kwargs(draw):
    """beta1 covers both branches of torch's lerp (weight ``1 - beta1`` below and above
    0.5). beta2 stays in [0.9, 0.9999] (torch's default is 0.999): with a shorter memory
    the step ``lr * m_hat / sqrt(v_hat)`` divides by the size of the latest gradient
    alone: a gradient that nearly cancels its L2 term (``g + wd*p ~ 0``) amplifies
    last-bit differences between any two correct implementations without bound, and an
    exact zero after a nonzero gradient gives a step of ``lr * m / eps``, far outside
    the magnitudes the helper's tolerances assume. (Seen with beta2 = 0: torch's own
    float32 result was as far from the float64 one as scratch's.)"""
    return dict(lr=draw(LRS), betas=(draw(st.floats(0.0, 0.99)), draw(st.floats(0.9, 0.9999))),
                eps=draw(st.sampled_from([1e-8, 1e-6, 1e-3])), weight_decay=draw(WEIGHT_DECAYS),
                amsgrad=draw(st.booleans()))


# --------------------------------------------------------------------------- runner
def steps_reduction(n_steps: int) -> int:
    """Rounded terms behind a parameter after ``n_steps`` (see the module docstring)."""
    return n_steps * (n_steps + 1) // 2


def check_against_torch(scratch_cls, torch_cls, kwargs, problem, dtype, foreach=False,
                        scratch_kwargs=None):
    """Step both optimizers through the problem's gradients, comparing after every step.

    Also checks, every step: parameters without a gradient are left bit-for-bit
    unchanged (both sides), the scratch optimizer does not write into ``.grad``,
    and its state (momentum buffer, Adam moments and step count) has torch's keys
    and values and keeps the parameter dtype; a state array after ``k`` steps of
    its parameter sums ``k`` rounded terms.
    """
    params = [Parameter(p.astype(dtype)) for p in problem.params]
    t_params = [torch.tensor(p.astype(dtype), requires_grad=True) for p in problem.params]
    opt = scratch_cls(params, **(scratch_kwargs or kwargs))
    t_opt = torch_cls(t_params, **kwargs, foreach=foreach)
    for step, grads in enumerate(problem.grads(dtype), start=1):
        before = [p.data.copy() for p in params]
        t_before = [t.detach().clone() for t in t_params]
        for p, t, g in zip(params, t_params, grads):
            p.grad = None if g is None else g.copy()
            t.grad = None if g is None else torch.from_numpy(g.copy())
        opt.step()
        t_opt.step()
        note(f"step {step}: grad present {[g is not None for g in grads]}")
        for i, (p, t, g) in enumerate(zip(params, t_params, grads)):
            if g is None:
                np.testing.assert_array_equal(p.data, before[i], err_msg=f"param{i} moved")
                assert torch.equal(t.detach(), t_before[i])
            else:
                np.testing.assert_array_equal(p.grad, g, err_msg=f"param{i}.grad written")
            state, t_state = opt.state[i], t_opt.state[t]
            assert state.keys() == t_state.keys(), (sorted(state), sorted(t_state))
            if "step" in state:
                assert state["step"] == int(t_state["step"])
            arrays = {k: v for k, v in state.items() if k != "step"}
            taken = int(t_state["step"]) if "step" in t_state else step
            assert_parity({f"param{i}.{k}": v for k, v in arrays.items()},
                          {f"param{i}.{k}": t_state[k] for k in arrays}, dtype,
                          reductions={f"param{i}.{k}": taken for k in arrays})
        assert_parity({f"param{i}": p.data for i, p in enumerate(params)},
                      {f"param{i}": t.detach() for i, t in enumerate(t_params)}, dtype,
                      reductions={f"param{i}": steps_reduction(step)
                                  for i in range(len(params))})
    return params, t_params


# --------------------------------------------------------------------------- parity
@foreach_modes
@dtypes
@given(problem=optim_problems(), kwargs=sgd_kwargs())
def test_sgd_matches_torch_optim(problem, kwargs, dtype, foreach):
    check_against_torch(optim.SGD, torch.optim.SGD, kwargs, problem, dtype, foreach)


@foreach_modes
@dtypes
@given(problem=optim_problems(), kwargs=adam_kwargs())
def test_adam_matches_torch_optim(problem, kwargs, dtype, foreach):
    check_against_torch(optim.Adam, torch.optim.Adam, kwargs, problem, dtype, foreach)


@foreach_modes
@dtypes
@given(problem=optim_problems(), kwargs=adam_kwargs())
def test_adamw_matches_torch_optim(problem, kwargs, dtype, foreach):
    check_against_torch(optim.AdamW, torch.optim.AdamW, kwargs, problem, dtype, foreach)


@dtypes
@given(beta1=st.floats(1e-3, 0.99), magnitude=st.floats(2.0**-100, 4, width=32),
       sign=st.sampled_from([-1.0, 1.0]), twice=st.booleans())
def test_adam_first_moment_follows_torch_lerp(beta1, magnitude, sign, twice, dtype):
    """``exp_avg.lerp_(grad, 1 - beta1)`` evaluated as torch does: after a gradient and
    then zero gradients the first moment is ``(1 - beta1) * g * beta1**k`` to a few
    ulps (relative, no absolute slack). The form ``m + w*(g - m)`` cancels when the
    weight ``w = 1 - beta1`` is near 1 and is off by about ``u / beta1`` instead.
    Gradients stay normal numbers (>= 2**-100) so every moment does too: subnormals carry
    fewer significant bits, and there torch's fused multiply-add rounds once where
    NumPy rounds twice (thorough profile: g = 1.4e-45, beta1 = 0.5 gives 0 in torch and
    1.4e-45 in scratch), which no relative tolerance describes."""
    grad = sign * magnitude
    p = Parameter(np.zeros(1, dtype))
    t = torch.zeros(1, dtype=TORCH_DTYPE[np.dtype(dtype)], requires_grad=True)
    opt = optim.Adam([p], lr=1e-3, betas=(beta1, 0.999))
    t_opt = torch.optim.Adam([t], lr=1e-3, betas=(beta1, 0.999), foreach=False)
    for g in [grad, 0.0] + [0.0] * twice:
        p.grad = np.full(1, g, dtype)
        t.grad = torch.full((1,), g, dtype=TORCH_DTYPE[np.dtype(dtype)])
        opt.step()
        t_opt.step()
        ulps = 4 * np.finfo(dtype).eps
        torch.testing.assert_close(torch.from_numpy(opt.state[0]["exp_avg"]),
                                   t_opt.state[t]["exp_avg"], rtol=ulps, atol=0)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_torch_default_is_single_tensor_on_cpu(name):
    """The reference above (foreach=False) is exactly what torch's default runs on CPU."""
    rng = np.random.default_rng(3)
    init = [rng.standard_normal(s) for s in [(3, 4), (5,), ()]]
    kwargs = dict(lr=0.1, weight_decay=0.01)
    if name == "SGD":
        kwargs.update(momentum=0.9, nesterov=True)
    results = []
    for foreach in (None, False):
        params = [torch.tensor(a, requires_grad=True) for a in init]
        opt = getattr(torch.optim, name)(params, **kwargs, foreach=foreach)
        grad_rng = np.random.default_rng(4)
        for _ in range(3):
            for p in params:
                p.grad = torch.from_numpy(grad_rng.standard_normal(tuple(p.shape)))
            opt.step()
        results.append([p.detach() for p in params])
    for default, single in zip(*results):
        assert torch.equal(default, single)


@dtypes
@given(problem=optim_problems(),
       hyper=st.sampled_from(["SGD", "Adam", "AdamW"]).flatmap(
           lambda n: st.tuples(st.just(n), sgd_kwargs() if n == "SGD" else adam_kwargs())))
def test_numpy_scalar_hyperparameters_keep_parameter_dtype(problem, hyper, dtype):
    """Hyperparameters given as NumPy float64 scalars (as np.logspace yields) must not
    promote float32 state to float64: the run equals the one with Python floats."""
    name, kwargs = hyper
    as_numpy = {k: (np.float64(v) if isinstance(v, float) else v) for k, v in kwargs.items()}
    if "betas" in as_numpy:
        as_numpy["betas"] = tuple(np.float64(b) for b in as_numpy["betas"])
    check_against_torch(getattr(optim, name), getattr(torch.optim, name), kwargs, problem,
                        dtype, scratch_kwargs=as_numpy)


# --------------------------------------------------------------------------- schedule
@given(base=st.floats(1e-4, 1.0), total=st.integers(1, 60),
       eta_fraction=st.one_of(st.just(0.0), st.floats(0.0, 1.0)))
def test_cosine_lr_matches_torch_cosine_annealing(base, total, eta_fraction):
    """Every step 0..total. torch updates the lr recursively (one rounded factor per
    step), cosine_lr uses the closed form: the reduction size is ``total``."""
    eta_min = base * eta_fraction
    t_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(t_opt, T_max=total, eta_min=eta_min)
    ours, theirs = [], []
    for step in range(total + 1):
        if step:
            t_opt.step()
            sched.step()
        ours.append(optim.cosine_lr(base, step, total, eta_min))
        theirs.append(sched.get_last_lr()[0])
    # Endpoints: torch holds base exactly at step 0 and lands on eta_min at T_max;
    # the closed form rounds eta_min + (base - eta_min) at step 0, so only ulps apart.
    assert math.isclose(ours[0], base, rel_tol=1e-15)
    assert math.isclose(ours[-1], eta_min, rel_tol=1e-15, abs_tol=1e-15)
    assert_parity(dict(lr=np.array(ours)), dict(lr=torch.tensor(theirs, dtype=torch.float64)),
                  np.float64, reductions=dict(lr=total))


@dtypes
@given(problem=optim_problems(), base=st.floats(1e-3, 0.5), eta_fraction=st.floats(0.0, 1.0),
       momentum=st.floats(0.0, 0.9))
def test_sgd_with_cosine_schedule_matches_torch(problem, base, eta_fraction, momentum, dtype):
    """Setting ``opt.lr = cosine_lr(...)`` before each step follows torch's scheduler."""
    total = len(problem.present)
    eta_min = base * eta_fraction
    params = [Parameter(p.astype(dtype)) for p in problem.params]
    t_params = [torch.tensor(p.astype(dtype), requires_grad=True) for p in problem.params]
    opt = optim.SGD(params, lr=base, momentum=momentum)
    t_opt = torch.optim.SGD(t_params, lr=base, momentum=momentum, foreach=False)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(t_opt, T_max=total, eta_min=eta_min)
    for step, grads in enumerate(problem.grads(dtype)):
        opt.lr = optim.cosine_lr(base, step, total, eta_min)
        for p, t, g in zip(params, t_params, grads):
            p.grad = None if g is None else g.copy()
            t.grad = None if g is None else torch.from_numpy(g.copy())
        opt.step()
        t_opt.step()
        sched.step()
        assert_parity({f"param{i}": p.data for i, p in enumerate(params)},
                      {f"param{i}": t.detach() for i, t in enumerate(t_params)}, dtype,
                      reductions={f"param{i}": steps_reduction(step + 1)
                                  for i in range(len(params))})


# --------------------------------------------------------------------------- L2 penalty
@dtypes
@given(problem=optim_problems(allow_missing_grads=False), kwargs=sgd_kwargs(),
       lam=st.floats(1e-4, 0.1))
def test_l2_penalty_gradient_plus_sgd_equals_sgd_weight_decay(problem, kwargs, lam, dtype):
    """``grad + l2_penalty_backward(w, lam)`` then SGD without decay is SGD with
    ``weight_decay=lam``: bit for bit in scratch (both add ``lam * w`` to the gradient,
    rounded the same way before momentum), and within tolerance of torch's SGD."""
    kwargs = dict(kwargs, weight_decay=lam)
    decayed, t_params = check_against_torch(optim.SGD, torch.optim.SGD, kwargs, problem, dtype)

    params = [Parameter(p.astype(dtype)) for p in problem.params]
    opt = optim.SGD(params, **dict(kwargs, weight_decay=0.0))
    for grads in problem.grads(dtype):
        penalty = F.l2_penalty_backward([p.data for p in params], lam)
        for p, g, d in zip(params, grads, penalty):
            assert d.dtype == np.dtype(dtype)
            p.grad = g + d
        opt.step()
    for i, (p, q) in enumerate(zip(params, decayed)):
        np.testing.assert_array_equal(p.data, q.data, err_msg=f"param{i}")
    assert_parity({f"param{i}": p.data for i, p in enumerate(params)},
                  {f"param{i}": t.detach() for i, t in enumerate(t_params)}, dtype,
                  reductions={f"param{i}": steps_reduction(len(problem.present))
                              for i in range(len(params))})


# --------------------------------------------------------------------------- validation
def _params():
    return [Parameter(np.zeros((2, 2)))], [torch.zeros(2, 2, requires_grad=True)]


INVALID = [
    ("SGD", dict(lr=-0.1), "learning rate"),
    ("Adam", dict(lr=-1e-3), "learning rate"),
    ("AdamW", dict(lr=-1e-3), "learning rate"),
    ("Adam", dict(lr=math.nan), "learning rate"),  # torch's SGD lets a NaN lr through
    ("SGD", dict(lr=0.1, nesterov=True), "nesterov"),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    ("SGD", dict(lr=0.1, momentum=-0.5), "momentum"),
    ("SGD", dict(lr=0.1, weight_decay=-1e-4), "weight_decay"),
    ("Adam", dict(lr=1e-3, weight_decay=-1e-4), "weight_decay"),
    ("AdamW", dict(lr=1e-3, weight_decay=-1e-4), "weight_decay"),
    ("Adam", dict(lr=1e-3, eps=-1e-8), "eps"),
    ("Adam", dict(lr=1e-3, betas=(1.0, 0.999)), "beta"),
    ("Adam", dict(lr=1e-3, betas=(0.9, -0.1)), "beta"),
    ("AdamW", dict(lr=1e-3, betas=(0.9, 1.5)), "beta"),
]


@pytest.mark.parametrize("name, kwargs, match", INVALID,
                         ids=[f"{n}-{'-'.join(k for k in kw if k != 'lr') or 'lr'}"
                              for n, kw, _ in INVALID])
def test_invalid_arguments_raise_value_error_like_torch(name, kwargs, match):
    params, t_params = _params()
    with pytest.raises(ValueError):
        getattr(torch.optim, name)(t_params, **kwargs)
    with pytest.raises(ValueError, match=f"(?i){match}"):
        getattr(optim, name)(params, **kwargs)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_empty_parameter_list_raises_value_error_like_torch(name):
    with pytest.raises(ValueError):
        getattr(torch.optim, name)([], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        getattr(optim, name)([], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        getattr(optim, name)((p for p in []), lr=0.1)


def test_loaded_optimizer_state_takes_the_parameter_dtype():
    p = Parameter(np.zeros(3, np.float32))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.load_state_dict({"0.momentum_buffer": np.ones(3, np.float64)})
    assert opt.state_dict()["0.momentum_buffer"].dtype == np.float32
    with pytest.raises(ValueError, match=r"'0.momentum_buffer' has shape \(2,\), expected \(3,\)"):
        opt.load_state_dict({"0.momentum_buffer": np.ones(2)})
