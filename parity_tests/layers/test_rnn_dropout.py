"""Dropout between stacked recurrent layers (RNN, LSTM, GRU) against torch with the very
same masks: torch draws each layer's mask with ``bernoulli_(1 - p)`` on a tensor of the
layer output's time-major shape (L, N, D*H), in layer order, and nothing else in the
forward draws, so the test draws them the same way under one seed, hands them to scratch
through ``mask_source`` and then runs torch under that seed again. Training mode, random
upstream gradients on the output and the final states; eval mode applies no dropout.

Tolerance: test_rnn.py's budget (K per step, P = layers * steps, backward doubled, weight
gradients times N * steps, the LSTM's cell times steps + 1) times three gate sums, times
the mask scale 1 / (1 - p) of each layer below.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import assert_parity, dtypes, upstream
from parity_tests.sequence_helpers import torch_dtype
from reference import convert
from scratch import nn


def kwargs(case):
    kw = dict(num_layers=case.num_layers, bias=case.bias, batch_first=case.batch_first,
              bidirectional=case.bidirectional)
    if case.mode.startswith("RNN"):
        kw["nonlinearity"] = "relu" if case.mode == "RNN_RELU" else "tanh"
    return kw


def cls_name(case):
    return case.mode if case.mode in ("LSTM", "GRU") else "RNN"


def torch_masks(case, p, dtype, seed):
    """The masks torch's forward will draw under ``torch.manual_seed(seed)``."""
    if p == 1:
        return None
    d = 2 if case.bidirectional else 1
    shape = (case.steps, case.batch or 1, d * case.hidden_size)
    torch.manual_seed(seed)
    return [torch.empty(shape, dtype=torch_dtype(dtype)).bernoulli_(1 - p).numpy()
            for _ in range(case.num_layers - 1)]


@dtypes
@given(case=S.recurrent_cases(modes=("RNN_TANH", "LSTM", "GRU"), max_steps=4, max_layers=3)
       .filter(lambda c: c.num_layers > 1), p=st.sampled_from([0.25, 0.5, 1.0]),
       training=st.booleans())
def test_dropout_between_layers_matches_torch_with_shared_masks(dtype, case, p, training):
    name = cls_name(case)
    layer = getattr(nn, name)(case.input_size, case.hidden_size, **kwargs(case), dropout=p,
                              dtype=dtype)
    twin = getattr(torch.nn, name)(case.input_size, case.hidden_size, **kwargs(case),
                                   dropout=p, dtype=torch_dtype(dtype))
    rng = np.random.default_rng(case.seed)
    state = {k: (rng.uniform(-1, 1, v.shape) / max(v.shape)).astype(dtype)
             for k, v in layer.state_dict().items()}
    layer.load_state_dict(state)
    convert.load_numpy_state(twin, state)
    layer.train(training)
    twin.train(training)
    masks = torch_masks(case, p, dtype, case.seed)
    layer.mask_source = lambda out, index: masks[index]
    x = case.x.astype(dtype)
    out, final = layer(x)
    finals = final if name == "LSTM" else (final,)
    dout = upstream(case.seed + 1, out.shape, dtype)
    dfinals = [upstream(case.seed + 2 + i, f.shape, dtype) for i, f in enumerate(finals)]
    dx, _ = layer.backward(dout, *dfinals)
    torch.manual_seed(case.seed)
    tx = torch.tensor(x, requires_grad=True)
    t_out, t_final = twin(tx)
    t_finals = t_final if name == "LSTM" else (t_final,)
    loss = (t_out * torch.from_numpy(dout)).sum()
    for f, g in zip(t_finals, dfinals):
        loss = loss + (f * torch.from_numpy(g)).sum()
    loss.backward()
    mine = dict(out=out, dx=dx, **{f"final{i}": f for i, f in enumerate(finals)},
                **{f"grad.{k}": v.grad for k, v in layer.named_parameters()})
    theirs = dict(out=t_out, dx=tx.grad, **{f"final{i}": f for i, f in enumerate(t_finals)},
                  **{f"grad.{k}": v.grad for k, v in twin.named_parameters()})
    assert len(layer.masks) == (case.num_layers - 1 if training else 0)
    d = 2 if case.bidirectional else 1
    k = 3 * (max(case.input_size, d * case.hidden_size) + case.hidden_size + 2)
    k *= case.num_layers * case.steps * (case.steps + 1 if name == "LSTM" else 1)
    k *= (1 / (1 - p) if p < 1 else 1) ** (case.num_layers - 1)
    n = (case.batch or 1) * case.steps
    assert_parity(mine, theirs, dtype, {key: 2 * k * n if key.startswith("grad.") else 2 * k
                                        for key in theirs})


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_dropout_masks_are_drawn_from_the_layers_generator(name):
    """Without a mask_source: L - 1 masks of the output's time-major shape, Bernoulli(1 - p)
    (about 70% kept for p = 0.3), the same ones again from the same seed, none in eval."""
    x = np.random.default_rng(0).standard_normal((2, 50, 3)).astype(np.float32)
    layers = [getattr(nn, name)(3, 20, 3, dropout=0.3, batch_first=True, bidirectional=True,
                                seed=4) for _ in range(2)]
    for layer in layers:
        layer(x)
    masks = layers[0].masks
    assert [m.shape for m in masks] == [(50, 2, 40)] * 2
    kept = np.mean(np.concatenate([m.ravel() for m in masks]))
    assert abs(kept - 0.7) < 5 * np.sqrt(0.21 / (2 * 50 * 2 * 40))
    assert all(np.array_equal(a, b) for a, b in zip(masks, layers[1].masks))
    layers[0].eval()
    layers[0](x)
    assert layers[0].masks == []


def test_a_mask_of_the_wrong_shape_is_refused():
    layer = nn.GRU(3, 4, 2, dropout=0.5)
    layer.mask_source = lambda out, index: np.ones((1, 1, 1))
    with pytest.raises(ValueError, match=r"mask_source gave a mask of shape \(1, 1, 1\)"):
        layer(np.zeros((5, 2, 3), np.float32))
