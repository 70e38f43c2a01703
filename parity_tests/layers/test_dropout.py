"""Dropout and Dropout2d against torch, and training with masks shared between twins.

Dropout is random, so parity is checked by giving torch the very mask scratch
drew: scratch against ``x * mask / (1 - p)`` in torch autograd, and against
torch's own ``F.dropout`` wherever its result does not depend on its random
draw (``p = 0``, ``p = 1``, eval mode). The torch mirror's dropout layers
(:mod:`reference.dropout`) draw exactly as torch's own do, and
:func:`reference.dropout.share_masks` lets either model lead: training steps
of a dropout net then agree to rounding, whichever side draws.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import scratch
from parity_tests import strategies as S
from parity_tests.helpers import TORCH_DTYPE, assert_parity, check, dtypes, upstream
from parity_tests.model_helpers import twins
from reference import dropout as RD
from scratch import arch as A
from scratch import functional as F
from scratch import nn, optim


def torch_masked(x, mask, p, dout, dtype):
    """torch autograd of ``x * mask / (1 - p)`` (``x * 0`` for p = 1): output and dx."""
    tx = torch.tensor(x, requires_grad=True)
    tmask = torch.from_numpy(mask).to(TORCH_DTYPE[np.dtype(dtype)])
    out = tx * 0 if p == 1 else tx * (tmask / (1 - p))
    out.backward(torch.from_numpy(dout))
    return out, tx.grad


# --------------------------------------------------------------------------- functional pair
@dtypes
@given(case=S.dropout_cases(), channelwise=st.booleans())
def test_dropout_with_scratchs_mask_matches_torch_autograd(case, channelwise, dtype):
    x, p, mask_seed, seed = case
    x = x.astype(dtype)
    shape = F.dropout_noise_shape(x.shape, channelwise)
    mask = F.draw_keep_mask(np.random.default_rng(mask_seed), shape, p)
    out, cache = F.dropout_forward(x, p, mask)
    dout = upstream(seed, out.shape, dtype)
    dx = F.dropout_backward(dout, cache)
    t_out, t_dx = torch_masked(x, mask, p, dout, dtype)
    assert_parity(dict(out=out, dx=dx), dict(out=t_out, dx=t_dx), dtype)


@pytest.mark.filterwarnings("ignore:dropout2d")   # torch's deprecation of 2-D and 3-D input
@dtypes
@given(case=S.dropout_cases(), channelwise=st.booleans(), training=st.booleans())
def test_dropout_matches_torchs_own_dropout_where_it_is_deterministic(case, channelwise,
                                                                     training, dtype):
    """p = 0 and eval mode: the identity; p = 1 in training: all zeros (grads too)."""
    x, p, _, seed = case
    x = x.astype(dtype)
    p = 1.0 if training and p not in (0.0, 1.0) else p   # training is deterministic at 0 and 1
    layer = (nn.Dropout2d if channelwise else nn.Dropout)(p).train(training)
    out = layer.forward(x)
    dout = upstream(seed, out.shape, dtype)
    dx = layer.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    t_out = (TF.dropout2d if channelwise else TF.dropout)(tx, p, training)
    t_out.backward(torch.from_numpy(dout))
    assert_parity(dict(out=out, dx=dx), dict(out=t_out, dx=tx.grad), dtype)
    assert layer.draws == 0   # nothing drawn: torch draws nothing there either


@given(case=S.dropout_cases(), channelwise=st.booleans())
def test_dropout_backward_matches_finite_differences(case, channelwise):
    x, p, mask_seed, _ = case
    mask = F.draw_keep_mask(np.random.default_rng(mask_seed),
                            F.dropout_noise_shape(x.shape, channelwise), p)
    check(lambda a: F.dropout_forward(a, p, mask), F.dropout_backward, x)


# --------------------------------------------------------------------------- modules
@dtypes
@pytest.mark.parametrize("cls", [nn.Dropout, nn.Dropout2d])
@S.fewer_examples(1 / 3)
@given(case=S.dropout_cases(channelwise=True))
def test_module_draws_from_its_generator_and_matches_torch_with_that_mask(cls, case, dtype):
    x, p, mask_seed, seed = case
    x = x.astype(dtype)
    layer = cls(p, False, generator=mask_seed)
    out = layer.forward(x)
    dout = upstream(seed, out.shape, dtype)
    dx = layer.backward(dout)
    channelwise = cls is nn.Dropout2d
    shape = F.dropout_noise_shape(x.shape, channelwise)
    expected_mask = (np.zeros(shape) if p == 1 else
                     F.draw_keep_mask(np.random.default_rng(mask_seed), shape, p))
    if 0 < p:
        np.testing.assert_array_equal(layer.mask, expected_mask)
    t_out, t_dx = torch_masked(x, expected_mask, p, dout, dtype)
    assert_parity(dict(out=out, dx=dx), dict(out=t_out, dx=t_dx), dtype)


@pytest.mark.parametrize("cls, shape", [(nn.Dropout, (200, 500)),
                                        (nn.Dropout2d, (200, 100, 2, 2))])
@pytest.mark.parametrize("p", [0.1, 0.25, 0.5, 0.9])
def test_share_of_dropped_values_is_p_and_channels_drop_whole(cls, shape, p):
    layer = cls(p, generator=1)
    out = layer.forward(np.ones(shape))
    kept = out.reshape(shape[0] * shape[1], -1)
    assert set(np.unique(kept)) <= {0.0, 1 / (1 - p)}
    rows = kept.max(axis=1)
    np.testing.assert_array_equal(kept.min(axis=1), rows)   # a channel is dropped whole
    n = rows.size if cls is nn.Dropout2d else kept.size
    dropped = (out == 0).mean()
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / n)   # 5 sigma, fixed seed


def test_masks_follow_the_seed_and_scratch_manual_seed():
    x = np.ones((4, 6))
    first = nn.Dropout(generator=3).forward(x)
    np.testing.assert_array_equal(first, nn.Dropout(generator=3).forward(x))
    assert not np.array_equal(first, nn.Dropout(generator=4).forward(x))
    scratch.manual_seed(7)
    a = nn.Dropout().forward(x)
    scratch.manual_seed(7)
    np.testing.assert_array_equal(a, nn.Dropout().forward(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_and_float64_twins_from_one_seed_draw_the_same_masks(dtype):
    x = np.ones((3, 5), dtype)
    np.testing.assert_array_equal(nn.Dropout(0.3, generator=2).forward(x) != 0,
                                  nn.Dropout(0.3, generator=2).forward(x.astype(np.float64))
                                  != 0)


def test_zero_dim_input_in_training_gives_zero_dim_arrays():
    layer = nn.Dropout(0.5, generator=0)
    out = layer.forward(np.array(2.0))
    dx = layer.backward(np.array(1.0))
    assert isinstance(out, np.ndarray) and out.shape == () and dx.shape == ()
    assert float(out) == 2 * float(dx)   # x * scale and 1 * scale, scale 0 or 2


def test_dropout2d_reads_3d_input_as_n_c_l_with_torchs_warning():
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        layer = nn.Dropout2d(0.5, generator=0)
        layer.forward(np.ones((2, 3, 5)))
    assert layer.mask.shape == (2, 3, 1)


# --------------------------------------------------------------------------- torch mirror
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("kind", ["Dropout", "Dropout2d"])
def test_mirror_dropout_draws_exactly_as_torchs_own(kind, p, dtype):
    x = torch.randn(4, 3, 5, 5, dtype=dtype, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(5)
    expected = getattr(torch.nn, kind)(p)(x)
    after = torch.rand(1)                      # the generator moved on by the same amount
    torch.manual_seed(5)
    got = getattr(RD, kind)(p)(x)
    assert torch.equal(got, expected) and torch.equal(torch.rand(1), after)
    assert torch.equal(getattr(RD, kind)(p).eval()(x), x)


# --------------------------------------------------------------------------- model path
def dropout_arch(p1=0.25, p2=0.5):
    """pytorch/examples' MNIST net in small: conv-relu-conv-relu-pool-dropout2d?-..."""
    return A.Architecture((1, 8, 8), (
        ("conv1", A.Conv2d(3, 3)), ("relu1", A.ReLU()), ("conv2", A.Conv2d(4, 3)),
        ("relu2", A.ReLU()), ("pool", A.MaxPool2d(2)), ("dropout1", A.Dropout(p1)),
        ("flatten", A.Flatten()), ("fc1", A.Linear(8)), ("relu3", A.ReLU()),
        ("dropout2", A.Dropout(p2)), ("fc2", A.Linear(3)), ("log_softmax", A.LogSoftmax(1))))


def channel_dropout_arch():
    return A.Architecture((2, 6, 6), (
        ("conv", A.Conv2d(4, 3, padding=1)), ("drop", A.Dropout2d(0.5)), ("act", A.SiLU()),
        ("flatten", A.Flatten()), ("fc", A.Linear(3))))


@dtypes
@pytest.mark.parametrize("leader", ["scratch", "torch"])
@pytest.mark.parametrize("make_arch", [dropout_arch, channel_dropout_arch],
                         ids=["dropout", "dropout2d"])
@S.fewer_examples(1 / 6)   # eight variants of a whole model
@given(seed=S.SEEDS, n=st.integers(1, 4))
def test_model_with_shared_masks_matches_torch(make_arch, leader, seed, n, dtype):
    arch = make_arch()
    scratch_net, torch_net = twins(arch, dtype, seed)
    assert RD.share_masks(scratch_net, torch_net, leader) == [
        name for name, spec in arch.layers if isinstance(spec, (A.Dropout, A.Dropout2d))]
    x = np.random.default_rng(seed).standard_normal((n, *arch.input_shape)).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    if leader == "torch":
        t_out = torch_net(tx)
    out = scratch_net.forward(x)
    if leader == "scratch":
        t_out = torch_net(tx)
    dout = upstream(seed, out.shape, dtype)
    dx = scratch_net.backward(dout)
    t_out.backward(torch.from_numpy(dout))
    grads = {f"grad:{k}": p.grad for k, p in scratch_net.named_parameters()}
    t_grads = {f"grad:{k}": p.grad for k, p in torch_net.named_parameters()}
    k = 200
    assert_parity(dict(out=out, dx=dx, **grads), dict(out=t_out, dx=tx.grad, **t_grads), dtype,
                  {name: k for name in ["out", "dx", *grads]})


@pytest.mark.parametrize("leader", ["scratch", "torch"])
def test_training_steps_with_shared_masks_stay_in_lockstep_in_float64(leader):
    """Five SGD steps (momentum) of a dropout net with NLLLoss, as pytorch/examples' MNIST
    net is trained: parameters agree to 1e-10 relative, whichever side draws the masks."""
    arch = dropout_arch()
    scratch_net, torch_net = twins(arch, np.float64, seed=3)
    RD.share_masks(scratch_net, torch_net, leader)
    torch.manual_seed(0)
    opt = optim.SGD(scratch_net.parameters(), lr=0.1, momentum=0.9)
    t_opt = torch.optim.SGD(torch_net.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.NLLLoss()
    rng = np.random.default_rng(0)
    dropped = 0
    for _ in range(5):
        x = rng.standard_normal((8, 1, 8, 8))
        y = rng.integers(0, 3, 8)
        if leader == "torch":
            t_loss = TF.nll_loss(torch_net(torch.from_numpy(x)), torch.from_numpy(y))
        loss = loss_fn(scratch_net.forward(x), y)
        if leader == "scratch":
            t_loss = TF.nll_loss(torch_net(torch.from_numpy(x)), torch.from_numpy(y))
        scratch_net.backward(loss_fn.backward(), input_grad=False)
        opt.step()
        t_opt.zero_grad()
        t_loss.backward()
        t_opt.step()
        assert abs(float(loss) - t_loss.item()) < 1e-12
        dropped += int((scratch_net.layers["dropout2"].mask == 0).sum())
    assert dropped > 0
    state, t_state = scratch_net.state_dict(), torch_net.state_dict()
    drift = max(np.abs(state[k] - t_state[k].numpy()).max() / np.abs(t_state[k].numpy()).max()
                for k in state)
    assert drift < 1e-10


def test_follower_running_before_its_leader_is_an_error():
    scratch_net, torch_net = twins(dropout_arch(), np.float64)
    RD.share_masks(scratch_net, torch_net, "scratch")
    with pytest.raises(RuntimeError, match=r"dropout layer 'dropout1': no new mask from its "
                                           r"twin"):
        torch_net(torch.zeros(2, 1, 8, 8, dtype=torch.float64))
    scratch_net.forward(np.zeros((2, 1, 8, 8)))
    torch_net(torch.zeros(2, 1, 8, 8, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="no new mask"):       # a mask is used once
        torch_net(torch.zeros(2, 1, 8, 8, dtype=torch.float64))
    RD.share_masks(scratch_net, torch_net, None)                # unshared: both draw again
    torch_net(torch.zeros(2, 1, 8, 8, dtype=torch.float64))


def test_pairing_refuses_twins_that_differ():
    scratch_net = twins(dropout_arch(0.25), np.float64)[0]
    _, other = twins(dropout_arch(0.3), np.float64)
    with pytest.raises(ValueError, match=r"dropout layer 'dropout1': scratch Dropout\(p=0\.25\) "
                                         r"and torch Dropout\(p=0\.3\) differ"):
        RD.share_masks(scratch_net, other)
    plain = torch.nn.Sequential(*[torch.nn.Identity() for _ in range(12)])
    with pytest.raises(TypeError, match=r"dropout layer 'dropout1': its torch twin is missing"):
        RD.share_masks(scratch_net, plain)


# --------------------------------------------------------------------------- errors
ERRORS = [
    ("p_above_1", lambda: nn.Dropout(1.5), ValueError,
     r"^Dropout: p must be between 0 and 1 \(dropout probability\), got 1\.5"),
    ("p_negative", lambda: nn.Dropout2d(-0.1), ValueError,
     r"^Dropout2d: p must be between 0 and 1 \(dropout probability\), got -0\.1"),
    ("p_string", lambda: nn.Dropout("0.5"), TypeError, r"^Dropout: p must be a number"),
    ("generator_type", lambda: nn.Dropout(0.5, generator="seed"), TypeError,
     r"^Dropout: generator must be a numpy\.random\.Generator, a non-negative int seed or "
     r"None, got 'seed'"),
    ("generator_positional", lambda: nn.Dropout(0.5, False, 3), TypeError,
     r"positional argument"),
    ("inplace_not_bool", lambda: nn.Dropout(0.5, 0.3), TypeError,
     r"^Dropout: inplace must be True or False, got 0\.3"),
    ("dropout2d_1d", lambda: nn.Dropout2d().forward(np.zeros(3)), ValueError,
     r"^Dropout2d expects input of shape \(N, C, H, W\) \(at least 2 dims\), got shape \(3,\)"),
    ("mask_source_shape", lambda: _with_source(lambda x: np.ones(3)), ValueError,
     r"^Dropout: mask_source gave a mask of shape \(3,\), expected \(2, 2\)"),
]


def _with_source(source):
    layer = nn.Dropout()
    layer.mask_source = source
    return layer.forward(np.zeros((2, 2)))


@pytest.mark.parametrize("make, error, message", [c[1:] for c in ERRORS],
                         ids=[c[0] for c in ERRORS])
def test_bad_arguments_are_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()
