"""Group norm and layer norm in fewer passes: sums as products, one scale and shift per row.

Entered from :func:`scratch.functional.group_norm_forward` and
:func:`scratch.functional.layer_norm_forward` (their ``FAST PATH`` lines); their
caches (:class:`GroupNormFastCache`, :class:`LayerNormFastCache`) send the backward
here, whatever the switch says by then.

Group norm. The plain pair makes about 25 NumPy passes over the input; these read it
twice and write it twice forward, read it twice and make four passes backward, each
group of a sample one row of a (N G, M) array (M = C / G * prod(*)):

- forward: each row's sum as a matrix-vector product with ones and its sum of squares
  as a stack of (1, M) @ (M, 1) products (two reads, BLAS, no array of squares); the
  variance ``mean(x**2) - mean**2`` where ``mean**2 <= var`` in every row (at most
  one bit cancels), else from the centred rows, which then stand in for ``x``; then
  ``out = x * scale + shift``, ``scale = r * weight`` and ``shift = bias - mean *
  scale`` per sample and channel, ``r = 1 / sqrt(var + eps)``;
- backward: per sample and channel the sums of ``dout`` and of ``dout * x`` (two
  reads), from which ``sum(dout * xhat) = r (sum(dout x) - mean sum(dout))``,
  ``dweight``, ``dbias`` and the two group means of the textbook
  ``dx = r (dxhat - mean(dxhat) - xhat mean(dxhat xhat))``, multiplied out as
  ``dx = dout (r weight) + x b + c`` (torch's form), ``b`` and ``c`` per sample and
  group. A ``dout`` of another dtype, or an inf or NaN in the sums, goes to the plain
  backward.

Layer norm, the same with each normalised slice one row of a (R, K) array: the sums
of ``x`` and ``x**2`` as products; ``out = x * scale + shift`` with ``scale = r *
weight`` (kept for the backward) and ``shift = bias - mean * scale``, each an (R, K)
outer product taken by BLAS; backward from the products of ``dout`` and ``dout * x``
with the weight (per row) and with ``r`` and ``mean * r`` (per column, the weight
gradient), ``dx = dout * scale + x p + q``. Its rows are short in a transformer (32
values in ``mnist_vit``), where a reduction or broadcast along them is slow: each
``x.mean(axis=-1)`` of the plain pair costs about what five matrix-vector products
do, a broadcast of one value per row about twice a plain multiply.

Each pass that scales or shifts by one value per row (a (N, C, 1) array against
(N, C, S)) runs inside :func:`whole_rows`: NumPy's ufunc machinery otherwise copies
the broadcast value out into a buffer spanning several rows, which at rows of a few
hundred to a few thousand values makes such a pass about twice as slow as a multiply
by one scalar.

The sums are grouped differently from the plain ``mean``, ``var`` and ``sum``, and
``r * weight`` is rounded once, so the results agree to rounding, not bit for bit.
Where the mean is at most the spread, ``x`` in place of ``x - mean`` costs at most a
factor of about two in rounding error.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from scratch.backends import fast

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
LONG_ROW = 256
"""Rows of at least this many values are broadcast over whole (see :func:`whole_rows`);
below it NumPy's buffering of several rows at once is the faster."""


@contextmanager
def whole_rows(row: int):
    """NumPy's ufunc buffer no longer than ``row`` values (a multiple of 16, NumPy's
    rule) while inside, when ``row >= LONG_ROW``: a per-row value then multiplies each
    row in one inner loop instead of being copied out across rows first. Restored on
    exit (``np.setbufsize``)."""
    if row < LONG_ROW:
        yield
        return
    previous = np.setbufsize(min(row, np.getbufsize()) // 16 * 16)
    try:
        yield
    finally:
        np.setbufsize(previous)


MAX_FLOAT32_ROW = 1 << 14
"""The longest float32 row (values normalised together) the fast paths take. BLAS adds
a row's sums in float32 in long runs, whose rounding error grows with the row's
length where NumPy's pairwise sums of the plain path grow with its logarithm. Layer
norm's output on rows of N(0.95, 1) values, largest error against float64
(2026-12-08): 8.3e-7 fast and 6.4e-7 plain at 2**14 values, 2.2e-6 and 6.9e-7 at
2**16, and at 2**22 the fast error was over 150 times the plain one."""


def _takes(x, row, *params) -> bool:
    """The switch is on, ``x`` is a non-empty float32/float64 array whose rows of
    ``row`` values are not too long for its dtype (:data:`MAX_FLOAT32_ROW`), with the
    parameters (those given) of its dtype and finite (``x * scale + shift`` would turn
    an infinite weight or bias into ``inf - inf``)."""
    return (fast.is_enabled() and x.dtype in _FLOATS and x.size > 0
            and (x.dtype == np.float64 or row <= MAX_FLOAT32_ROW)
            and all(p is None or (isinstance(p, np.ndarray) and p.dtype == x.dtype
                                  and np.isfinite(p).all())
                    for p in params))


def _row_dots(a, b):
    """``(a * b).sum(axis=1)`` of two (R, M) arrays without their product: a stack of
    (1, M) @ (M, 1) products, one read of each."""
    return np.matmul(a[:, None, :], b[:, :, None])[:, 0, 0]


def _row_moments(rows):
    """``(rows, mean, var)``: each row's mean and biased variance, from the sums of x and
    x**2 (two reads, no new array) where ``mean**2 <= var`` holds everywhere, so the
    difference ``mean(x**2) - mean**2`` cancels at most one bit; otherwise from the
    centred rows, returned in place of ``rows`` with a mean of 0."""
    m = rows.shape[1]
    dt = rows.dtype.type
    mean = (rows @ np.ones(m, rows.dtype)) / dt(m)
    var = _row_dots(rows, rows) / dt(m) - mean * mean
    if np.all((mean * mean <= var) & (var < np.inf)):                  # False on NaN
        return rows, mean, var
    centred = rows - mean[:, None]
    return centred, np.zeros_like(mean), _row_dots(centred, centred) / dt(m)


# --------------------------------------------------------------------------- group norm
class GroupNormFastCache(NamedTuple):
    x: np.ndarray            # (N G, M) the groups of x, or of x - mean (then mean is 0)
    mean: np.ndarray         # (N, G) the groups' means
    rstd: np.ndarray         # (N, G) 1 / sqrt(var + eps)
    weight: np.ndarray | None
    has_bias: bool
    shape: tuple             # x's shape
    source: np.ndarray       # x itself (a contiguous copy if it was not), for the plain backward
    eps: float


def group_norm_forward(x, num_groups, weight, bias, eps):
    """``(out, GroupNormFastCache)``, or None when the switch is off or ``x`` is not a
    non-empty float32/float64 array of at least 2 dims with weight and bias (when
    given) of its dtype. ``out = x * scale + shift``, both per sample and channel."""
    if x.ndim < 2 or not _takes(x, x.size // max(x.shape[0] * num_groups, 1), weight, bias):
        return None
    n, c = x.shape[:2]
    per = c // num_groups                                              # channels per group
    source = np.ascontiguousarray(x)
    rows, mean, var = _row_moments(source.reshape(n * num_groups, -1))  # (N G, M)
    rstd = 1 / np.sqrt(var + x.dtype.type(eps))                        # (N G,)
    scale = np.repeat(rstd, per).reshape(n, c)                         # (N, C)
    if weight is not None:
        scale *= weight
    shift = np.repeat(mean, per).reshape(n, c) * -scale
    if bias is not None:
        shift += bias
    with whole_rows(rows.shape[1] // per):
        out = np.multiply(rows.reshape(n, c, -1), scale[:, :, None])    # (N, C, S)
        np.add(out, shift[:, :, None], out=out)
    return out.reshape(x.shape), GroupNormFastCache(
        rows, mean.reshape(n, num_groups), rstd.reshape(n, num_groups), weight,
        bias is not None, x.shape, source, eps)


def group_norm_backward(dout, cache):
    """``(dx, dweight, dbias)`` from a :class:`GroupNormFastCache`. A ``dout`` of another
    dtype than the forward's, or sums that are not finite (an inf or NaN in ``dout`` or
    ``x``), go to the plain backward, whose result dtypes and infinities it keeps."""
    x, mean, rstd, weight, has_bias, shape = cache[:6]
    if dout.dtype != x.dtype:
        return _plain_group_norm_backward(dout, cache)
    n, g = mean.shape
    c, m = shape[1], x.shape[1]
    per = c // g                                                       # channels per group
    dt = x.dtype.type
    d = np.ascontiguousarray(dout).reshape(n * c, -1)                  # (N C, S)
    sum_d = (d @ np.ones(d.shape[1], d.dtype)).reshape(n, c)           # sum(dout)
    sum_dx = _row_dots(d, x.reshape(n * c, -1)).reshape(n, c)          # sum(dout * x)
    if not (np.isfinite(sum_d).all() and np.isfinite(sum_dx).all()):
        return _plain_group_norm_backward(dout, cache)
    mean_c, rstd_c = np.repeat(mean, per, axis=1), np.repeat(rstd, per, axis=1)
    sum_dxhat = (sum_dx - mean_c * sum_d) * rstd_c                     # sum(dout * xhat)
    w = dt(1) if weight is None else weight
    mean_g = (sum_d * w).reshape(n, g, per).sum(axis=2) / dt(m)        # mean(dxhat)
    mean_gx = (sum_dxhat * w).reshape(n, g, per).sum(axis=2) / dt(m)   # mean(dxhat xhat)
    # r (dxhat - mean_g - xhat mean_gx) = dout (r w) + x b + c, b and c per group
    b = -rstd * rstd * mean_gx
    c_ = -rstd * mean_g - mean * b
    with whole_rows(d.shape[1]):
        dx = np.multiply(d.reshape(n, c, -1), (rstd_c * w)[:, :, None])  # (N, C, S)
        rest = np.multiply(x.reshape(n, g, -1), b[:, :, None])         # (N, G, M)
        np.add(rest, c_[:, :, None], out=rest)
        np.add(dx, rest.reshape(n, c, -1), out=dx)
    dw = None if weight is None else sum_dxhat.sum(axis=0)
    db = sum_d.sum(axis=0) if has_bias else None
    return dx.reshape(shape), dw, db


def _plain_group_norm_backward(dout, cache):
    """The plain backward on the plain forward's cache of the same input, computed again
    as :func:`scratch.functional.group_norm_forward` computes it (the same numbers,
    the same infinities and NaN)."""
    from scratch.functional.normalization import GroupNormCache, group_norm_backward
    _, mean, _, weight, has_bias, shape, source, eps = cache
    groups = source.reshape(mean.shape + (-1,))                        # (N, G, M)
    inv_std = 1 / np.sqrt(groups.var(axis=2, keepdims=True) + source.dtype.type(eps))
    xhat = ((groups - groups.mean(axis=2, keepdims=True)) * inv_std).reshape(shape)
    return group_norm_backward(dout, GroupNormCache(xhat, inv_std, weight, has_bias,
                                                    mean.shape[1]))


# --------------------------------------------------------------------------- layer norm
def _outer(a, b):
    """``a[:, None] * b[None, :]`` as a matrix product with one term (BLAS, each element
    one rounded product, as the broadcast), which at rows of a few dozen values takes
    less than half the broadcast's time."""
    return np.dot(a[:, None], b[None, :])


class LayerNormFastCache(NamedTuple):
    x: np.ndarray            # (R, K) the rows of x, or of x - mean (then mean is 0)
    mean: np.ndarray         # (R,) each row's mean
    rstd: np.ndarray         # (R,) 1 / sqrt(var + eps)
    scale: np.ndarray        # (R, K) rstd * weight, row by row
    weight: np.ndarray | None
    has_bias: bool
    shape: tuple             # x's shape
    axes: tuple              # the normalised axes (the last k)
    source: np.ndarray       # x itself (a contiguous copy if it was not), for the plain backward
    eps: float


def layer_norm_forward(x, normalized_shape, weight, bias, eps):
    """``(out, LayerNormFastCache)``, or None when the switch is off or ``x`` is not a
    non-empty float32/float64 array ending in ``normalized_shape`` (at least one
    axis) with weight and bias (when given) of its dtype and that shape. Each
    normalised slice is one row of a (R, K) array; ``out = x * scale + shift`` with
    ``scale = rstd * weight`` and ``shift = bias - mean * rstd * weight`` per element."""
    k = len(normalized_shape)
    if not (1 <= k <= x.ndim and _takes(x, math.prod(x.shape[x.ndim - k:]), weight, bias)
            and all(p is None or p.shape == x.shape[x.ndim - k:] for p in (weight, bias))):
        return None
    source = np.ascontiguousarray(x)
    rows = source.reshape(-1, math.prod(x.shape[x.ndim - k:]))         # (R, K)
    rows, mean, var = _row_moments(rows)
    rstd = 1 / np.sqrt(var + x.dtype.type(eps))                        # (R,)
    w = np.ones(rows.shape[1], x.dtype) if weight is None else weight.reshape(-1)
    scale = _outer(rstd, w)                                            # (R, K)
    shift = _outer(mean * -rstd, w)
    if bias is not None:
        with whole_rows(rows.shape[1]):
            shift += bias.reshape(-1)
    out = np.multiply(rows, scale)
    out += shift
    return out.reshape(x.shape), LayerNormFastCache(
        rows, mean, rstd, scale, weight, bias is not None, x.shape,
        tuple(range(x.ndim - k, x.ndim)), source, eps)


def layer_norm_backward(dout, cache):
    """``(dx, dweight, dbias)`` from a :class:`LayerNormFastCache`, the textbook
    ``dx = rstd (g - mean(g) - xhat mean(g xhat))``, ``g = dout * weight``, multiplied
    out as ``dout * scale + x p + q`` with ``p`` and ``q`` per row. A ``dout`` of
    another dtype, or an inf or NaN in the sums, goes to the plain backward."""
    x, mean, rstd, scale, weight, has_bias, shape, axes = cache[:8]
    if dout.dtype != x.dtype:
        return _plain_layer_norm_backward(dout, cache)
    size = x.shape[1]
    dt = x.dtype.type
    d = np.ascontiguousarray(dout).reshape(x.shape)                    # (R, K)
    w = np.ones(size, x.dtype) if weight is None else weight.reshape(-1)
    dout_x = d * x
    sum_g = d @ w                                                      # sum(dout * w)
    sum_gx = dout_x @ w                                                # sum(dout * w * x)
    if not (np.isfinite(sum_g).all() and np.isfinite(sum_gx).all()):
        return _plain_layer_norm_backward(dout, cache)
    sum_gxhat = (sum_gx - mean * sum_g) * rstd                         # sum(g * xhat)
    p = -rstd * rstd * sum_gxhat / dt(size)                            # (R,)
    q = -rstd * sum_g / dt(size) - mean * p
    with whole_rows(size):
        dx = d * scale
        dx += x * p[:, None]
        dx += q[:, None]
    dw = db = None
    if weight is not None:                                             # sum(dout * xhat)
        dw = (rstd @ dout_x - (mean * rstd) @ d).reshape(weight.shape)
    if has_bias:
        db = (np.ones(len(d), d.dtype) @ d).reshape(shape[axes[0]:])
    return dx.reshape(shape), dw, db


def _plain_layer_norm_backward(dout, cache):
    """The plain backward on the plain forward's cache of the same input, computed again
    as :func:`scratch.functional.layer_norm_forward` computes it (the same numbers,
    the same infinities and NaN)."""
    from scratch.functional.normalization import LayerNormCache, layer_norm_backward
    *_, weight, has_bias, _, axes, source, eps = cache
    centred = source - source.mean(axis=axes, keepdims=True)
    var = (centred * centred).mean(axis=axes, keepdims=True)
    rstd = 1 / np.sqrt(var + source.dtype.type(eps))
    return layer_norm_backward(dout, LayerNormCache(centred * rstd, rstd, weight, has_bias,
                                                    axes))
