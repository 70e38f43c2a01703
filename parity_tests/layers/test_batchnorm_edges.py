"""Batch norm's edge cases against torch, for BatchNorm1d/2d/3d and the functional pair:
an empty batch (N = 0, or a spatial size 0) in train and eval (empty output of the
input's shape and dtype, running buffers left as they were, the batch counter still
counted, zero parameter gradients), and one value per channel (N * prod(spatial) == 1),
which torch refuses when it uses batch statistics (training, or track_running_stats=False)
and takes in eval with running statistics."""
from __future__ import annotations

import warnings

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
    dtypes,
    same_state_twins,
    torch_run,
    upstream,
)
from scratch import functional as F
from scratch import nn

# class -> shapes with no value per channel (N = 0, a spatial size 0, both)
EMPTY = {"BatchNorm1d": [(0, 3), (0, 3, 4), (2, 3, 0), (0, 3, 0)],
         "BatchNorm2d": [(0, 3, 2, 2), (2, 3, 0, 2), (1, 3, 2, 0)],
         "BatchNorm3d": [(0, 3, 2, 2, 2), (2, 3, 1, 0, 2)]}
# class -> shapes with exactly one value per channel
ONE_VALUE = {"BatchNorm1d": [(1, 3), (1, 3, 1)], "BatchNorm2d": [(1, 3, 1, 1)],
             "BatchNorm3d": [(1, 3, 1, 1, 1)]}
CASES = [(cls, shape) for cls, shapes in EMPTY.items() for shape in shapes]
ONE_CASES = [(cls, shape) for cls, shapes in ONE_VALUE.items() for shape in shapes]


def bias_kwargs(args):
    return {} if args.bias else {"bias": False}


def twins(cls, args, dtype, seed):
    positional = (3, args.eps, args.momentum, args.affine, args.track_running_stats)
    layer = getattr(nn, cls)(*positional, dtype=dtype, bias=args.bias)
    twin = getattr(torch.nn, cls)(*positional, **bias_kwargs(args))
    return layer, same_state_twins(layer, twin, dtype, seed)


@dtypes
@pytest.mark.parametrize("cls, shape", CASES)
@given(args=B.batch_norm_args(), training=st.booleans(), seed=S.SEEDS)
def test_empty_batch_matches_torch(cls, shape, args, training, seed, dtype):
    """Two steps on an empty batch: empty output and input gradient of the input's shape
    and dtype, zero parameter gradients, running buffers as they were, the counter
    counted in training, no NumPy warning (no mean of nothing)."""
    layer, twin = twins(cls, args, dtype, seed)
    layer.train(training)
    twin.train(training)
    before = {k: v.copy() for k, v in layer.state_dict().items()}
    x = np.zeros(shape, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for step in range(2):
            assert_module_matches_torch(layer, twin, x, dtype, seed + step)
    for name in ("running_mean", "running_var"):
        if name in before:
            np.testing.assert_array_equal(layer.state_dict()[name], before[name])


@dtypes
@pytest.mark.parametrize("cls, shape", CASES)
@given(training=st.booleans(), has_weight=st.booleans(), has_bias=st.booleans(),
       tracked=st.booleans(), momentum=st.sampled_from([0.1, 0.5]), seed=S.SEEDS)
def test_empty_batch_functional_matches_torch(cls, shape, training, has_weight, has_bias,
                                              tracked, momentum, seed, dtype):
    training = training or not tracked
    rng = np.random.default_rng(seed)
    x = np.zeros(shape, dtype)
    weight, bias = (rng.uniform(-1, 1, 3).astype(dtype) if present else None
                    for present in (has_weight, has_bias))
    rm0, rv0 = rng.uniform(-1, 1, 3).astype(dtype), rng.uniform(0.5, 2, 3).astype(dtype)
    rm, rv = (rm0.copy(), rv0.copy()) if tracked else (None, None)
    t_rm, t_rv = (torch.tensor(rm0), torch.tensor(rv0)) if tracked else (None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, cache = F.batch_norm_forward(x, weight, bias, rm, rv, training, momentum, 1e-5)
        dout = upstream(seed, out.shape, dtype)
        dx, dw, db = F.batch_norm_backward(dout, cache)
    t_out, g = torch_run(TF.batch_norm, dict(input=x, weight=weight, bias=bias), dout, dtype,
                         running_mean=t_rm, running_var=t_rv, training=training,
                         momentum=momentum, eps=1e-5)
    assert_parity(dict(out=out, dx=dx, dw=dw, db=db, running_mean=rm, running_var=rv),
                  dict(out=t_out, dx=g["input"], dw=g["weight"], db=g["bias"],
                       running_mean=t_rm, running_var=t_rv), dtype)


@pytest.mark.parametrize("cls, shape", ONE_CASES)
@pytest.mark.parametrize("tracked", [True, False])
def test_one_value_per_channel_in_training_is_refused_as_torch(cls, shape, tracked):
    """torch: ValueError 'Expected more than 1 value per channel when training', in
    training and, without running statistics, in eval too."""
    for training in (True, False) if not tracked else (True,):
        twin = getattr(torch.nn, cls)(3, track_running_stats=tracked).train(training)
        with pytest.raises(ValueError, match="Expected more than 1 value per channel when "
                                             "training"):
            twin(torch.zeros(shape))
        layer = getattr(nn, cls)(3, track_running_stats=tracked).train(training)
        before = layer.state_dict()
        with pytest.raises(ValueError, match=rf"^{cls}: Expected more than 1 value per "
                                             rf"channel when training"):
            layer(np.zeros(shape, np.float32))
        assert {k: v.tolist() for k, v in layer.state_dict().items()} == {
            k: v.tolist() for k, v in before.items()}        # the refused call counted nothing


@dtypes
@pytest.mark.parametrize("cls, shape", ONE_CASES)
@given(args=B.batch_norm_args(), seed=S.SEEDS)
def test_one_value_per_channel_in_eval_with_running_stats_matches_torch(cls, shape, args,
                                                                         seed, dtype):
    """In eval a tracked layer normalises with its running statistics: one sample is fine."""
    args = args._replace(track_running_stats=True)
    layer, twin = twins(cls, args, dtype, seed)
    layer.eval()
    twin.eval()
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    assert_module_matches_torch(layer, twin, x, dtype, seed)


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1, 1), (1, 3, 1, 1, 1)])
def test_functional_one_value_per_channel_in_training_is_refused_as_torch(shape):
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        TF.batch_norm(torch.zeros(shape), None, None, training=True)
    with pytest.raises(ValueError, match=r"^batch_norm: Expected more than 1 value per "
                                         r"channel when training"):
        F.batch_norm_forward(np.zeros(shape), None, None, None, None, True)


@pytest.mark.parametrize("training, eps, words", [
    (True, 0.0, "positive during training"), (True, -1e-5, "positive during training"),
    (False, -1e-5, "non-negative")])
def test_functional_eps_is_refused_as_torch(training, eps, words):
    """torch's F.batch_norm: eps > 0 in training, eps >= 0 in eval (ValueError)."""
    stats = (np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=rf"batch_norm eps must be {words}, but got"):
        TF.batch_norm(torch.zeros(4, 3, dtype=torch.float64), *map(torch.tensor, stats),
                      training=training, eps=eps)
    with pytest.raises(ValueError, match=rf"^batch_norm eps must be {words}, but got {eps}$"):
        F.batch_norm_forward(np.zeros((4, 3)), None, None, *stats, training, 0.1, eps)


def test_eval_with_eps_zero_is_taken_as_torch():
    """eps = 0 in eval is accepted by torch's functional (running_var > 0 here)."""
    x = np.random.default_rng(0).standard_normal((4, 3))
    rm, rv = np.zeros(3), np.full(3, 2.0)
    out, _ = F.batch_norm_forward(x, None, None, rm, rv, False, 0.1, 0.0)
    t_out = TF.batch_norm(torch.tensor(x), torch.tensor(rm), torch.tensor(rv), eps=0.0)
    assert_parity(dict(out=out), dict(out=t_out), np.float64)
