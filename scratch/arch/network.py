"""How layer specs compose: a chain of named specs (:class:`Architecture`) and residual
blocks (:class:`Residual`), whose body and shortcut are chains themselves.

:func:`walk` carries the per-sample shape through a chain; both builders size every
layer from it, and a block whose two branches disagree is refused here, before any
module is built.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

from scratch.arch.specs import LayerSpec
from scratch.arch.task import Classification, Task

LAYERS = {"layers": True}
"""Field metadata of a spec field that holds a chain of named specs (the file format
reads and writes such fields as lists of layer tables)."""


class Chain(NamedTuple):
    """A constructor argument that is itself a chain of named specs (a residual block's
    body or shortcut) and the per-sample shape entering it: each builder builds it into
    its own ``Sequential`` with the same loop as the whole network."""
    layers: tuple
    input_shape: tuple[int, ...]


def walk(layers, input_shape, what: str = "layer") -> list[tuple[int, ...]]:
    """Per-sample shape entering each of ``layers`` (``(name, spec)`` pairs), then the
    output shape (length ``len(layers) + 1``); a ``ValueError`` naming the layer (as
    ``what``, e.g. ``'body layer'``) that cannot take the shape reaching it."""
    shapes = [tuple(input_shape)]
    for name, spec in layers:
        try:
            shapes.append(tuple(spec.output_shape(shapes[-1])))
        except ValueError as err:
            raise ValueError(f"{what} {name!r} ({type(spec).__name__}) cannot take input "
                             f"of shape {shapes[-1]}: {err}") from None
    return shapes


@dataclass(frozen=True)
class Residual:
    """A residual block: ``relu(body(x) + shortcut(x))`` (no ReLU when ``relu=False``).

    ``body``: named layer specs, at least one; ``shortcut``: named layer specs, empty for
    the identity (a projection is a 1x1 conv and a batch norm, as torchvision's
    ``BasicBlock.downsample``: :func:`scratch.arch.projection`). The two branches must
    give the same shape; :meth:`output_shape` refuses a block where they do not. Built
    as ``Residual(body=Sequential, shortcut=Sequential, relu)`` on both sides, so the
    state_dict keys are ``<block>.body.<layer>.weight``, ``<block>.shortcut.<layer>...``.
    """
    body: tuple = field(metadata=LAYERS)
    shortcut: tuple = field(default=(), metadata=LAYERS)
    relu: bool = True
    layer = "Residual"

    def __post_init__(self):
        for name in ("body", "shortcut"):
            object.__setattr__(self, name, tuple(tuple(pair) for pair in getattr(self, name)))
        if not self.body:
            raise ValueError("Residual needs at least one layer in its body")

    def arguments(self, in_shape: tuple[int, ...]) -> dict:
        return dict(body=Chain(self.body, tuple(in_shape)),
                    shortcut=Chain(self.shortcut, tuple(in_shape)), relu=self.relu)

    def branch_shapes(self, shape) -> tuple[list, list]:
        """The shapes through the body and through the shortcut (as :func:`walk`)."""
        return (walk(self.body, shape, "body layer"),
                walk(self.shortcut, shape, "shortcut layer"))

    def output_shape(self, shape):
        body, shortcut = self.branch_shapes(shape)
        if body[-1] != shortcut[-1]:
            raise ValueError(
                f"the body gives shape {body[-1]} but the shortcut gives {shortcut[-1]}; "
                f"the two are added, so they must agree (a shortcut that changes the "
                f"channels or the size is a projection: scratch.arch.projection(out_channels, "
                f"stride))")
        return body[-1]


Spec = LayerSpec | Residual
"""Anything an architecture's chain may hold."""


@dataclass(frozen=True)
class Architecture:
    """A network: ``input_shape`` is ``(C, H, W)`` or ``(features,)``; ``layers`` are
    ``(name, spec)`` pairs run in order (a spec may be a :class:`Residual` block);
    ``task`` is what it is trained to do (:mod:`scratch.arch.task`: classification by
    default, or the reconstruction of its input)."""
    input_shape: tuple[int, ...]
    layers: tuple[tuple[str, Spec], ...] = field(default_factory=tuple)
    task: Task = Classification()

    def shapes(self) -> list[tuple[int, ...]]:
        """Per-sample shape entering each layer, then the output shape (len = layers + 1)."""
        return walk(self.layers, self.input_shape)

    @property
    def num_outputs(self) -> int:
        return math.prod(self.shapes()[-1])
