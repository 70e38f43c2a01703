"""Initialisation, the twin of ``torch.nn.init``: torch's names, arguments and formulas.

Each ``*_`` function fills an array in place (a NumPy array, or a
:class:`~scratch.nn.Parameter`, whose ``.data`` is filled), keeps its dtype and
returns what it was given, as torch's do. Random draws come from
``generator=``: a ``numpy.random.Generator``, an int seed, or None for the
default generator that :func:`scratch.manual_seed` seeds. Layers draw their
weights with :func:`default_init_`, torch's ``reset_parameters``::

    from scratch import init
    init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    init.zeros_(conv.bias)
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from scratch import random as R

LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """torch's recommended gain: 1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for relu,
    ``sqrt(2 / (1 + slope**2))`` for leaky_relu (slope ``param``, default 0.01), 3/4 for
    selu."""
    if nonlinearity in LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def fan_in_and_fan_out(shape) -> tuple[int, int]:
    """``(in, out) * receptive field``: (in_features, out_features) for a Linear weight
    (out, in), ``(in_channels * kh * kw, out_channels * kh * kw)`` for a conv weight.
    Undefined for fewer than 2 dimensions, where torch raises ValueError too."""
    if len(shape) < 2:
        raise ValueError(f"Fan in and fan out can not be computed for tensor with fewer than "
                         f"2 dimensions (got shape {tuple(shape)})")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def fan_in(shape) -> int:
    """Inputs per output unit: ``in_features`` or ``in_channels * kh * kw``."""
    return fan_in_and_fan_out(shape)[0]


def _fan(shape, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    return fan_in_and_fan_out(shape)[mode == "fan_out"]


def empty(shape, dtype) -> np.ndarray:
    """An array for a parameter that is about to be drawn (zeros, not garbage)."""
    return np.zeros(shape, dtype)


def _array(tensor, fn: str) -> np.ndarray:
    """The floating array to fill: ``tensor`` itself or a Parameter's ``.data``."""
    array = getattr(tensor, "data", tensor) if not isinstance(tensor, np.ndarray) else tensor
    if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
        raise TypeError(f"init.{fn} fills a floating NumPy array or a scratch.nn.Parameter in "
                        f"place, got {type(tensor).__name__}"
                        + (f" of dtype {array.dtype}" if isinstance(array, np.ndarray) else ""))
    return array


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """U(a, b)."""
    array = _array(tensor, "uniform_")
    array[...] = R.generator("init.uniform_", generator).uniform(a, b, size=array.shape)
    return tensor


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """N(mean, std**2)."""
    array = _array(tensor, "normal_")
    array[...] = R.generator("init.normal_", generator).normal(mean, std, size=array.shape)
    return tensor


def constant_(tensor, val: float):
    _array(tensor, "constant_")[...] = val
    return tensor


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """U(-a, a), ``a = gain * sqrt(6 / (fan_in + fan_out))`` (Glorot and Bengio, 2010)."""
    fan_in_, fan_out = fan_in_and_fan_out(_array(tensor, "xavier_uniform_").shape)
    std = gain * math.sqrt(2.0 / float(fan_in_ + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """N(0, std**2), ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in_, fan_out = fan_in_and_fan_out(_array(tensor, "xavier_normal_").shape)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in_ + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity, fn):
    array = _array(tensor, fn)
    if array.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(array.shape, mode))


def kaiming_uniform_(tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None):
    """U(-b, b), ``b = gain * sqrt(3 / fan)`` (He et al., 2015); ``a``: leaky_relu's slope."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None):
    """N(0, std**2), ``std = gain / sqrt(fan)``."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return tensor if std is None else normal_(tensor, 0.0, std, generator)


def default_init_(weight, bias, rng):
    """torch's ``reset_parameters`` for Linear and Conv2d.

    weight: Kaiming-uniform with ``a = sqrt(5)``, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in));
    bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). The weight's bound is computed as
    ``gain * sqrt(3 / fan_in)``, as it always was here (the same number as
    :func:`kaiming_uniform_`'s ``sqrt(3) * gain / sqrt(fan_in)`` up to the last bit,
    which decides the recorded runs' exact weights).
    """
    bound = calculate_gain("leaky_relu", math.sqrt(5)) * math.sqrt(3.0 / fan_in(weight.shape))
    uniform_(weight, -bound, bound, rng)
    if bias is not None:
        fan = fan_in(weight.shape)
        bound = 1 / math.sqrt(fan) if fan > 0 else 0
        uniform_(bias, -bound, bound, rng)
