"""scratch.optim against torch.optim: every optimizer's update rule step by step with
hypothesis-drawn hyperparameters (maximize and weight decay included) and parameter
groups, torch's foreach path, the cosine schedule, the L2 penalty as weight decay,
a tensor-valued lr, argument validation and dtype keeping.

The runner and the tolerance argument are in :mod:`parity_tests.optim_problems`;
state dicts and parameter groups are tested in ``test_optim_state.py``.
"""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests.helpers import (
    TORCH_DTYPE,
    assert_close,
    assert_parity,
    dtypes,
)
from parity_tests.optim_problems import (
    KWARGS,
    MORE_NAMES,
    NAMES,
    assert_params_match,
    build,
    check_against_torch,
    grouped,
    optim_problems,
    per_variant,
    set_grads,
    sgd_kwargs,
    steps_reduction,
)
from scratch import functional as F
from scratch import optim
from scratch.nn import Parameter

foreach_modes = pytest.mark.parametrize("foreach", [False, True],
                                        ids=["single_tensor", "foreach"])


# --------------------------------------------------------------------------- parity
@pytest.mark.parametrize("name", NAMES)
@dtypes
@given(data=st.data())
def test_optimizer_matches_torch_optim(name, dtype, data):
    """Every option of every optimizer, in 1-3 parameter groups with their own
    hyperparameters, against torch's single-tensor step, after every step."""
    problem, kwargs = data.draw(grouped(name))
    check_against_torch(name, problem, kwargs, dtype)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
@per_variant
def test_optimizer_matches_torch_foreach_path(name, data):
    """torch's multi-tensor path orders a few operations differently; scratch agrees
    with it within the same tolerance (float64)."""
    problem = data.draw(optim_problems())
    kwargs = data.draw(KWARGS[name])
    check_against_torch(name, problem, kwargs, np.float64, foreach=True)


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
        assert_close(opt.state[p]["exp_avg"], t_opt.state[t]["exp_avg"], ulps, 0, "exp_avg")


@pytest.mark.parametrize("name", NAMES)
def test_torch_default_is_single_tensor_on_cpu(name):
    """The reference above (foreach=False) is exactly what torch's default runs on CPU."""
    rng = np.random.default_rng(3)
    init = [rng.standard_normal(s) for s in [(3, 4), (5,), ()]]
    kwargs = dict(lr=0.1, weight_decay=0.01)
    if name in ("SGD", "RMSprop"):
        kwargs.update(momentum=0.9)
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


@pytest.mark.parametrize("name", NAMES)
@dtypes
@given(data=st.data())
@per_variant
def test_numpy_scalar_hyperparameters_keep_parameter_dtype(name, dtype, data):
    """Hyperparameters given as NumPy float64 scalars (as np.logspace yields) must not
    promote float32 state to float64: the run equals the one with Python floats, bit
    for bit."""
    problem = data.draw(optim_problems())
    kwargs = data.draw(KWARGS[name])
    as_numpy = {k: (np.float64(v) if isinstance(v, float) else v) for k, v in kwargs.items()}
    if "betas" in as_numpy:
        as_numpy["betas"] = tuple(np.float64(b) for b in as_numpy["betas"])
    params, _, opt, _ = build(name, problem, kwargs, dtype)
    numpy_params = [Parameter(p.astype(dtype)) for p in problem.params]
    numpy_opt = getattr(optim, name)(numpy_params, **as_numpy)
    for grads in problem.grads(dtype):
        for p, q, g in zip(params, numpy_params, grads):
            p.grad = q.grad = g
        opt.step()
        numpy_opt.step()
    for p, q in zip(params, numpy_params):
        assert q.data.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize("name", NAMES)
@dtypes
@given(data=st.data(), factors=st.lists(st.floats(0.1, 2.0), min_size=5, max_size=5))
@per_variant
def test_tensor_lr_is_read_at_every_step(name, dtype, data, factors):
    """A 0-d array lr (torch: a 0-d tensor) filled in place between steps changes the
    next step on both sides; the optimizer holds that very array, not a copy."""
    problem = data.draw(optim_problems(allow_missing_grads=False))
    kwargs = data.draw(KWARGS[name])
    base = kwargs.pop("lr")
    lr, t_lr = np.array(base), torch.tensor(base, dtype=torch.float64)
    params = [Parameter(p.astype(dtype)) for p in problem.params]
    t_params = [torch.tensor(p.astype(dtype), requires_grad=True) for p in problem.params]
    opt = getattr(optim, name)(params, lr=lr, **kwargs)
    t_opt = getattr(torch.optim, name)(t_params, lr=t_lr, **kwargs, foreach=False)
    assert opt.param_groups[0]["lr"] is lr
    for step, (grads, factor) in enumerate(zip(problem.grads(dtype), factors), start=1):
        lr[...] = base * factor
        t_lr.fill_(base * factor)
        set_grads(params, t_params, grads)
        opt.step()
        t_opt.step()
        assert_params_match(params, t_params, dtype, step)


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
    """Setting each group's lr to ``cosine_lr(...)`` before each step follows torch's
    scheduler."""
    total = len(problem.present)
    eta_min = base * eta_fraction
    params = [Parameter(p.astype(dtype)) for p in problem.params]
    t_params = [torch.tensor(p.astype(dtype), requires_grad=True) for p in problem.params]
    opt = optim.SGD(params, lr=base, momentum=momentum)
    t_opt = torch.optim.SGD(t_params, lr=base, momentum=momentum, foreach=False)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(t_opt, T_max=total, eta_min=eta_min)
    for step, grads in enumerate(problem.grads(dtype)):
        opt.param_groups[0]["lr"] = optim.cosine_lr(base, step, total, eta_min)
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
    kwargs = dict(kwargs, weight_decay=lam, maximize=False)  # maximize negates the sum
    decayed, t_params, _, _ = check_against_torch("SGD", problem, kwargs, dtype)

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
    ("Adam", dict(betas=(0, 0.999)), "both floats"),
    ("SGD", dict(lr=np.ones(2)), "1-element"),
    ("Adadelta", dict(rho=1.5), "rho"),
    ("Adadelta", dict(eps=-1.0), "epsilon"),
    ("Adadelta", dict(weight_decay=-1.0), "weight_decay"),
    ("RMSprop", dict(alpha=-0.1), "alpha"),
    ("RMSprop", dict(momentum=-0.1), "momentum"),
    ("RMSprop", dict(eps=-1.0), "epsilon"),
    ("Adagrad", dict(lr_decay=-0.1), "lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-0.1), "initial_accumulator_value"),
    ("Adagrad", dict(eps=-1.0), "epsilon"),
    ("Adagrad", dict(lr=-1.0), "learning rate"),
]


@pytest.mark.parametrize("name, kwargs, match", INVALID,
                         ids=[f"{n}-{'-'.join(k for k in kw if k != 'lr') or 'lr'}"
                              for n, kw, _ in INVALID])
def test_invalid_arguments_raise_value_error_like_torch(name, kwargs, match):
    params, t_params = _params()
    t_kwargs = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v)
                for k, v in kwargs.items()}
    with pytest.raises(ValueError):
        getattr(torch.optim, name)(t_params, **t_kwargs)
    with pytest.raises(ValueError, match=f"(?i){match}"):
        getattr(optim, name)(params, **kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_empty_parameter_list_raises_value_error_like_torch(name):
    with pytest.raises(ValueError):
        getattr(torch.optim, name)([], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        getattr(optim, name)([], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        getattr(optim, name)((p for p in []), lr=0.1)


SWITCHES = [(name, switch) for name in NAMES + MORE_NAMES
            for switch in ("fused", "capturable", "differentiable")
            if switch in inspect.signature(getattr(torch.optim, name)).parameters]


@pytest.mark.parametrize("name, switch", SWITCHES)
def test_switches_scratch_cannot_honour_are_refused(name, switch):
    """Where torch's constructor has the switch, True is refused with the reason; the
    defaults (and foreach) are accepted, so one kwargs dict builds both optimizers."""
    params, _ = _params()
    with pytest.raises(ValueError, match=f"{switch}=True"):
        getattr(optim, name)(params, **{switch: True})
    getattr(optim, name)(params, foreach=True)


@pytest.mark.parametrize("name", NAMES)
def test_constructor_signature_equals_torch(name):
    """Same parameter names, order, kinds (positional or keyword-only) and defaults."""
    ours = inspect.signature(getattr(optim, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    assert list(ours) == list(theirs)
    for key, param in theirs.items():
        assert ours[key].kind == param.kind, key
        assert ours[key].default == param.default, key
