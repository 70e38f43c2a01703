"""Dropout for the torch mirror that can share its masks with the scratch twin.

:class:`Dropout` and :class:`Dropout2d` are ``torch.nn.Dropout``/``Dropout2d``
(same class hierarchy, ``p``, ``inplace``, eval and ``p == 0`` identity,
``p == 1`` zeros) that keep the mask they used (``last_mask``) and can take
their masks from a ``mask_source`` instead of torch's generator. Left alone
they draw exactly as torch's own layers do on the CPU (the same Bernoulli call
on the same noise shape, so the same masks under the same ``torch.manual_seed``).

:func:`share_masks` pairs the dropout layers of a scratch model and its torch
mirror by name and wires one side to follow the other:

- ``leader="scratch"``: each torch layer applies the mask its scratch twin drew
  in that twin's last forward (run the scratch forward first);
- ``leader="torch"``: each scratch layer applies the mask its torch twin drew
  (run the torch forward first), so scratch follows torch's own random stream.

A follower that runs twice on one leader mask, or before its leader has drawn,
raises instead of silently reusing an old mask.
"""
from __future__ import annotations

import torch
from torch import nn

from scratch import nn as scratch_nn


class _Masked:
    """Mixin for torch dropout layers: the mask used is kept, or taken from a source."""
    _channelwise = False

    def _setup(self):
        self.mask_source = None
        self.last_mask = None
        self.draws = 0

    def _noise_shape(self, input):
        if not self._channelwise:
            return input.shape
        if input.dim() < 2:
            raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
        return input.shape[:2] + (1,) * (input.dim() - 2)

    def forward(self, input):
        if not self.training or self.p == 0 or input.numel() == 0:
            return input
        if self.p == 1:                               # torch: input * 0, nothing drawn
            self.last_mask = input.new_zeros(self._noise_shape(input))
            return input * self.last_mask
        if self.mask_source is not None:
            mask = self.mask_source(input).to(device=input.device, dtype=input.dtype)
        else:                                         # torch's own draw (_dropout_impl)
            mask = torch.empty(self._noise_shape(input), dtype=input.dtype,
                               device=input.device).bernoulli_(1 - self.p)
        self.last_mask, self.draws = mask.detach(), self.draws + 1
        return input * (mask / (1 - self.p))


class Dropout(_Masked, nn.Dropout):
    def __init__(self, p=0.5, inplace=False):
        super().__init__(p, inplace)
        self._setup()


class Dropout2d(_Masked, nn.Dropout2d):
    _channelwise = True

    def __init__(self, p=0.5, inplace=False):
        super().__init__(p, inplace)
        self._setup()


class _Follow:
    """A mask source that hands over the leader's latest mask, each mask once."""

    def __init__(self, name, leader, read):
        self.name, self.leader, self.read = name, leader, read
        self.used = leader.draws

    def __call__(self, x):
        if self.leader.draws == self.used:
            raise RuntimeError(
                f"dropout layer {self.name!r}: no new mask from its twin (the leader); run "
                f"the leading model's forward before the follower's, once per step")
        self.used = self.leader.draws
        return self.read()


def dropout_pairs(scratch_model, torch_model) -> dict:
    """``name -> (scratch layer, torch layer)`` for every dropout layer, checked to match."""
    torch_modules = dict(torch_model.named_modules())
    pairs = {}
    for name, layer in scratch_model.named_modules():
        if not isinstance(layer, scratch_nn.dropout._DropoutNd):
            continue
        twin = torch_modules.get(name)
        if not isinstance(twin, _Masked):
            raise TypeError(f"dropout layer {name!r}: its torch twin is "
                            f"{type(twin).__name__ if twin is not None else 'missing'}, not a "
                            f"reference.dropout layer (build the mirror with "
                            f"reference.model.build)")
        if twin._channelwise != layer._channelwise or twin.p != layer.p:
            raise ValueError(f"dropout layer {name!r}: scratch {type(layer).__name__}(p="
                             f"{layer.p}) and torch {type(twin).__name__}(p={twin.p}) differ")
        pairs[name] = (layer, twin)
    extra = [n for n, m in torch_modules.items() if isinstance(m, _Masked) and n not in pairs]
    if extra:
        raise ValueError(f"torch dropout layers {extra} have no scratch twin")
    return pairs


def share_masks(scratch_model, torch_model, leader="scratch") -> list[str]:
    """Make the two models' dropout layers use the same masks; returns the paired names.

    ``leader`` draws (from its own generator) and the other side applies that
    mask. ``leader=None`` unshares: each side draws from its own generator again.
    """
    if leader not in ("scratch", "torch", None):
        raise ValueError(f"share_masks: leader must be 'scratch', 'torch' or None, got "
                         f"{leader!r}")
    pairs = dropout_pairs(scratch_model, torch_model)
    for name, (mine, theirs) in pairs.items():
        mine.mask_source = theirs.mask_source = None
        if leader == "scratch":
            theirs.mask_source = _Follow(name, mine,
                                         lambda mine=mine: torch.from_numpy(mine.mask))
        elif leader == "torch":
            mine.mask_source = _Follow(name, theirs,
                                       lambda theirs=theirs: theirs.last_mask.cpu().numpy())
    return list(pairs)
