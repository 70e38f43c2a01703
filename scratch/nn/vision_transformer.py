"""The pieces of a vision transformer that are not torch layers (torchvision's
``VisionTransformer`` writes them inline in its ``forward``), as modules of their own:

- ``Patches``: (N, C, H, W) -> (N, H*W, C), the feature map of a patch-embedding
  convolution as a sequence of H*W tokens of C features (``x.flatten(2).transpose(1, 2)``);
- ``ClassToken(embedding_dim)``: prepends a learned token: (N, L, E) -> (N, L+1, E);
  parameter ``token`` (1, 1, E), zeros at start (torchvision's ``class_token``);
- ``PositionEmbedding(num_positions, embedding_dim)``: adds a learned embedding per
  position: (N, L, E) -> (N, L, E) with L = num_positions; parameter ``weight`` (L, E),
  drawn from N(0, 0.02^2) (torchvision's ``pos_embedding``);
- ``FirstToken``: (N, L, E) -> (N, E), the first (class) token, ``x[:, 0]``.

Each has its forward and backward side by side; the torch mirrors are in
``reference.vision_transformer``.
"""
from __future__ import annotations

import numpy as np

from scratch import checks, init
from scratch import random as R
from scratch.nn.module import Module, Parameter


class Patches(Module):
    """(N, C, H, W) -> (N, H*W, C): token ``i*W + j`` holds the C features at (i, j)."""

    def forward(self, x):
        checks.input_array(self, x, "(N, C, H, W)", (4,))
        n, c, h, w = x.shape
        return self._keep(x.reshape(n, c, h * w).transpose(0, 2, 1), x.shape)

    def backward(self, dout, input_grad=True):
        """The transpose undone: dx[n, c, i, j] = dout[n, i*W + j, c]."""
        shape = self._take_cache(dout)
        return dout.transpose(0, 2, 1).reshape(shape) if input_grad else None


class FirstToken(Module):
    """(N, L, E) -> (N, E): ``x[:, 0]``, the class token after the encoder."""

    def forward(self, x):
        checks.input_array(self, x, "(N, L, E)", (3,))
        return self._keep(x[:, 0], x.shape)

    def backward(self, dout, input_grad=True):
        """Only token 0 reached the output: its rows get ``dout``, the others zero."""
        shape = self._take_cache(dout)
        if not input_grad:
            return None
        dx = np.zeros(shape, dout.dtype)
        dx[:, 0] = dout
        return dx


def _sequence(layer, x, embedding_dim, dtype):
    checks.input_array(layer, x, "(N, L, E)", (3,), dtype=dtype)
    checks.channels(layer, x, embedding_dim, "embedding_dim", "features per token", axis=-1)


class ClassToken(Module):
    """Prepends the learned ``token`` to every sequence: out[:, 0] = token,
    out[:, 1:] = x."""

    def __init__(self, embedding_dim, device=None, dtype=None):
        super().__init__()
        self.embedding_dim = checks.count(self, "embedding_dim", embedding_dim)
        checks.device(self, device)
        self.token = Parameter(np.zeros((1, 1, embedding_dim), checks.param_dtype(self, dtype)))

    def extra_repr(self):
        return f"embedding_dim={self.embedding_dim}"

    def forward(self, x):
        _sequence(self, x, self.embedding_dim, self.token.data.dtype)
        n, _, e = x.shape
        out = np.concatenate([np.broadcast_to(self.token.data, (n, 1, e)), x], axis=1)
        return self._keep(out, True)

    def backward(self, dout, input_grad=True):
        """The token is shared by the batch: its gradient sums dout[:, 0] over it."""
        self._take_cache(dout)
        self.token.grad = dout[:, :1].sum(axis=0, keepdims=True)
        return dout[:, 1:].copy() if input_grad else None


class PositionEmbedding(Module):
    """``x + weight``: position ``l`` of every sequence gets ``weight[l]``."""

    def __init__(self, num_positions, embedding_dim, device=None, dtype=None, *,
                 generator=None):
        super().__init__()
        self.num_positions = checks.count(self, "num_positions", num_positions)
        self.embedding_dim = checks.count(self, "embedding_dim", embedding_dim)
        checks.device(self, device)
        self.weight = Parameter(init.empty((num_positions, embedding_dim),
                                           checks.param_dtype(self, dtype)))
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None):
        """torchvision's: N(0, 0.02^2)."""
        init.normal_(self.weight.data, 0.0, 0.02, R.generator(type(self).__name__, generator))

    def extra_repr(self):
        return f"num_positions={self.num_positions}, embedding_dim={self.embedding_dim}"

    def forward(self, x):
        _sequence(self, x, self.embedding_dim, self.weight.data.dtype)
        if x.shape[1] != self.num_positions:
            raise ValueError(f"{type(self).__name__} holds {self.num_positions} positions but "
                             f"got a sequence of {x.shape[1]} (input shape {x.shape})")
        return self._keep(x + self.weight.data, True)

    def backward(self, dout, input_grad=True):
        """Every sequence of the batch added the same weight: its gradient sums over it."""
        self._take_cache(dout)
        self.weight.grad = dout.sum(axis=0)
        return dout if input_grad else None
