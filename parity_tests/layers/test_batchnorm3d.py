"""BatchNorm3d against torch: the functional pair on (N, C, D, H, W) batches (weight and
bias each optional, running buffers or none, train and eval), the module with every
constructor argument drawn over three steps in train or eval mode (output, input and
parameter gradients, running statistics, the batch counter), repr and state_dict,
finite differences, and the refusals of a wrong rank (an unbatched volume included).

Tolerance: as for BatchNorm1d/2d (``parity_tests/helpers.py``): each statistic sums
``N*D*H*W`` values per channel, amplified by :func:`batch_norm_conditioning`."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import batchnorm_strategies as B
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
from scratch import functional as F
from scratch import nn


def bias_kwargs(args):
    """torch before bias= (2.11) takes no bias keyword: pass it only when it is False."""
    return {} if args.bias else {"bias": False}


@dtypes
@given(shape=B.volume_shapes(min_batch=2), training=st.booleans(), has_weight=st.booleans(),
       has_bias=st.booleans(), tracked=st.booleans(), momentum=st.sampled_from([0.1, 0.5]),
       data=st.data())
def test_batch_norm_on_volumes_matches_torch(shape, training, has_weight, has_bias, tracked,
                                             momentum, data, dtype):
    """The functional pair on 5-D input, as F.batch_norm (eval needs running buffers)."""
    training = training or not tracked
    c = shape[1]
    x = data.draw(S.array(shape), label="x").astype(dtype)
    weight, bias = (data.draw(S.array((c,), S.WEIGHT_VALUES), label=n).astype(dtype)
                    if present else None
                    for n, present in (("weight", has_weight), ("bias", has_bias)))
    rm0 = data.draw(S.array((c,), S.WEIGHT_VALUES), label="running_mean").astype(dtype)
    rv0 = (1 + np.abs(data.draw(S.array((c,), S.WEIGHT_VALUES), label="rv"))).astype(dtype)
    rm, rv = (rm0.copy(), rv0.copy()) if tracked else (None, None)
    t_rm, t_rv = (torch.tensor(rm0), torch.tensor(rv0)) if tracked else (None, None)
    out, cache = F.batch_norm_forward(x, weight, bias, rm, rv, training, momentum, 1e-5)
    dout = upstream(data.draw(S.SEEDS, label="seed"), out.shape, dtype)
    dx, dw, db = F.batch_norm_backward(dout, cache)
    t_out, g = torch_run(TF.batch_norm, dict(input=x, weight=weight, bias=bias), dout, dtype,
                         running_mean=t_rm, running_var=t_rv, training=training,
                         momentum=momentum, eps=1e-5)
    count = x.size // c
    k = count * (batch_norm_conditioning(x) if training else 1)
    assert_parity(dict(out=out, dx=dx, dw=dw, db=db, running_mean=rm, running_var=rv),
                  dict(out=t_out, dx=g["input"], dw=g["weight"], db=g["bias"],
                       running_mean=t_rm, running_var=t_rv), dtype,
                  reductions=dict(out=k, dx=k, dw=k, db=count, running_mean=count,
                                  running_var=count))


@given(shape=B.volume_shapes(min_batch=2, max_side=2), seed=S.SEEDS, training=st.booleans())
def test_batch_norm_on_volumes_matches_finite_differences(shape, seed, training):
    rng = np.random.default_rng(seed)
    c = shape[1]
    buffers = (rng.uniform(-1, 1, c), rng.uniform(0.5, 2, c))

    def forward(x, weight, bias):
        stats = (buffers[0].copy(), buffers[1].copy())
        return F.batch_norm_forward(x, weight, bias, *stats, training=training)

    check(forward, F.batch_norm_backward, spread(shape, seed), rng.uniform(-1, 1, c),
          rng.uniform(-1, 1, c))


@dtypes
@given(args=B.batch_norm_args(), shape=B.volume_shapes(), training=st.booleans(),
       seed=S.SEEDS)
def test_batch_norm3d_module_matches_torch_over_steps(args, shape, training, seed, dtype):
    """Every constructor argument drawn, in torch's positional order; three steps of
    forward/backward in train or eval mode (untracked layers use batch statistics in
    eval too, so they need more than one value per channel there as well)."""
    c = shape[1]
    positional = (c, args.eps, args.momentum, args.affine, args.track_running_stats)
    layer = nn.BatchNorm3d(*positional, dtype=dtype, bias=args.bias)
    twin = same_state_twins(layer, torch.nn.BatchNorm3d(*positional, **bias_kwargs(args)),
                            dtype, seed)
    assert repr(layer) == repr(twin)
    layer.train(training)
    twin.train(training)
    rng = np.random.default_rng(seed)
    for step in range(3):
        x = rng.standard_normal(shape).astype(dtype)
        k = x.size // c * batch_norm_conditioning(x)
        assert_module_matches_torch(layer, twin, x, dtype, seed + step, k)


@dtypes
@given(args=B.batch_norm_args())
def test_fresh_batch_norm3d_state_equals_torchs(args, dtype):
    """Same state_dict keys (no buffers when untracked, no bias when bias=False or not
    affine), the same initial values, the parameter dtype kept."""
    positional = (3, args.eps, args.momentum, args.affine, args.track_running_stats)
    state = nn.BatchNorm3d(*positional, dtype=dtype, bias=args.bias).state_dict()
    t_state = torch.nn.BatchNorm3d(*positional, **bias_kwargs(args)).state_dict()
    assert list(state) == list(t_state)
    for key, value in state.items():
        np.testing.assert_array_equal(value, t_state[key].numpy(), err_msg=key)
        assert value.dtype == (np.int64 if key == "num_batches_tracked" else np.dtype(dtype))


@pytest.mark.parametrize("shape", [(3, 2, 2, 2), (2, 3, 2, 2), (2, 3), (2, 3, 1, 2, 2, 2)],
                         ids=["unbatched", "4d", "2d", "6d"])
def test_batch_norm3d_refuses_what_is_not_5d_as_torch(shape):
    """torch: ValueError 'expected 5D input (got 4D input)'; an unbatched (C, D, H, W)
    volume is refused too (add the batch axis)."""
    with pytest.raises(ValueError, match=r"expected 5D input \(got \d+D input\)"):
        torch.nn.BatchNorm3d(3)(torch.zeros(shape))
    with pytest.raises(ValueError, match=rf"^BatchNorm3d expects input of shape "
                                         rf"\(N, C, D, H, W\) \(5 dims\), got shape "
                                         rf"{re_shape(shape)}"):
        nn.BatchNorm3d(3)(np.zeros(shape, np.float32))


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_batch_norm3d_refuses_wrong_channels_and_dtype():
    layer = nn.BatchNorm3d(3)
    with pytest.raises(ValueError, match=r"expects 3 input channels on axis 1"):
        layer(np.zeros((2, 4, 1, 1, 2), np.float32))
    with pytest.raises(TypeError, match="float32 parameters but got input of dtype float64"):
        layer(np.zeros((2, 3, 1, 1, 2)))
    with pytest.raises(RuntimeError):
        torch.nn.BatchNorm3d(3)(torch.zeros((2, 4, 1, 1, 2)))
