"""Arguments drawn nowhere else, each at its non-default value against torch: the
unsafe softmax of scaled-dot-product attention (``safe=False``), the recurrent layers'
own ``generator``, ``TransformerEncoder``'s torch fast-path flags (accepted, no effect),
``Embedding(_freeze=True)`` (refused) and ``Hardtanh``'s deprecated ``max_value``.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from parity_tests.helpers import (
    assert_close,
    assert_parity,
)
from reference import convert
from scratch import functional as F
from scratch import nn


def _qkv(rng, L=3, S=4, E=5):
    return (rng.standard_normal((2, L, E)), rng.standard_normal((2, S, E)),
            rng.standard_normal((2, S, E)))


def test_unsafe_attention_equals_torchs_plain_softmax_composition_and_nan_rows():
    """``safe=False`` is a plain softmax: where some key is allowed it equals torch's
    sdpa; a row with every key masked out is NaN, as torch's softmax(scores) @ v is
    (``safe=True`` gives that row zeros, as torch's sdpa does)."""
    rng = np.random.default_rng(0)
    q, k, v = _qkv(rng)
    mask = rng.uniform(size=(3, 4)) < 0.6
    mask[0] = False                                  # row 0: nothing to attend to
    mask[1:, 0] = True                               # every other row: something
    out, weights, _ = F.scaled_dot_product_attention_forward(q, k, v, mask, safe=False)
    tq, tk, tv, tm = (torch.from_numpy(a) for a in (q, k, v, mask))
    scores = tq @ tk.transpose(-2, -1) / math.sqrt(5)
    t_weights = torch.softmax(scores.masked_fill(~tm, float("-inf")), -1)
    t_out = t_weights @ tv
    for ours, theirs in [(out, t_out), (weights, t_weights)]:
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs.numpy()))
    assert np.isnan(out[:, 0]).all() and not np.isnan(out[:, 1:]).any()
    assert_parity(dict(out=out[:, 1:], weights=weights[:, 1:]),
                  dict(out=t_out[:, 1:], weights=t_weights[:, 1:]), np.float64, dict(out=4))
    t_safe = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, tm)
    safe, _, _ = F.scaled_dot_product_attention_forward(q, k, v, mask)
    assert_parity(dict(out=safe), dict(out=t_safe), np.float64, dict(out=4))
    assert_close(out[:, 1:], safe[:, 1:], 1e-12, 1e-14, "out[:, 1:]")


@pytest.mark.parametrize("kind", ["GRU", "LSTM", "RNN"])
def test_recurrent_generator_makes_its_own_reproducible_torch_uniform_draw(kind):
    """``generator=`` seeds the layer's own initialisation: the same seed the same
    weights, another seed others, each within torch's U(-1/sqrt(h), 1/sqrt(h))."""
    layer = getattr(nn, kind)(30, 40, generator=2)
    values = np.concatenate([v.ravel() for v in layer.state_dict().values()])
    bound = np.float32(1 / np.sqrt(40))
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    again = getattr(nn, kind)(30, 40, generator=2).state_dict()
    other = getattr(nn, kind)(30, 40, generator=3).state_dict()
    for key, value in layer.state_dict().items():
        np.testing.assert_array_equal(again[key], value, err_msg=key)
        assert not np.array_equal(other[key], value), key


@pytest.mark.parametrize("enable_nested_tensor", [True, False])
@pytest.mark.parametrize("mask_check", [True, False])
def test_transformer_encoder_fast_path_flags_change_nothing_as_in_torch(
        enable_nested_tensor, mask_check):
    """torch's ``enable_nested_tensor`` and ``mask_check`` steer only its inference fast
    path: with a key-padding mask the output and every gradient equal torch's, and equal
    the defaults' (in scratch they are kept as attributes and do nothing else)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 2, 4))
    pad = np.array([[False] * 4 + [True], [False] * 5])

    def build(**flags):
        layer = nn.TransformerEncoderLayer(4, 2, 8, 0.0, dtype=np.float64)
        return nn.TransformerEncoder(layer, 2, **flags)

    mine = build(enable_nested_tensor=enable_nested_tensor, mask_check=mask_check)
    default = build()
    default.load_state_dict(mine.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")              # torch: nested tensors need batch_first
        t_layer = torch.nn.TransformerEncoderLayer(4, 2, 8, 0.0, dtype=torch.float64)
        theirs = torch.nn.TransformerEncoder(t_layer, 2,
                                             enable_nested_tensor=enable_nested_tensor,
                                             mask_check=mask_check)
    assert (mine.enable_nested_tensor, mine.mask_check) == (enable_nested_tensor,
                                                             mask_check)
    convert.load_numpy_state(theirs, mine.state_dict())
    out = mine(x, src_key_padding_mask=pad)
    dout = rng.standard_normal(out.shape)
    dx = mine.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    t_out = theirs(tx, src_key_padding_mask=torch.from_numpy(pad))
    t_out.backward(torch.from_numpy(dout))
    grads = {n: p.grad for n, p in mine.named_parameters()}
    assert_parity(dict(out=out, dx=dx, **grads),
                  dict(out=t_out, dx=tx.grad,
                       **{n: p.grad for n, p in theirs.named_parameters()}),
                  np.float64, {n: 60 for n in ["out", "dx", *grads]})
    np.testing.assert_array_equal(default(x, src_key_padding_mask=pad), out)
    np.testing.assert_array_equal(default.backward(dout), dx)


def test_embedding_freeze_is_refused_naming_what_to_do():
    """torch's private ``_freeze=True`` turns off the weight's requires_grad; scratch has
    no requires_grad, so it refuses rather than train a weight the caller froze."""
    with pytest.raises(NotImplementedError, match="_freeze=True"):
        nn.Embedding(3, 2, _freeze=True)


@pytest.mark.parametrize("min_value, max_value", [(None, 0.5), (-0.25, 2.0)])
def test_hardtanh_deprecated_max_value_warns_and_clamps_as_torch(min_value, max_value):
    x = np.random.default_rng(2).standard_normal((3, 4)) * 2
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        mine = nn.Hardtanh(min_value=min_value, max_value=max_value)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        twin = torch.nn.Hardtanh(min_value=min_value, max_value=max_value)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    assert (mine.min_val, mine.max_val) == (twin.min_val, twin.max_val)
    assert repr(mine) == repr(twin)
    out = mine(x)
    dout = np.random.default_rng(3).standard_normal(x.shape)
    tx = torch.tensor(x, requires_grad=True)
    t_out = twin(tx)
    t_out.backward(torch.from_numpy(dout))
    assert_parity(dict(out=out, dx=mine.backward(dout)), dict(out=t_out, dx=tx.grad),
                  np.float64)
