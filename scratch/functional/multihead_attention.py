"""Multi-head attention, forward/backward pair: the computation of
``torch.nn.MultiheadAttention`` (torch's ``F.multi_head_attention_forward``).

Time-major inputs: query (L, N, E), key (S, N, kdim), value (S, N, vdim). With H heads
of ``hd = E / H`` features each:

    q = query @ w_q.T + b_q;  k = key @ w_k.T + b_k;  v = value @ w_v.T + b_v    (., N, E)
    [bias_k, bias_v appended to k and v as one more key; a zero key and value appended
     with add_zero_attn; the masks get a zero column for each]
    split E into H heads:  (L, N, E) -> (N*H, L, hd), all heads at once
    a = scaled_dot_product_attention(q, k, v, mask)  (N*H, L, hd), scale 1/sqrt(hd)
    out = concat(heads) @ w_out.T + b_out             (L, N, E)

``mask`` is the float attn_mask ((L, S) or (N*H, L, S), 0 / -inf or any float) plus the
float key-padding mask ((N, S), the same for every head and query). The returned weights
are the attention weights after dropout, (N, H, L, S), or their mean over the heads.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scratch.functional.attention import (
    scaled_dot_product_attention_backward,
    scaled_dot_product_attention_forward,
)


class MHACache(NamedTuple):
    query: np.ndarray
    key: np.ndarray
    value: np.ndarray
    w: tuple                 # w_q, w_k, w_v, w_out
    has_bias: tuple          # b_q/b_k/b_v present, b_out present
    bias_kv: bool
    add_zero_attn: bool
    heads_out: np.ndarray    # (L, N, E): the heads concatenated, what w_out multiplies
    attention: tuple         # the scaled dot-product attention's cache
    average: bool


class MHAGrads(NamedTuple):
    dquery: np.ndarray
    dkey: np.ndarray
    dvalue: np.ndarray
    dw_q: np.ndarray
    dw_k: np.ndarray
    dw_v: np.ndarray
    db_q: np.ndarray | None
    db_k: np.ndarray | None
    db_v: np.ndarray | None
    dw_out: np.ndarray
    db_out: np.ndarray | None
    dbias_k: np.ndarray | None
    dbias_v: np.ndarray | None


def _project(x, w, b):
    y = x @ w.T
    return y if b is None else y + b


def _heads(x, n, h):
    """(S, N, E) -> (N*H, S, E/H): every head of every sample as one batch entry."""
    return x.reshape(x.shape[0], n * h, -1).transpose(1, 0, 2)


def _unheads(x, n):
    """(N*H, S, E/H) -> (S, N, E)."""
    return x.transpose(1, 0, 2).reshape(x.shape[1], n, -1)


def _pad_column(mask):
    return None if mask is None else np.concatenate(
        [mask, np.zeros(mask.shape[:-1] + (1,), mask.dtype)], axis=-1)


def multi_head_attention_forward(query, key, value, num_heads, w_q, w_k, w_v, b_q, b_k, b_v,
                                 w_out, b_out, bias_k=None, bias_v=None, add_zero_attn=False,
                                 attn_mask=None, key_padding_mask=None, dropout_p=0.0,
                                 dropout_mask=None, need_weights=True,
                                 average_attn_weights=True):
    """See the module docstring. Biases may be None; masks are float (0 / -inf) or None.

    dropout_mask: the keep-mask of the weights (N*H, L, S'), used when dropout_p > 0.
    Returns out (L, N, E), the weights ((N, H, L, S') or their head mean (N, L, S'); None
    unless ``need_weights``) and an :class:`MHACache`. A query with every key masked gets
    NaN weights and output with ``need_weights`` (torch's plain softmax), zeros without.
    """
    length, n, e = query.shape
    q = _project(query, w_q, b_q)
    k = _project(key, w_k, b_k)
    v = _project(value, w_v, b_v)
    if bias_k is not None:
        k = np.concatenate([k, np.broadcast_to(bias_k, (1, n, e))])
        v = np.concatenate([v, np.broadcast_to(bias_v, (1, n, e))])
        attn_mask, key_padding_mask = _pad_column(attn_mask), _pad_column(key_padding_mask)
    qh, kh, vh = (_heads(a, n, num_heads) for a in (q, k, v))      # (N*H, ., hd)
    if add_zero_attn:
        kh, vh = (np.concatenate([a, np.zeros((a.shape[0], 1, a.shape[2]), a.dtype)], axis=1)
                  for a in (kh, vh))
        attn_mask, key_padding_mask = _pad_column(attn_mask), _pad_column(key_padding_mask)
    mask = attn_mask
    if key_padding_mask is not None:                      # (N, S) -> (N*H, 1, S)
        pad = np.repeat(key_padding_mask[:, None, :], num_heads, axis=0)
        mask = pad if mask is None else mask + pad
    a, weights, attention = scaled_dot_product_attention_forward(
        qh, kh, vh, mask, dropout_p, dropout_mask=dropout_mask, safe=not need_weights)
    heads_out = _unheads(a, n)                                      # (L, N, E)
    out = _project(heads_out, w_out, b_out)
    if need_weights:
        weights = weights.reshape(n, num_heads, length, -1)
        weights = weights.mean(axis=1) if average_attn_weights else weights
    cache = MHACache(query, key, value, (w_q, w_k, w_v, w_out),
                     (b_q is not None, b_out is not None), bias_k is not None, add_zero_attn,
                     heads_out, attention, average_attn_weights)
    return out, (weights if need_weights else None), cache


def _linear_backward(dy, x, w, has_bias):
    """dx, dw, db of ``y = x @ w.T + b`` over (S, N, .) arrays."""
    flat = dy.reshape(-1, dy.shape[-1])
    return (dy @ w, flat.T @ x.reshape(-1, x.shape[-1]),
            flat.sum(axis=0) if has_bias else None)


def multi_head_attention_backward(dout, dweights, cache):
    """dout (L, N, E); dweights of the returned weights' shape, or None.

    Returns :class:`MHAGrads`: the gradients of query, key, value and of every
    projection weight and bias (None where absent).
    """
    query, key, value, (w_q, w_k, w_v, w_out), (has_b, has_b_out), bias_kv, zero_attn, \
        heads_out, attention, average = cache
    n, num_heads = query.shape[1], attention.q.shape[0] // query.shape[1]
    dheads, dw_out, db_out = _linear_backward(dout, heads_out, w_out, has_b_out)
    dW = None
    if dweights is not None:
        if average:                     # the mean over heads: each head gets 1/H of it
            dweights = np.repeat(dweights[:, None] / dout.dtype.type(num_heads), num_heads,
                                 axis=1)
        dW = dweights.reshape(attention.weights.shape)
    dqh, dkh, dvh, _ = scaled_dot_product_attention_backward(_heads(dheads, n, num_heads),
                                                             dW, attention)
    if zero_attn:
        dkh, dvh = dkh[:, :-1], dvh[:, :-1]
    dq, dk, dv = (_unheads(a, n) for a in (dqh, dkh, dvh))
    dbias_k = dbias_v = None
    if bias_kv:
        dbias_k, dbias_v = (a[-1].sum(axis=0).reshape(1, 1, -1) for a in (dk, dv))
        dk, dv = dk[:-1], dv[:-1]
    dquery, dw_q, db_q = _linear_backward(dq, query, w_q, has_b)
    dkey, dw_k, db_k = _linear_backward(dk, key, w_k, has_b)
    dvalue, dw_v, db_v = _linear_backward(dv, value, w_v, has_b)
    return MHAGrads(dquery, dkey, dvalue, dw_q, dw_k, dw_v, db_q, db_k, db_v, dw_out, db_out,
                    dbias_k, dbias_v)
