"""The vision-transformer pieces (``Patches``, ``ClassToken``, ``PositionEmbedding``,
``FirstToken``) against their torch twins: output, input gradient and every parameter
gradient with a random upstream gradient, float64 tight and float32 within the suite's
tolerances (each parameter gradient sums N terms: reduction N); finite differences as a
second oracle; bad input refused naming what was wrong; and the whole ``mnist_vit``
against torch: one step's gradients, and a few SGD/Adam steps in float64."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import (
    DTYPES,
    assert_module_matches_torch,
    check,
    same_state_twins,
    spread,
)
from parity_tests.model_helpers import batch_for, compare_step, model_reduction, twins
from reference import vision_transformer as R
from scratch import arch as A
from scratch import nn
from scripts.lib.twins import make_twins

dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
sizes = st.integers(1, 5)


def _input(seed, shape, dtype):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@dtypes
@given(n=sizes, c=sizes, h=sizes, w=sizes, seed=st.integers(0, 2**16))
def test_patches_match_torch(dtype, n, c, h, w, seed):
    x = _input(seed, (n, c, h, w), dtype)
    assert_module_matches_torch(nn.Patches(), R.Patches(), x, dtype, seed)


@dtypes
@given(n=sizes, length=sizes, e=sizes, seed=st.integers(0, 2**16))
def test_first_token_matches_torch(dtype, n, length, e, seed):
    x = _input(seed, (n, length, e), dtype)
    assert_module_matches_torch(nn.FirstToken(), R.FirstToken(), x, dtype, seed)


@dtypes
@given(n=sizes, length=sizes, e=sizes, seed=st.integers(0, 2**16))
def test_class_token_matches_torch(dtype, n, length, e, seed):
    """The token is drawn at random (not left at zero), so the output shows it."""
    scratch = nn.ClassToken(e, dtype=dtype)
    twin = same_state_twins(scratch, R.ClassToken(e), dtype, seed)
    x = _input(seed + 1, (n, length, e), dtype)
    assert_module_matches_torch(scratch, twin, x, dtype, seed, reduction=n)


@dtypes
@given(n=sizes, length=sizes, e=sizes, seed=st.integers(0, 2**16))
def test_position_embedding_matches_torch(dtype, n, length, e, seed):
    scratch = nn.PositionEmbedding(length, e, dtype=dtype, generator=seed)
    twin = same_state_twins(scratch, R.PositionEmbedding(length, e), dtype, seed)
    x = _input(seed + 1, (n, length, e), dtype)
    assert_module_matches_torch(scratch, twin, x, dtype, seed, reduction=n)


def _pair(module):
    """A module's forward/backward as gradcheck's ``forward(*arrays) -> (out, cache)``
    and ``backward(dout, cache) -> (dx, *parameter grads)``: the parameters are inputs."""
    names = [name for name, _ in module.named_parameters()]

    def forward(x, *params):
        for name, value in zip(names, params):
            getattr(module, name).data[...] = value
        return module.forward(x), (x, params)

    def backward(dout, cache):      # gradcheck asks more than once: forward again each time
        forward(*cache[:1], *cache[1])
        return (module.backward(dout), *(getattr(module, n).grad for n in names))
    return forward, backward


@pytest.mark.parametrize("make, shape", [
    (nn.Patches, (2, 3, 2, 4)), (nn.FirstToken, (2, 3, 4)),
    (lambda: nn.ClassToken(4, dtype=np.float64), (2, 3, 4)),
    (lambda: nn.PositionEmbedding(3, 4, dtype=np.float64, generator=0), (2, 3, 4))],
    ids=["Patches", "FirstToken", "ClassToken", "PositionEmbedding"])
def test_gradients_match_finite_differences(make, shape):
    module = make()
    params = [spread(p.data.shape, 1) for p in module.parameters()]
    check(*_pair(module), spread(shape, 0), *params)


@pytest.mark.parametrize("module, x, error, match", [
    (nn.Patches(), np.zeros((2, 3, 4)), ValueError, r"\(N, C, H, W\).*got shape \(2, 3, 4\)"),
    (nn.FirstToken(), np.zeros((2, 3)), ValueError, r"\(N, L, E\).*got shape \(2, 3\)"),
    (nn.ClassToken(4), np.zeros((2, 3, 5), np.float32), ValueError, "embedding_dim"),
    (nn.ClassToken(4), np.zeros((2, 3, 4)), TypeError, "float32 parameters.*float64"),
    (nn.PositionEmbedding(3, 4), np.zeros((2, 5, 4), np.float32), ValueError,
     "holds 3 positions but got a sequence of 5"),
    (nn.Patches(), np.zeros((1, 1, 2, 2), int), TypeError, "floating-point input"),
], ids=["patches-rank", "first-rank", "token-features", "token-dtype", "positions", "ints"])
def test_bad_input_is_refused_naming_what_was_wrong(module, x, error, match):
    with pytest.raises(error, match=match):
        module.forward(x)


def test_state_dict_keys_and_reprs_equal_the_twins():
    for scratch, twin in [(nn.ClassToken(4), R.ClassToken(4)),
                          (nn.PositionEmbedding(3, 4), R.PositionEmbedding(3, 4)),
                          (nn.Patches(), R.Patches()), (nn.FirstToken(), R.FirstToken())]:
        assert list(scratch.state_dict()) == list(twin.state_dict())
        assert repr(scratch) == repr(twin)


SMALL = A.mnist_vit(embed_dim=8, depth=1, heads=2, mlp_dim=12)


@S.fewer_examples(1 / 3)   # whole networks
@given(seed=st.integers(0, 2**16))
def test_whole_vit_gradients_match_torch_in_float64(seed):
    """Logits, loss, input gradient and every parameter gradient of the whole network."""
    scratch, mirror = twins(SMALL, np.float64, seed)
    x, y = batch_for(SMALL, 4, seed, np.float64)
    compare_step(scratch, mirror, x, y, np.float64, model_reduction(SMALL, 4))


def _key_bias(state, name):
    """The key third of an attention layer's ``in_proj_bias`` (q, k, v stacked)."""
    return state[name][len(state[name]) // 3: 2 * len(state[name]) // 3]


def test_key_bias_gradient_is_zero_up_to_rounding_on_both_sides():
    """Adding b_k to every key adds q.b_k to every score of a row, which the softmax
    ignores: the key bias's exact gradient is zero, and both sides give rounding noise."""
    scratch, mirror = twins(A.mnist_vit(), np.float64)
    x, y = batch_for(A.mnist_vit(), 16, 0, np.float64)
    compare_step(scratch, mirror, x, y, np.float64, model_reduction(A.mnist_vit(), 16))
    grads = {n: p.grad for n, p in scratch.named_parameters()}
    t_grads = {n: p.grad.numpy() for n, p in mirror.named_parameters()}
    for name in (n for n in grads if n.endswith("in_proj_bias")):
        rest = np.abs(grads[name]).max()
        assert rest > 1e-6                                 # the q and v parts do learn
        assert np.abs(_key_bias(grads, name)).max() < 1e-15 * max(rest, 1)
        assert np.abs(_key_bias(t_grads, name)).max() < 1e-15 * max(rest, 1)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_default_vit_steps_in_lockstep_in_float64(optimizer):
    """Four steps of the default mnist_vit leave the weights equal to 1e-10 relative.
    Except Adam's key biases: their gradient is rounding noise g ~ 1e-17 (test above),
    which Adam turns into steps of lr*g/eps, different noise on each side; their
    difference stays below steps * lr * 1e-15 / eps."""
    network = A.mnist_vit()
    x, y = batch_for(network, 16, 0, np.float64)
    hyper = dict(momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0) if (
        optimizer == "sgd") else dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                                      amsgrad=False)
    lr, steps = (0.05 if optimizer == "sgd" else 1e-3), 4
    pair = make_twins(network, 0, "float64", "cpu", optimizer, hyper, 0.0)
    start = pair["scratch"].state_dict()
    for _ in range(steps):
        for side in ("torch", "scratch"):
            pair[side].step(x, y, lr)
    s, t = pair["scratch"].state_dict(), pair["torch"].state_dict()
    assert any(not np.array_equal(s[k], start[k]) for k in s)   # the steps moved the weights
    for key in s:
        if optimizer == "adam" and key.endswith("in_proj_bias"):
            gap = np.abs(_key_bias(s, key) - _key_bias(t, key)).max()
            assert gap < steps * lr * 1e-15 / hyper["eps"], key
            third = len(s[key]) // 3
            s[key], t[key] = np.delete(s[key], np.s_[third:2 * third]), np.delete(
                t[key], np.s_[third:2 * third])
        scale = max(np.abs(t[key]).max(), 1e-30)
        assert np.abs(s[key] - t[key]).max() / scale < 1e-10, key


def test_torch_mirror_holds_torch_layers():
    """The encoder layers of the mirror are torch's own (not a re-implementation)."""
    mirror = twins(SMALL, np.float64)[1]
    assert isinstance(mirror.encoder0, torch.nn.TransformerEncoderLayer)
    with pytest.raises(ValueError, match="use dropout=0.0"):
        R.TransformerEncoderLayer(8, 2, dropout=0.1)
    assert isinstance(mirror.norm, torch.nn.LayerNorm)
