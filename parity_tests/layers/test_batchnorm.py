"""BatchNorm1d/2d against torch: the functional pair (weight and bias each optional,
with or without running buffers), the modules over several steps in torch's
argument order (track_running_stats, momentum=None, affine, bias), fresh state,
finite differences and refusals."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, note
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import (
    assert_module_matches_torch,
    assert_parity,
    batch_norm_conditioning,
    check,
    dtypes,
    same_state_twins,
    spread,
    torch_run,
    upstream,
)
from reference.model import BATCH_NORM_HAS_BIAS
from scratch import functional as F
from scratch import nn


def channel(a, ch):
    """Channel ``ch`` of a (N, C, ...) batch or a (C,) per-channel vector (None stays None)."""
    return None if a is None else (a[:, ch] if a.ndim > 1 else a[ch])


@dtypes
@given(shape=S.batch_shapes(min_batch=2), training=st.booleans(), has_weight=st.booleans(),
       has_bias=st.booleans(), tracked=st.booleans(), momentum=st.sampled_from([0.1, 0.5]),
       data=st.data())
def test_batch_norm_matches_torch(shape, training, has_weight, has_bias, tracked, momentum,
                                  data, dtype):
    """weight and bias each present or not; running buffers or None (eval without
    buffers is not a torch mode: training=False needs them)."""
    training = training or not tracked
    c = shape[1]
    x = data.draw(S.array(shape), label="x").astype(dtype)
    weight, bias = (data.draw(S.array((c,), S.WEIGHT_VALUES), label=n).astype(dtype)
                    if present else None for n, present in (("weight", has_weight),
                                                            ("bias", has_bias)))
    running_mean = data.draw(S.array((c,), S.WEIGHT_VALUES), label="running_mean").astype(dtype)
    running_var = (1 + np.abs(data.draw(S.array((c,), S.WEIGHT_VALUES), label="rv"))).astype(dtype)
    seed = data.draw(S.SEEDS, label="seed")
    rm, rv = (running_mean.copy(), running_var.copy()) if tracked else (None, None)
    t_rm, t_rv = (torch.tensor(running_mean), torch.tensor(running_var)) if tracked else (
        None, None)

    out, cache = F.batch_norm_forward(x, weight, bias, rm, rv, training, momentum, 1e-5)
    dout = upstream(seed, out.shape, dtype)
    dx, dw, db = F.batch_norm_backward(dout, cache)
    t_out, g = torch_run(TF.batch_norm, dict(input=x, weight=weight, bias=bias), dout, dtype,
                         running_mean=t_rm, running_var=t_rv, training=training,
                         momentum=momentum, eps=1e-5)
    count = x.size // c  # every statistic and parameter gradient sums over N*H*W values
    ours = dict(out=out, dx=dx, dw=dw, db=db, running_mean=rm, running_var=rv)
    theirs = dict(out=t_out, dx=g["input"], dw=g["weight"], db=g["bias"], running_mean=t_rm,
                  running_var=t_rv)
    for ch in range(c):  # channels are independent: each gets its own conditioning
        # eval mode divides by sqrt(running_var + eps) >= 1 here: no amplification
        k = count * (batch_norm_conditioning(x[:, ch:ch + 1]) if training else 1)
        note(f"channel {ch}: per-channel count {count}, rounding budget {k:.1f} terms")
        assert_parity({n: channel(a, ch) for n, a in ours.items()},
                      {n: channel(t, ch) for n, t in theirs.items()}, dtype,
                      reductions=dict(out=k, dx=k, dw=k, db=count, running_mean=count,
                                      running_var=count))


@given(shape=S.batch_shapes(min_batch=2), seed=S.SEEDS, tracked=st.booleans())
def test_batch_norm_without_bias_or_buffers_matches_finite_differences(shape, seed, tracked):
    """A scale without a shift (torch's affine=True, bias=False), and batch statistics
    with no running buffers at all (track_running_stats=False)."""
    rng = np.random.default_rng(seed)
    buffers = (rng.uniform(-1, 1, shape[1]), rng.uniform(0.5, 2, shape[1]))

    def forward(x, weight):
        stats = (buffers[0].copy(), buffers[1].copy()) if tracked else (None, None)
        return F.batch_norm_forward(x, weight, None, *stats, training=True)

    check(forward, lambda dout, cache: F.batch_norm_backward(dout, cache)[:2],
          spread(shape, seed), rng.uniform(-1, 1, shape[1]))


# --------------------------------------------------------------------------- modules
# name -> (torch-order constructor arguments, keyword arguments, input shape)
MODULES = {
    "batch_norm2d": ("BatchNorm2d", (3,), {}, (4, 3, 3, 3)),
    "batch_norm1d_cumulative": ("BatchNorm1d", (3, 1e-5, None), {}, (5, 3)),
    "batch_norm1d_3d_input_no_affine": ("BatchNorm1d", (2, 1e-5, 0.1, False), {}, (3, 2, 4)),
    "batch_norm2d_untracked": ("BatchNorm2d", (3, 1e-3, 0.3, True, False), {}, (4, 3, 2, 2)),
    "batch_norm1d_untracked_no_affine": ("BatchNorm1d", (3, 1e-5, 0.1, False, False), {},
                                         (4, 3)),
    "batch_norm2d_no_bias": ("BatchNorm2d", (2, 1e-5, 0.2), {"bias": False}, (3, 2, 2, 3)),
}
if not BATCH_NORM_HAS_BIAS:   # torch before bias= (2.11) has no twin for the scale-only layer
    del MODULES["batch_norm2d_no_bias"]


@dtypes
@pytest.mark.parametrize("name", MODULES)
@given(seed=S.SEEDS, training=st.booleans())
def test_batch_norm_module_matches_torch_over_steps(name, seed, training, dtype):
    """Three forward/backward steps in train or eval mode: output, input and parameter
    gradients, running statistics and the batch counter agree after each; untracked
    layers have no buffers on either side and use batch statistics in eval too."""
    cls, args, kwargs, shape = MODULES[name]
    scratch = getattr(nn, cls)(*args, dtype=dtype, **kwargs)
    twin = same_state_twins(scratch, getattr(torch.nn, cls)(*args, **kwargs), dtype, seed)
    scratch.train(training)
    twin.train(training)
    rng = np.random.default_rng(seed)
    for step in range(3):
        x = rng.standard_normal(shape).astype(dtype)
        k = x.size // shape[1] * batch_norm_conditioning(x)
        assert_module_matches_torch(scratch, twin, x, dtype, seed + step, k)


@dtypes
@pytest.mark.parametrize("name", MODULES)
def test_fresh_batch_norm_state_equals_torchs_fresh_module(name, dtype):
    """Parameters (ones, zeros) and buffers (zeros, ones, 0) as torch's reset_parameters,
    with the same state_dict keys: none at all for buffers when untracked."""
    cls, args, kwargs, _ = MODULES[name]
    state = getattr(nn, cls)(*args, dtype=dtype, **kwargs).state_dict()
    t_state = getattr(torch.nn, cls)(*args, **kwargs).state_dict()
    assert list(state) == list(t_state)
    for key, value in state.items():
        np.testing.assert_array_equal(value, t_state[key].numpy(), err_msg=key)
        assert value.dtype == (np.int64 if key == "num_batches_tracked" else np.dtype(dtype))


def test_eval_mode_batch_norm_leaves_running_stats_alone():
    bn = nn.BatchNorm2d(2, dtype=np.float64).eval()
    before = bn.state_dict()
    bn.forward(np.random.default_rng(0).standard_normal((3, 2, 2, 2)))
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


# --------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("cls", ["BatchNorm1d", "BatchNorm2d"])
@pytest.mark.parametrize("eps", [0, 0.0, -1, -1e-5])
def test_non_positive_eps_is_refused_at_construction(cls, eps):
    """torch takes eps <= 0 at construction and refuses it at the first training forward
    ('batch_norm eps must be positive during training'); scratch refuses it at once."""
    with pytest.raises(ValueError, match=rf"^{cls}: eps must be positive, got {eps}$"):
        getattr(nn, cls)(3, eps)
    twin = getattr(torch.nn, cls)(3, eps)
    with pytest.raises(ValueError, match="eps must be positive"):   # torch 2.11: no "during.."
        twin(torch.zeros((4, 3) if cls == "BatchNorm1d" else (4, 3, 2, 2)))


BAD = [
    (lambda: nn.BatchNorm1d(3, 1e-5, 0.1, True, "no"), TypeError,
     r"BatchNorm1d: track_running_stats must be True or False, got 'no'"),
    (lambda: nn.BatchNorm2d(3, device="cuda"), ValueError,
     r"BatchNorm2d: device must be None or 'cpu'"),
    (lambda: nn.BatchNorm2d(3, momentum="0.1"), TypeError,
     r"BatchNorm2d: momentum must be a number, got '0.1'"),
    (lambda: nn.BatchNorm1d(3, track_running_stats=False).eval().forward(
        np.zeros((1, 3), np.float32)), ValueError,
     r"BatchNorm1d: Expected more than 1 value per channel when training \(batch "
     r"statistics in eval mode: track_running_stats=False\)"),
]


@pytest.mark.parametrize("call, error, pattern", BAD)
def test_bad_batch_norm_arguments_are_refused_naming_the_layer(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
