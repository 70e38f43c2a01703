"""Attention against torch: ``scaled_dot_product_attention`` (boolean and float masks of
(L, S) or the full shape, is_causal, dropout with torch's own masks, scale; queries whose
keys are all masked get zeros, as torch) and ``MultiheadAttention`` (every constructor
argument, batched in either layout and unbatched, self- and cross-attention, key padding
and attention masks, need_weights, average_attn_weights, dropout with shared masks),
random upstream gradients on the output **and** the attention weights, float64 and
float32; finite differences of both pairs; repr, state_dict, init and refusals.

Tolerance: a score sums E products and an output S weighted values: ``K = E + S``
forward; the gradients go back through both (and the softmax): ``4 K``; projection
weights sum over the N * L positions. Dropout scales by 1 / (1 - p) <= 2: folded into
the factor 4.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given

from parity_tests import sequence_strategies as Q
from parity_tests.helpers import (
    assert_close,
    assert_parity,
    check,
    dtypes,
    upstream,
)
from parity_tests.sequence_helpers import torch_dtype
from scratch import functional as F
from scratch import nn


def torch_keep_mask(shape, p, dtype, seed):
    """The keep-mask torch's dropout draws under ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return torch.empty(shape, dtype=torch_dtype(dtype)).bernoulli_(1 - p).numpy()


# --------------------------------------------------------------------------- SDPA
@dtypes
@given(case=Q.attention_cases())
def test_scaled_dot_product_attention_matches_torch(case, dtype):
    q, k, v = (a.astype(dtype) for a in (case.q, case.k, case.v))
    mask = None if case.mask is None else (
        case.mask if case.mask.dtype == bool else case.mask.astype(dtype))
    weights_shape = q.shape[:-1] + (k.shape[-2],)
    keep = (torch_keep_mask(weights_shape, case.dropout_p, dtype, case.seed)
            if 0 < case.dropout_p < 1 else None)
    out, _, cache = F.scaled_dot_product_attention_forward(
        q, k, v, mask, case.dropout_p, case.is_causal, case.scale, dropout_mask=keep)
    dout = upstream(case.seed, out.shape, dtype)
    dq, dk, dv, dmask = F.scaled_dot_product_attention_backward(dout, None, cache)
    t = {n: torch.tensor(a, requires_grad=True) for n, a in dict(q=q, k=k, v=v).items()}
    t_mask = None if mask is None else torch.tensor(mask, requires_grad=mask.dtype != bool)
    torch.manual_seed(case.seed)
    t_out = TF.scaled_dot_product_attention(t["q"], t["k"], t["v"], attn_mask=t_mask,
                                            dropout_p=case.dropout_p,
                                            is_causal=case.is_causal, scale=case.scale)
    t_out.backward(torch.from_numpy(dout))
    mine, theirs = dict(out=out, dq=dq, dk=dk, dv=dv), dict(
        out=t_out, dq=t["q"].grad, dk=t["k"].grad, dv=t["v"].grad)
    if dmask is not None:
        mine["dmask"], theirs["dmask"] = dmask, t_mask.grad
    kk = q.shape[-1] + k.shape[-2]
    assert_parity(mine, theirs, dtype, {n: kk if n == "out" else 4 * kk for n in theirs})


@given(case=Q.attention_cases())
def test_scaled_dot_product_attention_backward_matches_finite_differences(case):
    """Both outputs (the result and the weights) get upstream gradients; dropout with a
    fixed mask is linear in the weights, so its gradient is checked too."""
    rng = np.random.default_rng(case.seed)
    weights_shape = case.q.shape[:-1] + (case.k.shape[-2],)
    keep = (rng.random(weights_shape) >= case.dropout_p).astype(float)
    floats = case.mask is not None and case.mask.dtype != bool

    def forward(q, k, v, *mask):
        out, weights, cache = F.scaled_dot_product_attention_forward(
            q, k, v, mask[0] if floats else case.mask, case.dropout_p, case.is_causal,
            case.scale, dropout_mask=keep)
        return (out, weights), cache

    def backward(douts, cache):
        dq, dk, dv, dmask = F.scaled_dot_product_attention_backward(*douts, cache)
        return (dq, dk, dv, dmask) if floats else (dq, dk, dv)
    check(forward, backward, case.q, case.k, case.v,
                       *([case.mask] if floats else []))


def test_a_query_with_every_key_masked_gets_zeros_as_in_torch():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), \
        rng.standard_normal((2, 5, 2))
    mask = np.ones((3, 5), bool)
    mask[1] = False
    out, weights, cache = F.scaled_dot_product_attention_forward(q, k, v, mask)
    t_out = TF.scaled_dot_product_attention(*map(torch.from_numpy, (q, k, v)),
                                            attn_mask=torch.from_numpy(mask))
    assert not out[:, 1].any() and not weights[:, 1].any()
    assert_close(out, t_out, 1e-12, 1e-14, "out")
    dq, *_ = F.scaled_dot_product_attention_backward(np.ones_like(out), None, cache)
    assert not dq[:, 1].any()


# --------------------------------------------------------------------------- MHA
def mha_pair(case, dtype):
    mine = nn.MultiheadAttention(case.embed_dim, case.num_heads, **case.kwargs, dtype=dtype)
    twin = torch.nn.MultiheadAttention(case.embed_dim, case.num_heads, **case.kwargs,
                                       dtype=torch_dtype(dtype))
    rng = np.random.default_rng(case.seed)
    state = {k: rng.uniform(-1, 1, v.shape).astype(dtype) for k, v in mine.state_dict().items()}
    mine.load_state_dict(state)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return mine, twin


def run_mha(case, dtype):
    mine, twin = mha_pair(case, dtype)
    q = case.query.astype(dtype)
    k, v = ((q, q) if case.self_attention
            else (case.key.astype(dtype), case.value.astype(dtype)))
    masks = {n: None if m is None else (m if m.dtype == bool else m.astype(dtype))
             for n, m in (("key_padding_mask", case.key_padding_mask),
                          ("attn_mask", case.attn_mask))}
    call = dict(need_weights=case.need_weights, average_attn_weights=case.average_attn_weights)
    p = case.kwargs["dropout"]
    if p:
        batch = 1 if q.ndim == 2 else q.shape[1 - case.kwargs["batch_first"]]
        length, source = q.shape[-2 if q.ndim == 2 or case.kwargs["batch_first"] else 0], None
        source = (k.shape[0] if k.ndim == 2 or not case.kwargs["batch_first"] else k.shape[1])
        source += case.kwargs["add_bias_kv"] + case.kwargs["add_zero_attn"]
        shape = (batch * case.num_heads, length, source)
        keep = torch_keep_mask(shape, p, dtype, case.seed)
        mine.mask_source = lambda s: keep
    out, weights = mine(q, k, v, **masks, **call)
    dout = upstream(case.seed, out.shape, dtype)
    dweights = None if weights is None else upstream(case.seed + 1, weights.shape, dtype)
    dq, dk, dv = mine.backward(dout, dweights)
    tq = torch.tensor(q, requires_grad=True)
    tk, tv = ((tq, tq) if case.self_attention else
              (torch.tensor(k, requires_grad=True), torch.tensor(v, requires_grad=True)))
    torch.manual_seed(case.seed)
    t_out, t_weights = twin(tq, tk, tv, **{n: None if m is None else torch.from_numpy(m)
                                           for n, m in masks.items()}, **call)
    loss = (t_out * torch.from_numpy(dout)).sum()
    if dweights is not None:
        loss = loss + (t_weights * torch.from_numpy(dweights)).sum()
    loss.backward()
    ours = dict(out=out, dquery=dq if not case.self_attention else dq + dk + dv,
                **{f"grad.{n}": p.grad for n, p in mine.named_parameters()})
    theirs = dict(out=t_out, dquery=tq.grad,
                  **{f"grad.{n}": p.grad for n, p in twin.named_parameters()})
    if not case.self_attention:
        ours.update(dkey=dk, dvalue=dv)
        theirs.update(dkey=tk.grad, dvalue=tv.grad)
    if weights is not None:
        ours["weights"], theirs["weights"] = weights, t_weights
    assert (weights is None) == (t_weights is None)
    return ours, theirs


def assert_mha_matches_torch(case, dtype):
    """Every output and gradient of one MHA case against torch, each within a budget of
    the terms it sums."""
    ours, theirs = run_mha(case, dtype)
    e = case.embed_dim
    source = case.key.shape[-2 if case.key.ndim == 2 or case.kwargs["batch_first"] else 0]
    kk = 2 * (max(e, case.key.shape[-1], case.value.shape[-1]) + source + 2)
    positions = case.query.size // e + case.key.size // case.key.shape[-1]
    assert_parity(ours, theirs, dtype, {n: 4 * kk * positions if n.startswith("grad.")
                                        else kk if n in ("out", "weights") else 4 * kk
                                        for n in theirs})


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@dtypes
@given(case=Q.mha_cases())
def test_multihead_attention_matches_torch(case, dtype):
    assert_mha_matches_torch(case, dtype)


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@dtypes
@given(case=Q.mha_cases(averaged_heads=True))
def test_head_averaged_weights_backward_matches_torch(case, dtype):
    """The weights averaged over two or three heads, over two or more keys, with their own
    random upstream gradient: each head gets 1/H of it (drawn every time here; the
    general case above reaches this corner in a few draws out of many)."""
    assert_mha_matches_torch(case, dtype)


def time_major(x, case):
    """A batched (L, N, .) array from the case's layout (unbatched: N = 1)."""
    if x.ndim == 2:
        return x[:, None]
    return x.transpose(1, 0, 2) if case.kwargs["batch_first"] else x


@given(case=Q.mha_cases())
def test_multihead_attention_backward_matches_finite_differences(case):
    """The functional pair in float64: every projection, bias_k/bias_v, the output and
    (with need_weights) the weights, all with upstream gradients."""
    mine, _ = mha_pair(case, np.float64)
    w_q, w_k, w_v, b_q, b_k, b_v = mine._projections()
    p = mine._params
    with_b, has_kv = b_q is not None, "bias_k" in p
    kpm = case.key_padding_mask
    kpm = kpm if kpm is None or kpm.ndim == 2 else kpm[None]
    masks = [None if m is None else np.where(m, -np.inf, 0) if m.dtype == bool else m
             for m in (case.attn_mask, kpm)]
    arrays = [time_major(a, case) for a in (case.query, case.key, case.value)]
    arrays += [w_q, w_k, w_v, mine.out_proj.weight.data]
    arrays += [b_q, b_k, b_v, mine.out_proj.bias.data] if with_b else []
    arrays += [p["bias_k"].data, p["bias_v"].data] if has_kv else []

    def forward(query, key, value, w_q, w_k, w_v, w_out, *rest):
        bs = rest[:4] if with_b else (None,) * 4
        kv = rest[-2:] if has_kv else (None, None)
        out, weights, cache = F.multi_head_attention_forward(
            query, key, value, case.num_heads, w_q, w_k, w_v, *bs[:3], w_out, bs[3], *kv,
            case.kwargs["add_zero_attn"], *masks, need_weights=case.need_weights,
            average_attn_weights=case.average_attn_weights)
        return ((out, weights) if case.need_weights else (out,)), cache

    def backward(douts, cache):
        g = F.multi_head_attention_backward(douts[0], douts[1] if case.need_weights else None,
                                            cache)
        grads = [g.dquery, g.dkey, g.dvalue, g.dw_q, g.dw_k, g.dw_v, g.dw_out]
        grads += [g.db_q, g.db_k, g.db_v, g.db_out] if with_b else []
        return grads + ([g.dbias_k, g.dbias_v] if has_kv else [])
    check(forward, backward, *arrays)


def test_fully_masked_queries_as_torch_with_and_without_weights():
    """Every key of sample 1 padded: torch's need_weights path (plain softmax) gives NaN for
    it, the need_weights=False path (scaled_dot_product_attention) zeros; so do we."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 4))
    kpm = np.array([[False, True, False], [True, True, True]])
    for need in (True, False):
        mine = nn.MultiheadAttention(4, 2, dtype=np.float64, generator=0)
        twin = torch.nn.MultiheadAttention(4, 2, dtype=torch.float64)
        twin.load_state_dict({k: torch.from_numpy(v) for k, v in mine.state_dict().items()})
        out, _ = mine(x, x, x, kpm, need_weights=need)
        t_out, _ = twin(*(torch.from_numpy(x),) * 3, torch.from_numpy(kpm), need_weights=need)
        np.testing.assert_array_equal(np.isnan(out), np.isnan(t_out.detach().numpy()))
        assert np.isnan(out[:, 1]).all() == need
        assert_close(out, t_out, 1e-12, 1e-14, "out", equal_nan=True)


@given(case=Q.mha_cases())
def test_multihead_attention_repr_and_state_dict_equal_torchs(case):
    mine = nn.MultiheadAttention(case.embed_dim, case.num_heads, **case.kwargs)
    theirs = torch.nn.MultiheadAttention(case.embed_dim, case.num_heads, **case.kwargs)
    assert repr(mine) == repr(theirs)
    assert [(k, v.shape) for k, v in mine.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


def test_multihead_attention_initialisation_is_torchs():
    """xavier-uniform in_proj_weight (bound sqrt(6 / (E + 3E))), zero biases, out_proj's
    weight within Linear's bound, bias_k/bias_v of xavier-normal scale."""
    e = 64
    m = nn.MultiheadAttention(e, 4, add_bias_kv=True, generator=1)
    w = m.in_proj_weight.data
    bound = np.sqrt(6 / (4 * e))
    assert np.abs(w).max() <= np.float32(bound) and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.02 * bound
    assert not m.in_proj_bias.data.any() and not m.out_proj.bias.data.any()
    assert np.abs(m.out_proj.weight.data).max() <= np.float32(1 / np.sqrt(e))
    assert m.bias_k.data.shape == (1, 1, e) and m.bias_k.data.any()
    again = nn.MultiheadAttention(e, 4, add_bias_kv=True, generator=1).state_dict()
    assert all(np.array_equal(again[k], v) for k, v in m.state_dict().items())


f32 = np.float32
x3 = np.zeros((3, 2, 4), f32)
ERRORS = [
    (lambda: nn.MultiheadAttention(5, 2), AssertionError, "divisible by num_heads"),
    (lambda: nn.MultiheadAttention(4, 0), ValueError, "must be greater than 0"),
    (lambda: nn.MultiheadAttention(4, 2)(x3, x3, x3.astype(np.float64)), TypeError,
     "float32 parameters"),
    (lambda: nn.MultiheadAttention(4, 2, dtype=np.float64)(x3, x3, x3), TypeError,
     "float64 parameters"),
    (lambda: nn.MultiheadAttention(4, 2)(x3, x3[:, 0], x3), AssertionError,
     "expected `key` and `value` to be 3-D"),
    (lambda: nn.MultiheadAttention(4, 2)(np.zeros((3, 2, 5), f32), x3, x3), ValueError,
     "embedding dimension of 4"),
    (lambda: nn.MultiheadAttention(4, 2)(x3, x3, x3, attn_mask=np.zeros((3, 4), bool)),
     ValueError, r"The shape of the 2D attn_mask is \(3, 4\), but should be \(3, 3\)"),
    (lambda: nn.MultiheadAttention(4, 2)(x3, x3, x3, key_padding_mask=np.zeros(3, bool)),
     AssertionError, "`key_padding_mask` to be `None` or 2-D"),
    (lambda: nn.MultiheadAttention(4, 2)(x3, x3, x3, attn_mask=np.zeros((3, 3), np.int64)),
     TypeError, "only bool and floating types of attn_mask"),
    (lambda: nn.MultiheadAttention(4, 2)(x3, x3, x3, is_causal=True), RuntimeError,
     "Need attn_mask if specifying the is_causal hint"),
    (lambda: nn.MultiheadAttention(4, 2)(np.zeros((1, 3, 2, 4), f32), x3, x3), AssertionError,
     "unbatched 2D or batched 3D"),
    (lambda: nn.MultiheadAttention(4, 2).backward(x3), RuntimeError, "before forward"),
    (lambda: (lambda m: (m(x3, x3, x3, need_weights=False),
                         m.backward(x3, np.zeros((2, 3, 3), f32))))(
        nn.MultiheadAttention(4, 2)), ValueError, "need_weights=False"),
]


@pytest.mark.parametrize("make, kind, match", ERRORS)
def test_bad_attention_arguments_and_input_are_refused(make, kind, match):
    with pytest.raises(kind, match=match):
        make()


@pytest.mark.parametrize("call", [
    lambda lib, a: lib.MultiheadAttention(4, 2)(a(x3), a(x3), a(x3.astype(np.float64))),
    lambda lib, a: lib.MultiheadAttention(4, 2)(a(x3), a(x3), a(x3),
                                                attn_mask=a(np.zeros((3, 4), bool))),
    lambda lib, a: lib.MultiheadAttention(4, 2)(a(x3), a(x3), a(x3), is_causal=True)],
    ids=["dtype", "mask-shape", "causal-without-mask"])
def test_multihead_attention_refuses_what_torch_refuses(call):
    for lib, a in ((torch.nn, torch.from_numpy), (nn, lambda x: x)):
        with pytest.raises(Exception):  # noqa: B017  (the types are checked in ERRORS)
            call(lib, a)
