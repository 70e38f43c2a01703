"""The values a check runs on: given arrays, or drawn from a seed where a shape is given.

Against torch, drawn inputs are multiples of 0.5 in [-3, 3], with what the
checks exist for planted (:func:`tied_values`): in every (n, c) plane of an
input with three or more dimensions, the plane's maximum twice side by side
at its first two positions (and again at [1, 1], [1, 2] when the plane is
3 x 3 or larger, for windows that start in the padding), so pooling windows
hold tied maxima (for a three-dimensional input, (N, C, L) or (N, T, D), in a
random half of the rows only, so that the rows and features of a sequence
are never all alike); and an exact zero in every row (every plane) elsewhere,
so ReLU-like activations meet their kink. For
finite differences, drawn inputs are distinct, at least 0.1 apart and away
from zero, so that a small step never crosses a tie or a kink (where a
difference quotient means nothing). Parameters are drawn uniform in [-1, 1].
The upstream gradient is standard normal, never all ones: an all-ones
``dout`` hides transposed and mis-summed gradients.
"""
from __future__ import annotations

import numpy as np

from reference.oracle.report import OracleError, check_finite


def is_shape(value) -> bool:
    return (isinstance(value, tuple)
            and all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in value))


def tied_values(rng, shape) -> np.ndarray:
    """Multiples of 0.5 in [-3, 3] with tied maxima and exact zeros planted (see above)."""
    a = np.clip(np.round(2 * rng.standard_normal(shape)) / 2, -3, 3) + 0.0  # no -0.0
    if a.ndim >= 3 and a[0, 0].size >= 2:
        planes = a.reshape(-1, *a.shape[2:])
        tied = np.ones(len(planes), bool)
        if a.ndim == 3:   # (N, C, L) or (N, T, D): ties in a random half of the rows only,
            tied = rng.permutation(len(planes)) < max(1, len(planes) // 2)  # never all alike
        for plane, tie in zip(planes, tied):
            _plant(plane, rng, tie)
        return planes.reshape(shape)
    if a.size >= 2:
        rows = a.reshape(-1, a.shape[-1]) if a.ndim >= 2 else a.reshape(1, -1)
        if rows.shape[1] == 1:  # (N, 1): one zero in the column
            rows[rng.integers(0, len(rows))] = 0.0
        else:
            rows[np.arange(len(rows)), rng.integers(0, rows.shape[1], len(rows))] = 0.0
        return rows.reshape(shape)
    return a


def _plant(plane: np.ndarray, rng, tie: bool = True) -> None:
    """The plane's maximum (at least 0.5) at two neighbouring positions (``tie``), a zero
    elsewhere."""
    if not tie:
        plane[np.unravel_index(int(rng.integers(0, plane.size)), plane.shape)] = 0.0
        return
    top = max(float(plane.max()), 0.5)
    axis = plane.ndim - 1 if plane.shape[-1] >= 2 else int(np.argmax(np.array(plane.shape) >= 2))
    first = (0,) * plane.ndim
    second = tuple(1 if k == axis else 0 for k in range(plane.ndim))
    planted = [first, second]
    if plane.ndim >= 2 and min(plane.shape) >= 3:  # again inside, for windows in the padding
        inner = (1,) * plane.ndim
        planted += [inner, inner[:-1] + (2,)]
    for index in planted:
        plane[index] = top
    free = [i for i in np.ndindex(plane.shape) if i not in planted]
    if free:
        plane[free[int(rng.integers(0, len(free)))]] = 0.0


def spread_values(rng, shape, away_from_zero: bool = True) -> np.ndarray:
    """Distinct values 0.1 apart, none within 0.05 of zero (unless ``away_from_zero``
    is False: then symmetric about zero), in random order."""
    size = int(np.prod(shape))
    values = (rng.permutation(size) - size / 2 + 0.5) * 0.1
    if away_from_zero:
        values += np.where(values >= 0, 0.05, -0.05)
    return values.reshape(shape)


def is_floating(a) -> bool:
    """A floating array: the only kind that gets a gradient."""
    return np.issubdtype(np.asarray(a).dtype, np.floating)


def prepare(what: str, value, rng, dtype, draw, keep_integers=False) -> np.ndarray:
    """``value`` cast to ``dtype`` (checked finite), or ``draw(rng, shape)`` for a shape.

    keep_integers: an integer or boolean array (token ids, indices, a mask)
    is returned untouched, never cast to ``dtype``.
    """
    if is_shape(value):
        return draw(rng, value).astype(dtype)
    a = np.asarray(value)
    if keep_integers and (a.dtype == bool or np.issubdtype(a.dtype, np.integer)):
        return a
    if a.dtype == object or not np.issubdtype(a.dtype, np.number) and a.dtype != bool:
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
