"""Group norm in fewer passes: sums as products with ones, scales per sample and channel.

Entered from :func:`scratch.functional.group_norm_forward` (its ``FAST PATH`` line);
its :class:`GroupNormFastCache` sends ``group_norm_backward`` here, whatever the
switch says by then.

The plain pair makes about 25 NumPy passes over the input; these make 5 forward
and 6 backward, with ``r = 1 / sqrt(var + eps)`` per sample and group:

- forward: the group sums as one matrix-vector product with ones (BLAS); the
  centred groups ``x - mean`` (kept for the backward instead of ``xhat``); their
  sums of squares by ``np.einsum`` (one pass, no array of squares); then
  ``out = (x - mean) * (r * weight) + bias``, one scale per sample and channel;
- backward: per sample and channel the sums of ``dout`` (a product with ones) and
  of ``dout * (x - mean)`` (``np.einsum``), from which ``dweight``, ``dbias`` and
  the two group means of the textbook
  ``dx = r (dxhat - mean(dxhat) - xhat mean(dxhat xhat))``, multiplied out as
  ``dx = dout (r weight) + (x - mean) b + c`` (torch's form), ``b`` and ``c`` per
  sample and group.

The sums are grouped differently from the plain ``mean``, ``var`` and ``sum``, and
``r * weight`` is rounded once, so the results agree to rounding, not bit for bit.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scratch.backends import fast

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class GroupNormFastCache(NamedTuple):
    centred: np.ndarray      # (N, G, M) x - mean, M = C / G * prod(*)
    rstd: np.ndarray         # (N, G) 1 / sqrt(var + eps)
    weight: np.ndarray | None
    has_bias: bool
    shape: tuple             # x's shape


def group_norm_forward(x, num_groups, weight, bias, eps):
    """``(out, GroupNormFastCache)``, or None when the switch is off or ``x`` is not a
    non-empty float32/float64 array of at least 2 dims with weight and bias (when
    given) of its dtype."""
    if not (fast.is_enabled() and x.dtype in _FLOATS and x.ndim >= 2 and x.size > 0
            and all(p is None or (isinstance(p, np.ndarray) and p.dtype == x.dtype)
                    for p in (weight, bias))):
        return None
    n, c = x.shape[:2]
    dt = x.dtype.type
    groups = np.ascontiguousarray(x).reshape(n, num_groups, -1)       # (N, G, M)
    m = groups.shape[2]
    mean = (groups @ np.ones(m, x.dtype)) / dt(m)                      # (N, G)
    centred = np.subtract(groups, mean[:, :, None])
    var = np.einsum("ngm,ngm->ng", centred, centred) / dt(m)
    rstd = 1 / np.sqrt(var + dt(eps))                                  # (N, G)
    if weight is None:
        out = np.multiply(centred, rstd[:, :, None])
    else:
        scale = np.repeat(rstd, c // num_groups, axis=1) * weight      # (N, C)
        out = np.multiply(centred.reshape(n, c, -1), scale[:, :, None])
    out = out.reshape(x.shape)
    if bias is not None:
        np.add(out, bias.reshape((1, c) + (1,) * (x.ndim - 2)), out=out)
    return out, GroupNormFastCache(centred, rstd, weight, bias is not None, x.shape)


def group_norm_backward(dout, cache):
    """``(dx, dweight, dbias)`` from a :class:`GroupNormFastCache`."""
    centred, rstd, weight, has_bias, shape = cache
    n, g, m = centred.shape
    c = shape[1]
    per = c // g                                                       # channels per group
    dt = centred.dtype.type
    d = np.ascontiguousarray(dout, centred.dtype).reshape(n, c, -1)    # (N, C, S)
    sum_d = d @ np.ones(d.shape[2], d.dtype)                           # (N, C)
    sum_dxhat = np.einsum("ncs,ncs->nc", d, centred.reshape(n, c, -1))
    sum_dxhat *= np.repeat(rstd, per, axis=1)                          # sum(dout * xhat)
    w = np.ones(c, d.dtype) if weight is None else weight
    mean_g = (sum_d * w).reshape(n, g, per).sum(axis=2) / dt(m)        # mean(dxhat)
    mean_gx = (sum_dxhat * w).reshape(n, g, per).sum(axis=2) / dt(m)   # mean(dxhat xhat)
    rest = np.multiply(centred, (-rstd * rstd * mean_gx)[:, :, None])  # (N, G, M)
    np.add(rest, (-rstd * mean_g)[:, :, None], out=rest)
    dx = np.multiply(d, (np.repeat(rstd, per, axis=1) * w)[:, :, None])
    np.add(dx, rest.reshape(n, c, -1), out=dx)
    dw = None if weight is None else sum_dxhat.sum(axis=0)
    db = sum_d.sum(axis=0) if has_bias else None
    return dx.reshape(shape).astype(dout.dtype, copy=False), dw, db   # dout's dtype, as plain
