"""What a network is trained to do, as data: part of its :class:`~scratch.arch.Architecture`.

- :class:`Classification` (the default): each image's target is its label; the network
  ends in one score per class, and the loss is NLL when it ends with ``LogSoftmax``, else
  cross-entropy.
- :class:`Reconstruction`: each image's target is the image itself (pixels scaled to
  [0, 1]); the network ends in the input's shape, and ``loss`` names the ``torch.nn``
  (and ``scratch.nn``) loss class comparing the two.
"""
from __future__ import annotations

from dataclasses import dataclass

RECONSTRUCTION_LOSSES = {"BCEWithLogitsLoss": "logits", "MSELoss": "pixels"}
"""The losses a reconstruction may use, and what the network's output then is: logits
(the reconstructed image is their sigmoid) or the pixel values themselves."""


@dataclass(frozen=True)
class Classification:
    """Target: the label; output: one score per class (log-probabilities after a
    ``LogSoftmax``, else logits)."""


@dataclass(frozen=True)
class Reconstruction:
    """Target: the input image with its pixels in [0, 1]; output: the input's shape.
    ``loss``: ``'BCEWithLogitsLoss'`` (the output holds logits) or ``'MSELoss'`` (the
    output holds pixel values, e.g. after a ``Sigmoid``)."""
    loss: str = "BCEWithLogitsLoss"

    def __post_init__(self):
        if self.loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(f"Reconstruction: loss must be one of "
                             f"{', '.join(map(repr, RECONSTRUCTION_LOSSES))}, got {self.loss!r}")

    @property
    def output(self) -> str:
        """``'logits'`` or ``'pixels'``: what the network's output holds."""
        return RECONSTRUCTION_LOSSES[self.loss]


Task = Classification | Reconstruction
TASKS = {cls.__name__: cls for cls in (Classification, Reconstruction)}
"""Every task by name: the ``type`` an architecture file's ``task`` table may give."""
