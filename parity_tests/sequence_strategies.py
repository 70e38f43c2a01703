"""Hypothesis strategies of the sequence and attention parity tests, valid by construction
(sizes first, then arrays that fit them)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from parity_tests import strategies as S


def spread(shape, seed):
    """Distinct values 0.1 apart in random order: no ties, so no row of a layer norm is
    constant and finite differences are well conditioned."""
    size = int(np.prod(shape))
    values = (np.random.default_rng(seed).permutation(size) - size / 2 + 0.5) * 0.1
    return values.reshape(shape)


class LayerNormCase(NamedTuple):
    x: np.ndarray
    shape: tuple            # normalized_shape
    weight: np.ndarray | None
    bias: np.ndarray | None
    eps: float
    seed: int


@st.composite
def layer_norm_cases(draw, spread_values=False):
    """normalized_shape of 1-2 axes of 1-4, 0-3 leading axes of 1-3 (0 leading axes: the
    input is one sample of exactly normalized_shape), weight and bias each present or not."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)))
    lead = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=3)))
    seed = draw(S.SEEDS)
    x = spread(lead + shape, seed) if spread_values else draw(S.array(lead + shape))
    weight, bias = (draw(S.array(shape, S.WEIGHT_VALUES)) if draw(st.booleans()) else None
                    for _ in range(2))
    eps = draw(st.sampled_from([1e-5, 1e-3, 0.5]))
    return LayerNormCase(x, shape, weight, bias, eps, seed)


class EmbeddingCase(NamedTuple):
    indices: np.ndarray     # int64, any shape (size 0 included)
    weight: np.ndarray      # (num_embeddings, dim), float64 values representable in float32
    padding_idx: int | None  # as the module takes it: negative counts from the end
    max_norm: float | None
    norm_type: float
    scale_grad_by_freq: bool
    seed: int


@st.composite
def embedding_cases(draw):
    """Few rows and many lookups, so indices repeat (their gradients must add up)."""
    num, dim = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=3)))
    indices = np.array(draw(st.lists(st.integers(0, num - 1), min_size=int(np.prod(shape)),
                                     max_size=int(np.prod(shape)))), np.int64).reshape(shape)
    weight = draw(S.array((num, dim), st.floats(-2, 2, width=32))).astype(np.float64)
    padding_idx = draw(st.none() | st.integers(-num, num - 1))
    max_norm = draw(st.none() | st.sampled_from([0.5, 1.0, 2.0]))
    norm_type = draw(st.sampled_from([2.0, 2.0, 1.0, 3.0, float("inf")]))
    return EmbeddingCase(indices, weight, padding_idx, max_norm, norm_type,
                         draw(st.booleans()), draw(S.SEEDS))


class AttentionCase(NamedTuple):
    q: np.ndarray           # (*lead, L, E)
    k: np.ndarray           # (*lead, S, E)
    v: np.ndarray           # (*lead, S, Ev)
    mask: np.ndarray | None  # bool (True: may attend) or float, (L, S) or (*lead, L, S)
    is_causal: bool
    dropout_p: float
    scale: float | None
    seed: int


@st.composite
def attention_cases(draw):
    """Leading (batch, head) axes 0-2, L, S, E, Ev 1-4; no mask, a boolean or float mask of
    (L, S) or the full shape (random booleans: some queries end up with every key masked),
    or is_causal; dropout 0, 0.3 or 1; the default scale or a drawn one."""
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    length, source, e, ev = (draw(st.integers(1, 4)) for _ in range(4))
    q = draw(S.array(lead + (length, e)))
    k = draw(S.array(lead + (source, e)))
    v = draw(S.array(lead + (source, ev)))
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    shape = (length, source) if draw(st.booleans()) else lead + (length, source)
    mask = None
    if kind == "bool":
        mask = np.array(draw(st.lists(st.booleans(), min_size=int(np.prod(shape)),
                                      max_size=int(np.prod(shape))))).reshape(shape)
    elif kind == "float":
        mask = draw(S.array(shape))
    return AttentionCase(q, k, v, mask, kind == "causal",
                         draw(st.sampled_from([0.0, 0.0, 0.3, 1.0])),
                         draw(st.none() | st.sampled_from([0.5, 2.0])), draw(S.SEEDS))


class MHACase(NamedTuple):
    embed_dim: int
    num_heads: int
    kwargs: dict            # the constructor's keyword arguments (dropout, bias, ...)
    query: np.ndarray
    key: np.ndarray
    value: np.ndarray
    self_attention: bool    # query, key and value the same array
    key_padding_mask: np.ndarray | None
    attn_mask: np.ndarray | None
    need_weights: bool
    average_attn_weights: bool
    seed: int


def _mask(draw, shape, float_ok=True):
    if float_ok and draw(st.booleans()):
        return draw(S.array(shape))
    return np.array(draw(st.lists(st.booleans(), min_size=int(np.prod(shape)),
                                  max_size=int(np.prod(shape))))).reshape(shape)


@st.composite
def mha_cases(draw, averaged_heads=False):
    """Every constructor argument; batched (either layout) or unbatched; self-attention or
    query/key/value of their own sizes; key_padding_mask and attn_mask (2-D or 3-D) each
    absent, boolean or float; with need_weights, no query has every key masked (torch's
    plain softmax gives NaN there: see the dedicated test). ``averaged_heads``: two or
    three heads whose weights are returned averaged, over at least two keys and without
    dropout, where the backward must split the weights' gradient over the heads."""
    heads = draw(st.integers(2 if averaged_heads else 1, 3))
    e = heads * draw(st.integers(1, 2))
    kdim = draw(st.none() | st.integers(1, 4))
    vdim = draw(st.none() | st.integers(1, 4))
    kwargs = dict(dropout=0.0 if averaged_heads else draw(st.sampled_from([0.0, 0.0, 0.5])),
                  bias=draw(st.booleans()),
                  add_bias_kv=draw(st.booleans()), add_zero_attn=draw(st.booleans()),
                  kdim=kdim, vdim=vdim, batch_first=draw(st.booleans()))
    batch = draw(st.none() | st.integers(1, 3))
    length = draw(st.integers(2 if averaged_heads else 1, 4))
    self_attention = kdim is None and vdim is None and draw(st.booleans())
    source = length if self_attention else draw(st.integers(2 if averaged_heads else 1, 4))

    def shaped(steps, dim):
        if batch is None:
            return (steps, dim)
        return (batch, steps, dim) if kwargs["batch_first"] else (steps, batch, dim)
    query = draw(S.array(shaped(length, e)))
    key = query if self_attention else draw(S.array(shaped(source, kdim or e)))
    value = query if self_attention else draw(S.array(shaped(source, vdim or e)))
    kpm = (draw(st.none()) if draw(st.booleans()) else
           _mask(draw, (source,) if batch is None else (batch, source)))
    attn = None
    if draw(st.booleans()):
        attn = _mask(draw, (length, source) if draw(st.booleans())
                     else ((batch or 1) * heads, length, source))
    need_weights = averaged_heads or draw(st.booleans())
    if need_weights and not (kwargs["add_bias_kv"] or kwargs["add_zero_attn"]):
        blocked = np.zeros(((batch or 1) * heads, length, source), bool)
        if kpm is not None and kpm.dtype == bool:
            blocked |= np.repeat(kpm.reshape(batch or 1, 1, source), heads, axis=0)
        if attn is not None and attn.dtype == bool:
            blocked |= attn
        if blocked.all(axis=-1).any():
            kpm = attn = None
    return MHACase(e, heads, kwargs, query, key, value, self_attention, kpm, attn,
                   need_weights, averaged_heads or draw(st.booleans()), draw(S.SEEDS))


class EncoderCase(NamedTuple):
    args: tuple             # TransformerEncoderLayer's positional arguments, torch's order
    src: np.ndarray
    src_mask: np.ndarray | None
    padding: np.ndarray | None
    is_causal: bool
    num_layers: int
    final_norm: bool
    training: bool
    seed: int


@st.composite
def encoder_cases(draw, max_layers=1):
    """d_model = nhead * 1..2, dim_feedforward 1-6, dropout 0 or 0.5 (training or eval),
    relu/gelu, eps, batch_first, norm_first, bias; batched or unbatched src of 1-4 steps;
    src_mask absent, boolean, float or causal (with the is_causal hint);
    src_key_padding_mask absent or boolean."""
    nhead = draw(st.integers(1, 3))
    d_model = nhead * draw(st.integers(1, 2))
    batch_first, norm_first, bias = (draw(st.booleans()) for _ in range(3))
    args = (d_model, nhead, draw(st.integers(1, 6)), draw(st.sampled_from([0.0, 0.5])),
            draw(st.sampled_from(["relu", "gelu"])), draw(st.sampled_from([1e-5, 1e-2])),
            batch_first, norm_first, bias)
    batch = draw(st.none() | st.integers(1, 3))
    length = draw(st.integers(1, 4))
    shape = ((length, d_model) if batch is None else
             (batch, length, d_model) if batch_first else (length, batch, d_model))
    src = draw(S.array(shape))
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    mask = None
    if kind == "bool":
        mask = np.array(draw(st.lists(st.booleans(), min_size=length * length,
                                      max_size=length * length))).reshape(length, length)
    elif kind == "float":
        mask = draw(S.array((length, length)))
    elif kind == "causal":
        mask = ~np.tril(np.ones((length, length), bool))
    padding = None
    if draw(st.booleans()):
        padding = np.array(draw(st.lists(st.booleans(), min_size=(batch or 1) * length,
                                         max_size=(batch or 1) * length)))
        padding = padding.reshape(length) if batch is None else padding.reshape(batch, length)
    return EncoderCase(args, src, mask, padding, kind == "causal",
                       draw(st.integers(1, max_layers)), draw(st.booleans()),
                       draw(st.booleans()), draw(S.SEEDS))
