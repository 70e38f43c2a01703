"""Attention, forward/backward pairs: ``scaled_dot_product_attention`` (torch's
``F.scaled_dot_product_attention``) and multi-head attention (the computation of
``torch.nn.MultiheadAttention``).

Scaled dot-product attention, for queries (..., L, E), keys (..., S, E) and values
(..., S, Ev), batch and head axes leading:

    scores = q @ k.T * scale + bias          (..., L, S); scale = 1 / sqrt(E) by default
    P = softmax(scores, axis=-1)             each query's weights over the keys
    A = P * keep / (1 - p)                   dropout on the weights (training only)
    out = A @ v                              (..., L, Ev)

``bias`` is 0 where a key may be attended and -inf where not (``is_causal``: key j of
query i when j > i; a boolean ``attn_mask``: where it is False), or a float
``attn_mask`` added as is. A query whose keys are all masked has no finite score; torch
gives it zero weights and a zero output (``safe=True``, its scaled_dot_product_attention)
or NaN (``safe=False``, MultiheadAttention with ``need_weights=True``, a plain softmax).

Backward: ``dA = dout @ v.T (+ the weights' own upstream gradient)``, ``dP = dA * keep /
(1 - p)``, ``dscores = P * (dP - sum(dP * P, -1))`` (the softmax Jacobian, over the key
axis), then ``dq = dscores @ k * scale`` and ``dk = dscores.T @ q * scale``: the scale
appears in the backward too.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


def _t(a):
    return np.swapaxes(a, -1, -2)


def _sum_to(a, shape):
    """Sum ``a`` over the axes along which an array of ``shape`` was broadcast to it."""
    lead = a.ndim - len(shape)
    a = a.sum(axis=tuple(range(lead))) if lead else a
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and a.shape[i] != 1)
    return a.sum(axis=axes, keepdims=True) if axes else a


def attention_bias(attn_mask, is_causal, shape, dtype):
    """The additive bias (0 / -inf, or the float mask) for scores of ``shape`` (..., L, S),
    or None when nothing is masked. A boolean ``attn_mask`` is True where attention is
    allowed (torch's scaled_dot_product_attention convention)."""
    bias = None
    if is_causal:
        length, source = shape[-2:]
        allowed = np.tril(np.ones((length, source), bool))
        bias = np.where(allowed, 0, -np.inf).astype(dtype)
    if attn_mask is not None:
        mask = (np.where(attn_mask, 0, -np.inf).astype(dtype) if attn_mask.dtype == bool
                else attn_mask)
        bias = mask if bias is None else bias + mask
    return bias


def masked_softmax(scores, safe=True):
    """Softmax over the last axis; rows whose scores are all -inf give zeros (``safe``)
    or NaN (not ``safe``, as a plain softmax)."""
    top = scores.max(axis=-1, keepdims=True)
    empty = np.isneginf(top)
    e = np.exp(scores - np.where(empty, 0, top))
    total = e.sum(axis=-1, keepdims=True)
    probs = e / np.where(empty, 1, total)
    return np.where(empty, np.nan, probs) if not safe else probs


def softmax_rows_backward(dprobs, probs):
    """The softmax Jacobian over the last axis; zero for rows that were fully masked."""
    probs = np.nan_to_num(probs, nan=0.0)
    return probs * (dprobs - (dprobs * probs).sum(axis=-1, keepdims=True))


class AttentionCache(NamedTuple):
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    probs: np.ndarray        # P, the softmax (..., L, S)
    weights: np.ndarray      # A, P after dropout: what multiplies v
    keep: np.ndarray | None  # keep-mask / (1 - p) (None: no dropout)
    scale: float
    mask_shape: tuple | None  # a float attn_mask's shape: it gets a gradient


def scaled_dot_product_attention_forward(query, key, value, attn_mask=None, dropout_p=0.0,
                                         is_causal=False, scale=None, *, dropout_mask=None,
                                         safe=True):
    """query (..., L, E), key (..., S, E), value (..., S, Ev); leading axes broadcast.

    attn_mask: boolean (True: may attend) or float (added to the scores), broadcastable
    to (..., L, S). dropout_mask: the keep-mask (zeros and ones) of the weights' shape,
    drawn by the caller, applied when ``dropout_p > 0`` (``dropout_p == 1`` zeroes them).
    Returns ``out`` (..., L, Ev), the weights ``A`` (..., L, S) (after dropout) and an
    :class:`AttentionCache`.
    """
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ _t(key)) * query.dtype.type(scale)                 # (..., L, S)
    bias = attention_bias(attn_mask, is_causal, scores.shape, query.dtype)
    if bias is not None:
        scores = scores + bias
    probs = masked_softmax(scores, safe)
    keep = None
    if dropout_p > 0:
        keep = (np.zeros((), query.dtype) if dropout_p == 1
                else np.asarray(dropout_mask, query.dtype) / query.dtype.type(1 - dropout_p))
    weights = probs if keep is None else probs * keep
    mask_shape = (attn_mask.shape if attn_mask is not None and attn_mask.dtype != bool
                  else None)
    out = weights @ value
    return out, weights, AttentionCache(query, key, value, probs, weights, keep, scale,
                                        mask_shape)


def scaled_dot_product_attention_backward(dout, dweights, cache):
    """dout (..., L, Ev); dweights (..., L, S) or None (the weights' upstream gradient).

    Returns ``(dquery, dkey, dvalue, dattn_mask)``, each of its input's shape
    (broadcast axes summed); dattn_mask None unless the mask was a float array.
    """
    q, k, v, probs, weights, keep, scale, mask_shape = cache
    dA = dout @ _t(v)
    if dweights is not None:
        dA = dA + dweights
    dv = _t(weights) @ dout
    dP = dA if keep is None else dA * keep
    dscores = softmax_rows_backward(dP, probs)
    dq = dscores @ k * q.dtype.type(scale)
    dk = _t(dscores) @ q * q.dtype.type(scale)
    dmask = None if mask_shape is None else _sum_to(dscores, mask_shape)
    return (_sum_to(dq, q.shape), _sum_to(dk, k.shape), _sum_to(dv, v.shape), dmask)
