"""Initialisation with the distributions of torch's defaults, the twin of ``torch.nn.init``.

All draws come from a NumPy ``Generator`` passed in, so a seed fixes them.
"""
from __future__ import annotations

import math

import numpy as np


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """torch.nn.init.calculate_gain for 'linear', 'relu', 'leaky_relu', 'tanh', 'sigmoid'."""
    if nonlinearity in ("linear", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def fan_in(shape) -> int:
    """Inputs per output unit: ``in_features`` or ``in_channels * kh * kw``.

    Undefined for fewer than 2 dimensions, where torch raises ValueError too.
    """
    if len(shape) < 2:
        raise ValueError(f"fan_in needs a shape of at least 2 dimensions, got {tuple(shape)}")
    return int(np.prod(shape[1:]))


def empty(shape, dtype) -> np.ndarray:
    """An array for a parameter that is about to be drawn (zeros, not garbage)."""
    return np.zeros(shape, dtype)


def uniform_(array: np.ndarray, low: float, high: float, rng: np.random.Generator):
    """Fill ``array`` in place with U(low, high), keeping its dtype."""
    array[...] = rng.uniform(low, high, size=array.shape)
    return array


def kaiming_uniform_(array, rng, a=0.0, nonlinearity="leaky_relu"):
    """U(-b, b) with ``b = gain * sqrt(3 / fan_in)``, as torch (mode='fan_in')."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan_in(array.shape))
    return uniform_(array, -bound, bound, rng)


def default_init_(weight, bias, rng):
    """torch's ``reset_parameters`` for Linear and Conv2d.

    weight: Kaiming-uniform with ``a = sqrt(5)``, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in));
    bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """
    kaiming_uniform_(weight, rng, a=math.sqrt(5))
    if bias is not None:
        bound = 1 / math.sqrt(fan_in(weight.shape))
        uniform_(bias, -bound, bound, rng)
