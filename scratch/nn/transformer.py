"""``TransformerEncoderLayer`` and ``TransformerEncoder``, as torch's (nn/modules/transformer.py).

``TransformerEncoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.1,
activation='relu', layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
device=None, dtype=None, *, generator=None)`` holds torch's children under torch's names
(``self_attn``, ``linear1``, ``dropout``, ``linear2``, ``norm1``, ``norm2``, ``dropout1``,
``dropout2``) and computes, for src (L, N, E) ((N, L, E) with batch_first; unbatched (L, E)):

    post-norm (default):  x = norm1(x + drop1(self_attn(x)));  x = norm2(x + drop2(ff(x)))
    norm_first:           x = x + drop1(self_attn(norm1(x)));  x = x + drop2(ff(norm2(x)))
    ff(x) = linear2(dropout(activation(linear1(x))))

``activation`` is ``'relu'`` or ``'gelu'`` (a callable is refused: scratch needs its
backward). ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``;
``backward(dout)`` returns dsrc and sets every parameter's gradient. In training mode the
four dropouts (the attention weights', then dropout1, dropout, dropout2 in the order torch
draws them) use each child's generator or its ``mask_source``.

``TransformerEncoder(encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
mask_check=True)`` stacks ``num_layers`` deep copies of the layer (``layers.0``, ...,
sharing its random generators, so their dropout masks differ) and an optional final norm.
``enable_nested_tensor`` (a torch fast path for padded batches) has no effect here.
"""
from __future__ import annotations

import copy

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch import random as R
from scratch.nn.activation import MultiheadAttention
from scratch.nn.container import ModuleList
from scratch.nn.dropout import Dropout
from scratch.nn.linear import Linear
from scratch.nn.module import Module
from scratch.nn.normalization import LayerNorm

_ACTIVATIONS = {"relu": (F.relu_forward, F.relu_backward),
                "gelu": (F.gelu_forward, F.gelu_backward)}


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual and a LayerNorm."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None, *, generator=None):
        super().__init__()
        name = type(self).__name__
        if not isinstance(activation, str) or activation not in _ACTIVATIONS:
            if isinstance(activation, str):
                raise RuntimeError(f"activation should be relu/gelu, not {activation}")
            raise NotImplementedError(f"{name}: activation must be 'relu' or 'gelu' in scratch "
                                      f"(a callable has no backward here), got {activation!r}")
        self.activation = activation
        self.norm_first = checks.flag(self, "norm_first", norm_first)
        self.batch_first = checks.flag(self, "batch_first", batch_first)
        rng = R.generator(name, generator)
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw, generator=rng)
        self.linear1 = Linear(d_model, dim_feedforward, bias, **kw, generator=rng)
        self.dropout = Dropout(dropout, generator=rng)
        self.linear2 = Linear(dim_feedforward, d_model, bias, **kw, generator=rng)
        self.norm1 = LayerNorm(d_model, layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout, generator=rng)
        self.dropout2 = Dropout(dropout, generator=rng)

    def __call__(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        return self.forward(src, src_mask, src_key_padding_mask, is_causal)

    # ------------------------------------------------------------------ the two blocks
    def _sa_block(self, x, mask, padding, is_causal):
        out, _ = self.self_attn(x, x, x, padding, need_weights=False, attn_mask=mask,
                                is_causal=is_causal)
        return self.dropout1.forward(out)

    def _sa_block_backward(self, dout):
        dq, dk, dv = self.self_attn.backward(self.dropout1.backward(dout))
        return dq + dk + dv                          # one array was query, key and value

    def _ff_block(self, x):
        act_forward, _ = _ACTIVATIONS[self.activation]
        h, self._act_cache = act_forward(self.linear1.forward(x))
        return self.dropout2.forward(self.linear2.forward(self.dropout.forward(h)))

    def _ff_block_backward(self, dout):
        _, act_backward = _ACTIVATIONS[self.activation]
        dh = self.dropout.backward(self.linear2.backward(self.dropout2.backward(dout)))
        return self.linear1.backward(act_backward(dh, self._act_cache))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """src (L, N, E) / (N, L, E) / (L, E); masks as MultiheadAttention's attn_mask and
        key_padding_mask. Returns the output of src's shape."""
        checks.input_array(self, src, "(L, N, E), (N, L, E) with batch_first, or unbatched "
                           "(L, E)", (2, 3))
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1.forward(x), src_mask, src_key_padding_mask,
                                   is_causal)
            x = x + self._ff_block(self.norm2.forward(x))
        else:
            x = self.norm1.forward(x + self._sa_block(x, src_mask, src_key_padding_mask,
                                                      is_causal))
            x = self.norm2.forward(x + self._ff_block(x))
        return self._keep(x, True)

    def backward(self, dout, input_grad=True):
        """Returns dsrc (src's shape); sets every parameter's ``.grad``."""
        self._take_cache(dout)
        if self.norm_first:
            dx = dout + self.norm2.backward(self._ff_block_backward(dout))
            return dx + self.norm1.backward(self._sa_block_backward(dx))
        dx = self.norm2.backward(dout)
        dx = dx + self._ff_block_backward(dx)
        dx = self.norm1.backward(dx)
        return dx + self._sa_block_backward(dx)


class TransformerEncoder(Module):
    """``num_layers`` copies of an encoder layer, then an optional norm."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        if not isinstance(encoder_layer, TransformerEncoderLayer):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a scratch "
                            f"TransformerEncoderLayer, got {type(encoder_layer).__name__}")
        self.num_layers = checks.count(self, "num_layers", num_layers)
        if norm is not None and not isinstance(norm, Module):
            raise TypeError(f"TransformerEncoder: norm must be None or a scratch Module, got "
                            f"{type(norm).__name__}")
        self.enable_nested_tensor = checks.flag(self, "enable_nested_tensor",
                                                enable_nested_tensor)
        self.mask_check = checks.flag(self, "mask_check", mask_check)
        shared = {id(m.generator): m.generator for m in encoder_layer.modules()
                  if isinstance(getattr(m, "generator", None), np.random.Generator)}
        layers = [copy.deepcopy(encoder_layer, dict(shared)) for _ in range(self.num_layers)]
        self.layers = ModuleList(layers)
        self.norm = norm

    def __call__(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        return self.forward(src, mask, src_key_padding_mask, is_causal)

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """src as the layer's; ``is_causal`` is a hint that ``mask`` is causal (unused: the
        mask itself is applied)."""
        x = src
        for layer in self.layers:
            x = layer.forward(x, mask, src_key_padding_mask, bool(is_causal))
        if self.norm is not None:
            x = self.norm.forward(x)
        return self._keep(x, True)

    def backward(self, dout, input_grad=True):
        self._take_cache(dout)
        if self.norm is not None:
            dout = self.norm.backward(dout)
        for layer in reversed(list(self.layers)):
            dout = layer.backward(dout)
        return dout
