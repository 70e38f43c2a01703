"""Torch twins of ``scratch.nn.vision_transformer``'s modules (torchvision's
``VisionTransformer`` writes them inline); same names, parameters and state_dict keys."""
from __future__ import annotations

import torch
from torch import nn

from reference import dropout as _dropout


class Patches(nn.Module):
    """(N, C, H, W) -> (N, H*W, C)."""

    def forward(self, x):
        return x.flatten(2).transpose(1, 2)


class FirstToken(nn.Module):
    """(N, L, E) -> (N, E): the class token."""

    def forward(self, x):
        return x[:, 0]


class ClassToken(nn.Module):
    """Prepends the learned ``token`` (1, 1, E), zeros at start."""

    def __init__(self, embedding_dim, device=None, dtype=None):
        super().__init__()
        self.embedding_dim = embedding_dim
        self.token = nn.Parameter(torch.zeros(1, 1, embedding_dim, device=device, dtype=dtype))

    def extra_repr(self):
        return f"embedding_dim={self.embedding_dim}"

    def forward(self, x):
        return torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)


class PositionEmbedding(nn.Module):
    """``x + weight``, ``weight`` (L, E) drawn from N(0, 0.02^2)."""

    def __init__(self, num_positions, embedding_dim, device=None, dtype=None):
        super().__init__()
        self.num_positions, self.embedding_dim = num_positions, embedding_dim
        self.weight = nn.Parameter(torch.empty(num_positions, embedding_dim, device=device,
                                               dtype=dtype).normal_(std=0.02))

    def extra_repr(self):
        return f"num_positions={self.num_positions}, embedding_dim={self.embedding_dim}"

    def forward(self, x):
        return x + self.weight


class TransformerEncoderLayer(nn.TransformerEncoderLayer):
    """``torch.nn.TransformerEncoderLayer`` whose three dropout children are
    ``reference.dropout.Dropout`` (torch's, able to share masks with scratch). The dropout
    of the attention weights is a call inside torch's attention, whose mask cannot be
    shared, so only ``dropout=0.0`` is taken."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, **kwargs):
        if dropout != 0:
            raise ValueError(f"TransformerEncoderLayer twin: dropout={dropout!r} would draw "
                             f"attention-weight masks scratch cannot share; use dropout=0.0")
        super().__init__(d_model, nhead, dim_feedforward, dropout, **kwargs)
        for name in ("dropout", "dropout1", "dropout2"):
            setattr(self, name, _dropout.Dropout(dropout))
