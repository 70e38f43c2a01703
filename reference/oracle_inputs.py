"""The values a check runs on: given arrays, or drawn from a seed where a shape is given.

Against torch, drawn inputs are multiples of 0.5 in [-3, 3]: many ties and
exact zeros, where max pooling and ReLU are most often written wrong. For
finite differences, drawn inputs are distinct, at least 0.1 apart and away
from zero, so that a small step never crosses a tie or a kink (where a
difference quotient means nothing). Parameters are drawn uniform in [-1, 1].
The upstream gradient is standard normal, never all ones: an all-ones
``dout`` hides transposed and mis-summed gradients.
"""
from __future__ import annotations

import numpy as np

from reference.oracle_report import OracleError, check_finite


def is_shape(value) -> bool:
    return (isinstance(value, tuple)
            and all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in value))


def tied_values(rng, shape) -> np.ndarray:
    return np.clip(np.round(2 * rng.standard_normal(shape)) / 2, -3, 3)


def spread_values(rng, shape) -> np.ndarray:
    """Distinct values 0.1 apart, none within 0.05 of zero, in random order."""
    size = int(np.prod(shape))
    values = (rng.permutation(size) - size / 2 + 0.5) * 0.1
    return (values + np.where(values >= 0, 0.05, -0.05)).reshape(shape)


def prepare(what: str, value, rng, dtype, draw) -> np.ndarray:
    """``value`` cast to ``dtype`` (checked finite), or ``draw(rng, shape)`` for a shape."""
    if is_shape(value):
        return draw(rng, value).astype(dtype)
    a = np.asarray(value)
    if a.dtype == object or not np.issubdtype(a.dtype, np.number):
        raise OracleError(f"{what} must be an array or a shape tuple; got {type(value).__name__}")
    return check_finite(what, a).astype(dtype)


def prepare_params(values: dict, rng, dtype) -> dict[str, np.ndarray]:
    uniform = lambda rng, shape: rng.uniform(-1, 1, shape)  # noqa: E731
    return {n: prepare(f"parameter {n!r}", v, rng, dtype, uniform) for n, v in values.items()}


def upstream_maker(dout, seed: int, dtype):
    """``shape -> dout``: the given one (refused if all ones) or a seeded standard normal."""
    if dout is not None:
        given = check_finite("dout", dout).astype(dtype)
        if given.size > 1 and np.all(given == 1):
            raise OracleError("dout is all ones; expected a random upstream gradient (an "
                              "all-ones dout hides transposed and mis-summed gradients). "
                              "Leave dout=None to draw one from the seed")
        return lambda shape: given
    return lambda shape: np.random.default_rng([seed, 1]).standard_normal(shape).astype(dtype)
