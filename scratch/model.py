"""Build a scratch :class:`~scratch.nn.Sequential` from an :class:`~scratch.arch.Architecture`.

One loop for every spec: the module class is ``scratch.nn.<spec.layer>`` and its
arguments are ``spec.arguments(input shape)``; an argument that is a chain of specs (a
residual block's body or shortcut) is built into a ``Sequential`` by the same loop.
Modules that take them also get the build's ``dtype`` and ``generator``.
"""
from __future__ import annotations

import inspect

import numpy as np

from scratch import arch as A
from scratch import nn


def _builder_arguments(cls, dtype, rng) -> dict:
    """``dtype`` and ``generator`` for the constructors that take them (by name, or
    through ``**kwargs`` passed on to one that does, as ``RNNOutput``'s)."""
    params = inspect.signature(cls).parameters
    passes_on = any(p.kind is p.VAR_KEYWORD for p in params.values())
    return {name: value for name, value in (("dtype", dtype), ("generator", rng))
            if name in params or passes_on}


def _module(spec, in_shape, dtype, rng) -> nn.Module:
    """The scratch module for one spec, given the per-sample input shape."""
    cls = getattr(nn, spec.layer)
    kwargs = {name: _chain(value.layers, value.input_shape, dtype, rng)
              if isinstance(value, A.Chain) else value
              for name, value in spec.arguments(in_shape).items()}
    return cls(**kwargs, **_builder_arguments(cls, dtype, rng))


def _chain(layers, input_shape, dtype, rng) -> nn.Sequential:
    """The layers as a Sequential that runs each ReLU directly preceding a MaxPool2d
    after the pool (``relu_after_max_pool``, a fast path with the same numbers; see
    :class:`~scratch.nn.Sequential`)."""
    shapes = A.walk(layers, input_shape)
    model = nn.Sequential({name: _module(spec, in_shape, dtype, rng)
                           for (name, spec), in_shape in zip(layers, shapes)})
    model.relu_after_max_pool = True                 # FAST PATH, chosen: see the docstring
    return model


def build(architecture: A.Architecture, seed: int | np.random.Generator = 0,
          dtype=np.float32) -> nn.Sequential:
    """The scratch network. Its Linear and Conv2d layers draw torch's default
    initialisation at construction, in layer order (a residual block's body, then its
    shortcut), from one generator seeded by ``seed`` (each draws its weight, then its
    bias), so a seed fixes every weight. Dropout layers draw their masks from the same
    generator: one seed fixes a whole training run, as torch's global generator does."""
    if not isinstance(seed, np.random.Generator) and not (
            isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        raise ValueError(f"build: seed must be a whole number >= 0 or a "
                         f"numpy.random.Generator, got {seed!r}")
    rng = np.random.default_rng(seed)
    return _chain(architecture.layers, architecture.input_shape, np.dtype(dtype), rng)
