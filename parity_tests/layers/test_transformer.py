"""TransformerEncoderLayer and TransformerEncoder against torch: every constructor argument
(norm_first, relu/gelu, dropout, eps, batch_first, bias), batched and unbatched input,
src_mask (boolean, float, causal with the is_causal hint) and src_key_padding_mask, training
with torch's own dropout masks (the attention weights', dropout1, dropout, dropout2 of each
layer, drawn in torch's order under one seed and handed to scratch) and eval; random upstream
gradients; output, input gradient and every parameter gradient in float64 and float32;
finite differences of the input gradient; repr, state_dict and refusals.

Tolerance: a layer chains the attention (``E + L`` terms), the feed-forward block
(``E + F``) and two LayerNorms over E: the budget is ``8 (E + L + F + 2)`` per layer for
values and input gradients, times the ``N * L`` positions for parameter gradients. Each
LayerNorm amplifies the rounding error of its input by the row's conditioning
``max|x| / sqrt(var + eps)`` and its backward multiplies by ``1 / sqrt(var + eps)`` (see
test_layernorm.py), up to 1/sqrt(eps) for a constant row; the budget is multiplied by the
product over every LayerNorm of the larger of the two at its worst row, measured on
torch's side (forward hooks on its LayerNorms: the reference's values).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given

from parity_tests import sequence_strategies as Q
from parity_tests.helpers import assert_parity, check, dtypes, upstream
from parity_tests.sequence_helpers import (
    row_conditioning,
    row_rstd,
    torch_dtype,
)
from scratch import nn


def build(case, dtype):
    layer = nn.TransformerEncoderLayer(*case.args, dtype=dtype, generator=0)
    twin = torch.nn.TransformerEncoderLayer(*case.args, dtype=torch_dtype(dtype))
    if case.num_layers == 1 and not case.final_norm:
        return layer, twin
    norm = (nn.LayerNorm(case.args[0], dtype=dtype), torch.nn.LayerNorm(
        case.args[0], dtype=torch_dtype(dtype))) if case.final_norm else (None, None)
    return (nn.TransformerEncoder(layer, case.num_layers, norm[0]),
            torch.nn.TransformerEncoder(twin, case.num_layers, norm[1],
                                        enable_nested_tensor=False))


def torch_masks(case, dtype):
    """The keep-masks torch draws under the case's seed, in order: per layer the attention
    weights' (N*H, L, L), dropout1's (src's shape), dropout's (dim_feedforward features)
    and dropout2's. With batch_first, dropout1 sees the attention output as a transposed
    view of (L, N, E) memory, and torch's Bernoulli fills it in memory order: drawn as
    (L, N, E) and transposed."""
    d_model, nhead, ff = case.args[:3]
    src, batch_first = case.src.shape, case.args[6] and case.src.ndim == 3
    batch = 1 if case.src.ndim == 2 else src[1 - case.args[6]]
    length = src[1] if batch_first else src[0]
    draws = [((batch * nhead, length, length), False),
             ((src[1], src[0], src[2]) if batch_first else src, batch_first),
             (src[:-1] + (ff,), False), (src, False)] * case.num_layers
    torch.manual_seed(case.seed)
    masks = []
    for shape, transposed in draws:
        mask = torch.empty(shape, dtype=torch_dtype(dtype)).bernoulli_(1 - case.args[3])
        masks.append((mask.transpose(0, 1) if transposed else mask).numpy())
    return masks


def share_torch_masks(model, case, dtype):
    """Make every scratch dropout (they run in torch's order) take torch's next mask."""
    queue = iter(torch_masks(case, dtype))
    for module in model.modules():
        if isinstance(module, (nn.Dropout, nn.MultiheadAttention)):
            module.mask_source = lambda *_: next(queue)


def run(case, dtype):
    mine, twin = build(case, dtype)
    rng = np.random.default_rng(case.seed)
    state = {k: rng.uniform(-1, 1, v.shape).astype(dtype) for k, v in mine.state_dict().items()}
    mine.load_state_dict(state)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    mine.train(case.training)
    twin.train(case.training)
    if case.training and case.args[3] > 0:
        share_torch_masks(mine, case, dtype)
    x = case.src.astype(dtype)
    mask = None if case.src_mask is None or case.src_mask.dtype == bool else \
        case.src_mask.astype(dtype)
    mask = case.src_mask if mask is None else mask
    out = mine(x, mask, case.padding, case.is_causal)
    dout = upstream(case.seed, out.shape, dtype)
    dx = mine.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    conditioning = []

    def record(norm, inputs):
        x = inputs[0].detach().numpy()
        conditioning.append(max(row_conditioning(x, 1, norm.eps).max(),
                                row_rstd(x, 1, norm.eps).max()))
    hooks = [m.register_forward_pre_hook(record) for m in twin.modules()
             if isinstance(m, torch.nn.LayerNorm)]
    torch.manual_seed(case.seed)
    t_out = twin(tx, None if mask is None else torch.from_numpy(mask),
                 None if case.padding is None else torch.from_numpy(case.padding),
                 is_causal=case.is_causal)
    t_out.backward(torch.from_numpy(dout))
    for hook in hooks:
        hook.remove()
    ours = dict(out=out, dx=dx, **{f"grad.{k}": p.grad for k, p in mine.named_parameters()})
    theirs = dict(out=t_out, dx=tx.grad,
                  **{f"grad.{k}": p.grad for k, p in twin.named_parameters()})
    return ours, theirs, float(np.prod(conditioning))


def budgets(case, names, conditioning):
    d_model, _, ff = case.args[:3]
    length = case.src.shape[0 if case.src.ndim == 2 or not case.args[6] else 1]
    k = 8 * (d_model + length + ff + 2) * case.num_layers * conditioning
    positions = case.src.size // d_model
    return {n: k * positions if n.startswith("grad.") else k for n in names}


def no_fully_masked_query(case):
    """torch's encoder with a query whose keys are all masked returns NaN on some paths;
    the attention test covers those rows, here every query keeps a key."""
    length = case.src.shape[0 if case.src.ndim == 2 or not case.args[6] else 1]
    blocked = np.zeros((1, length, length), bool)
    if case.src_mask is not None and case.src_mask.dtype == bool:
        blocked = blocked | case.src_mask
    if case.padding is not None:
        blocked = blocked | case.padding.reshape(-1, 1, length)
    return not blocked.all(axis=-1).any()


@pytest.mark.filterwarnings("ignore:Support for mismatched")
@pytest.mark.filterwarnings("ignore:.*enable_nested_tensor")
@dtypes
@given(case=Q.encoder_cases().filter(no_fully_masked_query))
def test_transformer_encoder_layer_matches_torch(case, dtype):
    ours, theirs, conditioning = run(case, dtype)
    assert_parity(ours, theirs, dtype, budgets(case, theirs, conditioning))


@pytest.mark.filterwarnings("ignore:Support for mismatched")
@pytest.mark.filterwarnings("ignore:.*enable_nested_tensor")
@dtypes
@given(case=Q.encoder_cases(max_layers=2).filter(no_fully_masked_query))
def test_transformer_encoder_matches_torch(case, dtype):
    """Stacks of 1-2 deep-copied layers and an optional final LayerNorm, dropout masks of
    every layer shared with torch."""
    ours, theirs, conditioning = run(case, dtype)
    assert_parity(ours, theirs, dtype, budgets(case, theirs, conditioning))


@given(case=Q.encoder_cases().filter(no_fully_masked_query))
def test_transformer_encoder_layer_backward_matches_finite_differences(case):
    """The input gradient in eval mode (no dropout), float64, on distinct input values 0.1
    apart (a constant row makes LayerNorm divide by sqrt(eps), where a step of 1e-6 is no
    longer small)."""
    layer = nn.TransformerEncoderLayer(*case.args, dtype=np.float64, generator=case.seed % 100)
    layer.eval()
    mask = case.src_mask

    def forward(x):
        return (layer.forward(x, mask, case.padding),), x

    def backward(douts, x):
        layer.forward(x, mask, case.padding)          # backward takes one forward each
        return (layer.backward(douts[0]),)
    check(forward, backward, Q.spread(case.src.shape, case.seed))


@pytest.mark.filterwarnings("ignore:.*enable_nested_tensor")
@given(case=Q.encoder_cases(max_layers=2))
def test_transformer_repr_and_state_dict_equal_torchs(case):
    mine, theirs = build(case, np.float32)
    assert repr(mine) == repr(theirs)
    assert [(k, v.shape) for k, v in mine.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


def test_stacked_layers_draw_different_dropout_masks():
    """The copies share the layer's generator, so their masks differ (as torch's, which all
    draw from one global generator)."""
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8, 0.5, generator=0), 2)
    enc(np.ones((5, 3, 4), np.float32))
    first, second = (layer.dropout1.mask for layer in enc.layers)
    assert first.shape == second.shape and not np.array_equal(first, second)


ERRORS = [
    (lambda: nn.TransformerEncoderLayer(4, 2, activation="tanh"), RuntimeError,
     "activation should be relu/gelu, not tanh"),
    (lambda: nn.TransformerEncoderLayer(4, 2, activation=np.tanh), NotImplementedError,
     "activation must be 'relu' or 'gelu'"),
    (lambda: nn.TransformerEncoderLayer(5, 2), AssertionError, "divisible by num_heads"),
    (lambda: nn.TransformerEncoderLayer(4, 2)(np.zeros((3, 2, 4))), TypeError,
     "float32 parameters"),
    (lambda: nn.TransformerEncoderLayer(4, 2)(np.zeros((3, 2, 5), np.float32)), ValueError,
     "embedding dimension of 4"),
    (lambda: nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(4, 2), 2), TypeError,
     "scratch TransformerEncoderLayer"),
    (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2), 0), ValueError,
     "num_layers must be a positive int"),
    (lambda: nn.TransformerEncoderLayer(4, 2).backward(np.zeros((3, 2, 4), np.float32)),
     RuntimeError, "before forward"),
]


@pytest.mark.parametrize("make, kind, match", ERRORS)
def test_bad_transformer_arguments_and_input_are_refused(make, kind, match):
    with pytest.raises(kind, match=match):
        make()
