"""Parameter groups and optimizer state dicts: torch's group semantics and errors,
torch's packed state-dict layout, exact round trips mid-run (scratch -> scratch, and
across to torch and back), snapshots that later steps leave alone."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests.helpers import (
    assert_close,
    dtypes,
)
from parity_tests.optim_problems import (
    KWARGS,
    NAMES,
    assert_params_match,
    assert_state_matches,
    build,
    grouped,
    optim_problems,
    per_variant,
    set_grads,
)
from reference import convert
from scratch import optim
from scratch.nn import Parameter
from scratch.optim.flat import flatten_state_dict, unflatten_state_dict


def _fresh(name, problem, kwargs, params_now):
    """A new optimizer over new Parameters holding copies of ``params_now``."""
    params = [Parameter(p.data.copy()) for p in params_now]
    return params, getattr(optim, name)(problem.param_groups(params), **kwargs)


def _assert_same_state(a: dict, b: dict):
    """Two state dicts equal exactly: keys, group values, arrays (values and dtypes)."""
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for i, state in a["state"].items():
        assert state.keys() == b["state"][i].keys()
        for key, value in state.items():
            other = b["state"][i][key]
            assert np.asarray(value).dtype == np.asarray(other).dtype, (i, key)
            np.testing.assert_array_equal(value, other, err_msg=f"{i}.{key}")


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("name", NAMES)
@dtypes
@given(data=st.data())
@per_variant
def test_state_dict_round_trip_mid_run_continues_exactly(name, dtype, data):
    """Save after ``k`` steps, load into a fresh optimizer over copied parameters,
    continue: every later parameter and state array equals the uninterrupted run's, bit
    for bit (amsgrad's running maximum, momentum buffers, accumulators, step counts)."""
    problem, kwargs = data.draw(grouped(name, optim_problems(min_steps=4, max_steps=6)))
    grads = problem.grads(dtype)
    k = data.draw(st.integers(1, len(grads) - 1), label="k")
    params, _, opt, _ = build(name, problem, kwargs, dtype)
    resumed = None
    for step, row in enumerate(grads):
        if step == k:
            saved = opt.state_dict()
            resumed_params, resumed = _fresh(name, problem, kwargs, params)
            resumed.load_state_dict(saved)
        for p, g in zip(params, row):
            p.grad = g
        opt.step()
        if resumed is not None:
            for p, g in zip(resumed_params, row):
                p.grad = g
            resumed.step()
    for p, q in zip(params, resumed_params):
        np.testing.assert_array_equal(p.data, q.data)
    _assert_same_state(opt.state_dict(), resumed.state_dict())


@pytest.mark.parametrize("name", NAMES)
@dtypes
@given(data=st.data())
@per_variant
def test_state_dict_layout_and_values_equal_torch(name, dtype, data):
    """Same packed layout as torch's ``state_dict()`` after a few steps: parameter ids,
    groups (every hyperparameter key and value), state keys per id; arrays within the
    step tolerance of torch's; ``step`` equal."""
    problem, kwargs = data.draw(grouped(name))
    params, t_params, opt, t_opt = build(name, problem, kwargs, dtype)
    for row in problem.grads(dtype):
        set_grads(params, t_params, row)
        opt.step()
        t_opt.step()
    ours, theirs = opt.state_dict(), convert.optimizer_state_dict_to_numpy(t_opt.state_dict())
    assert ours["param_groups"] == theirs["param_groups"]
    assert ours["state"].keys() == theirs["state"].keys()
    assert_state_matches(opt, t_opt, params, t_params, dtype)


@pytest.mark.parametrize("name", NAMES)
@dtypes
@given(data=st.data())
@per_variant
def test_run_moves_between_scratch_and_torch_mid_run(name, dtype, data):
    """Scratch for ``k`` steps, then its state (converted) loads into a torch optimizer
    that continues; and the other way round. Each continuation matches the run that
    never switched (so each other) within the step tolerance; the conversion is exact
    (scratch -> torch -> scratch gives the same state dict)."""
    problem, kwargs = data.draw(grouped(name, optim_problems(min_steps=4, max_steps=5)))
    grads = problem.grads(dtype)
    k = data.draw(st.integers(1, len(grads) - 1), label="k")
    params, t_params, opt, t_opt = build(name, problem, kwargs, dtype)
    for step, row in enumerate(grads):
        if step == k:
            saved = opt.state_dict()
            t_saved = t_opt.state_dict()
            # scratch -> torch -> scratch is the identity
            back = convert.optimizer_state_dict_to_numpy(
                convert.optimizer_state_dict_to_torch(saved))
            _assert_same_state(saved, back)
            # swap: torch continues from scratch's state and scratch from torch's
            new_t_params = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
            new_t_opt = getattr(torch.optim, name)(problem.param_groups(new_t_params),
                                                   **kwargs, foreach=False)
            new_t_opt.load_state_dict(convert.optimizer_state_dict_to_torch(saved))
            params, opt = _fresh(name, problem, kwargs,
                                 [Parameter(t.detach().numpy()) for t in t_params])
            opt.load_state_dict(convert.optimizer_state_dict_to_numpy(t_saved))
            t_params, t_opt = new_t_params, new_t_opt
        set_grads(params, t_params, row)
        opt.step()
        t_opt.step()
    assert_state_matches(opt, t_opt, params, t_params, dtype)
    assert_params_match(params, t_params, dtype, len(grads))


def test_flat_arrays_round_trip_every_optimizer_state_exactly():
    """The ``.npz`` form (flat arrays, groups as JSON) gives back the same state dict:
    tuples stay tuples, 0-d array hyperparameters stay arrays of their dtype, and state
    keeps its parameter indices when an earlier parameter has no state yet."""
    rng = np.random.default_rng(0)
    for name in NAMES:
        params = [Parameter(rng.standard_normal(s)) for s in [(2, 3), ()]]
        lr = np.array(0.01, np.float32)
        opt = getattr(optim, name)([{"params": params[:1]}, {"params": params[1:], "lr": lr}])
        params[1].grad = rng.standard_normal(params[1].data.shape)
        opt.step()                                     # state for parameter 1 only
        saved = opt.state_dict()
        back = unflatten_state_dict(flatten_state_dict(saved))
        _assert_same_state(saved, back)
        assert back["param_groups"][1]["lr"].dtype == np.float32
        assert set(back["state"]) == set(saved["state"])
        if "betas" in saved["param_groups"][0]:
            assert isinstance(back["param_groups"][0]["betas"], tuple)


# --------------------------------------------------------------------------- snapshots
@pytest.mark.parametrize("name", NAMES)
@given(problem=optim_problems(allow_missing_grads=False), data=st.data())
@per_variant
def test_state_dict_is_a_snapshot(name, problem, data):
    """``state_dict()`` is a copy: later steps, and edits to the optimizer's groups,
    leave it as it was (torch's shares its tensors; copy.deepcopy is the torch idiom)."""
    kwargs = data.draw(KWARGS[name])
    params, _, opt, _ = build(name, problem, kwargs, np.float64)
    grads = problem.grads(np.float64)
    for p, g in zip(params, grads[0]):
        p.grad = g
    opt.step()
    saved = opt.state_dict()
    frozen = copy.deepcopy(saved)
    for row in grads[1:]:
        for p, g in zip(params, row):
            p.grad = g
        opt.step()
    opt.param_groups[0]["lr"] = 123.0
    _assert_same_state(saved, frozen)
    for s in saved["state"].values():
        for value in s.values():
            for state in opt.state.values():
                for buf in state.values():
                    assert not np.shares_memory(value, buf)


def test_load_state_dict_copies_what_it_is_given():
    p = Parameter(np.zeros(3))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    buf = np.ones(3)
    opt.load_state_dict({"state": {0: {"momentum_buffer": buf}},
                         "param_groups": opt.state_dict()["param_groups"]})
    p.grad = np.ones(3)
    opt.step()
    np.testing.assert_array_equal(buf, np.ones(3))


def test_loaded_optimizer_state_takes_the_parameter_dtype_and_is_shape_checked():
    p = Parameter(np.zeros(3, np.float32))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    groups = opt.state_dict()["param_groups"]
    opt.load_state_dict({"state": {0: {"momentum_buffer": np.ones(3, np.float64)}},
                         "param_groups": groups})
    assert opt.state_dict()["state"][0]["momentum_buffer"].dtype == np.float32
    with pytest.raises(ValueError, match=r"'momentum_buffer' of parameter 0 has shape "
                                         r"\(2,\), expected \(3,\)"):
        opt.load_state_dict({"state": {0: {"momentum_buffer": np.ones(2)}},
                             "param_groups": groups})


# --------------------------------------------------------------------------- groups
def _pair(shapes=((2,), (3,), ())):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s) for s in shapes]
    return ([Parameter(a.copy()) for a in arrays],
            [torch.tensor(a.copy(), requires_grad=True) for a in arrays])


@pytest.mark.parametrize("name", NAMES)
def test_groups_get_defaults_filled_in_like_torch(name):
    params, t_params = _pair()
    opt = getattr(optim, name)([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}])
    t_opt = getattr(torch.optim, name)([{"params": t_params[:1]},
                                        {"params": t_params[1:], "lr": 0.5}])
    for group, t_group in zip(opt.param_groups, t_opt.param_groups):
        assert {k: v for k, v in group.items() if k != "params"} == \
            {k: v for k, v in t_group.items() if k != "params"}
    assert opt.defaults == t_opt.defaults


@pytest.mark.parametrize("name", NAMES)
@dtypes
@given(data=st.data())
@per_variant
def test_groups_added_later_step_like_torch(name, dtype, data):
    """The first group at construction, the others (each with drawn hyperparameter
    overrides) through ``add_param_group``, some after steps have been taken: every
    step's parameters and state equal torch's (torch fills an added group's gaps from
    the constructor's defaults, and Adagrad starts its sum from the constructor's
    ``initial_accumulator_value``, whatever the group says)."""
    problem, kwargs = data.draw(grouped(name, optim_problems(min_steps=3, max_steps=5)))
    if len(problem.groups) < 2:                      # split one group's parameters in two
        indices, overrides = problem.groups[0]
        other = data.draw(KWARGS[name], label="overrides of the added group")
        problem.groups = [(indices[:1], overrides), (indices[1:], other)] if len(
            indices) > 1 else problem.groups
    grads = problem.grads(dtype)
    added_at = data.draw(st.integers(0, len(grads) - 1), label="steps before adding")
    params = [Parameter(p.astype(dtype)) for p in problem.params]
    t_params = [torch.tensor(p.astype(dtype), requires_grad=True) for p in problem.params]
    (first, *later) = problem.groups
    opts = [getattr(module, name)([{"params": [ps[i] for i in first[0]], **first[1]}], **kwargs)
            for module, ps in ((optim, params), (torch.optim, t_params))]
    for step, row in enumerate(grads):
        if step == added_at:
            for indices, overrides in later:
                for opt, ps in zip(opts, (params, t_params)):
                    opt.add_param_group({"params": [ps[i] for i in indices], **overrides})
        set_grads(params, t_params, row)
        for opt in opts:
            opt.step()
        assert_state_matches(*opts, params, t_params, dtype)
        assert_params_match(params, t_params, dtype, step + 1)


def test_add_param_group_checks_like_torch():
    params, t_params = _pair()
    opt, t_opt = optim.SGD(params[:1], lr=0.1), torch.optim.SGD(t_params[:1], lr=0.1)
    for o, ps in ((opt, params), (t_opt, t_params)):
        with pytest.raises(ValueError, match="more than one parameter group"):
            o.add_param_group({"params": [ps[0]]})
        with pytest.raises(TypeError, match="ordered collections"):
            o.add_param_group({"params": {ps[1]}})
        with pytest.raises(TypeError, match="param_group must be a dict"):
            o.add_param_group([ps[1]])
        o.add_param_group({"params": ps[1], "momentum": 0.9})  # a single parameter
        assert o.param_groups[1]["momentum"] == 0.9
        assert o.param_groups[1]["lr"] == 0.1
    with pytest.raises(TypeError, match="only optimize Parameters.*numpy.ndarray"):
        opt.add_param_group({"params": [np.zeros(2)]})
    with pytest.raises(TypeError, match="iterable of Parameters"):
        optim.SGD(params[0], lr=0.1)


def test_named_parameters_keep_their_names_like_torch():
    params, t_params = _pair()
    opt = optim.Adam([("a", params[0]), ("b", params[1])])
    t_opt = torch.optim.Adam([("a", t_params[0]), ("b", t_params[1])])
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["a", "b"]
    assert t_opt.state_dict()["param_groups"][0]["param_names"] == ["a", "b"]
    with pytest.raises(ValueError, match="with/without names"):
        opt.add_param_group({"params": [params[2]]})


def test_load_state_dict_checks_group_count_and_sizes_like_torch():
    params, _ = _pair()
    opt = optim.SGD([{"params": params[:2]}, {"params": params[2:]}], lr=0.1)
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD(params, lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1).load_state_dict(saved)


def test_zero_grad_sets_none_or_zeros():
    params, _ = _pair()
    opt = optim.SGD(params, lr=0.1)
    for p in params:
        p.grad = np.ones(p.data.shape)
    opt.zero_grad(set_to_none=False)
    assert all(np.all(p.grad == 0) for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_step_refuses_a_gradient_of_the_wrong_shape_or_dtype():
    p = Parameter(np.zeros((2, 3), np.float32))
    opt = optim.Adam([p])
    p.grad = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*\.grad of shape \(3,\)"):
        opt.step()
    p.grad = np.zeros((2, 3), np.float64)
    with pytest.raises(TypeError, match="dtype float32 has a .grad of.*float64"):
        opt.step()


def test_step_returns_the_closure_loss():
    p = Parameter(np.ones(2))

    def closure():
        p.grad = 2 * p.data
        return float((p.data ** 2).sum())

    assert optim.SGD([p], lr=0.1).step(closure) == 2.0
    assert_close(p.data, 0.8, 1e-7, name="param")


def test_adagrad_state_exists_from_the_constructor_like_torch():
    """Adagrad fills ``sum`` with the constructor's initial_accumulator_value for every
    parameter at once (a group's own value is ignored, as torch ignores it)."""
    params, t_params = _pair()
    opt = optim.Adagrad([{"params": params[:1], "initial_accumulator_value": 5.0},
                         {"params": params[1:]}], initial_accumulator_value=0.5)
    t_opt = torch.optim.Adagrad([{"params": t_params[:1], "initial_accumulator_value": 5.0},
                                 {"params": t_params[1:]}], initial_accumulator_value=0.5)
    ours = opt.state_dict()
    theirs = convert.optimizer_state_dict_to_numpy(t_opt.state_dict())
    _assert_same_state(ours, theirs)
    assert float(ours["state"][0]["sum"][0]) == 0.5


@pytest.mark.parametrize("name", NAMES)
def test_flat_checkpoint_arrays_move_between_scratch_and_torch(name):
    """What the training checkpoints store: a scratch optimizer's flat arrays loaded into
    a torch optimizer (``convert.load_optimizer_state``) give torch the same state dict,
    and torch's flat arrays (``convert.optimizer_state_to_numpy``) load back into
    scratch exactly."""
    params, t_params = _pair()
    opt = getattr(optim, name)([{"params": params[:1]}, {"params": params[1:], "lr": 0.05}])
    t_opt = getattr(torch.optim, name)([{"params": t_params[:1]},
                                        {"params": t_params[1:], "lr": 0.05}])
    rng = np.random.default_rng(2)
    for p in params:
        p.grad = rng.standard_normal(p.data.shape)
    opt.step()
    convert.load_optimizer_state(t_opt, flatten_state_dict(opt.state_dict()))
    _assert_same_state(opt.state_dict(),
                       convert.optimizer_state_dict_to_numpy(t_opt.state_dict()))
    other = getattr(optim, name)([{"params": params[:1]}, {"params": params[1:]}])
    other.load_state_dict(unflatten_state_dict(convert.optimizer_state_to_numpy(t_opt)))
    _assert_same_state(opt.state_dict(), other.state_dict())


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
@per_variant
def test_optimizers_print_as_torch(name, data):
    """``print(optimizer)`` shows every group's hyperparameters as torch's does, for drawn
    hyperparameters and group overrides."""
    problem, kwargs = data.draw(grouped(name))
    _, _, opt, t_opt = build(name, problem, kwargs, np.float64)
    assert repr(opt) == repr(t_opt)
