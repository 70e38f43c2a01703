"""Fully connected layer and flatten: forward/backward pairs.

Linear's products run split over scratch's threads when more than one is set
(:mod:`scratch.backends.fast.linear`, entered through the lines marked
``FAST PATH``); ``scratch.backends.fast.enabled = False`` leaves only the code below.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from scratch.backends.fast import linear as fast_linear


class LinearCache(NamedTuple):
    x: np.ndarray            # (*, in_features): the input
    w: np.ndarray            # (out_features, in_features)
    has_bias: bool


def linear_forward(x, w, b=None):
    """``out = x @ w.T + b``.

    x: (*, in_features), 1-D included; w: (out_features, in_features);
    b: (out_features,) or None. Returns out (*, out_features) and a
    :class:`LinearCache`.
    """
    out = fast_linear.matmul(x, w.T)                             # FAST PATH (threads)
    if out is None:
        out = x @ w.T
    if b is not None:
        out += b
    return out, LinearCache(x, w, b is not None)


def linear_backward(dout, cache, input_grad=True):
    """Returns ``(dx, dw, db)``: ``dx`` None when ``input_grad`` is False, ``db`` without bias.

    Leading axes are summed over: ``dw = dout^T @ x`` with both flattened to rows;
    ``dx = dout @ w``; ``db`` = the sum of ``dout``'s rows.
    """
    x, w, has_bias = cache
    rows = dout.reshape(-1, w.shape[0])                          # (prod(*), out_features)
    x_rows = x.reshape(-1, w.shape[1])                           # (prod(*), in_features)
    fast = fast_linear.weight_and_input_grads(rows, x_rows, dout, w, input_grad)
    if fast is not None:                                         # FAST PATH (threads)
        dw, dx = fast
    else:
        dw = rows.T @ x_rows
        dx = dout @ w if input_grad else None
    db = rows.sum(axis=0) if has_bias else None
    return dx, dw, db


def _dims(ndim, start_dim, end_dim):
    """torch's rule: negative dims count from the end; a 0-d input counts as 1-d."""
    n = max(ndim, 1)
    start, end = start_dim % n if -n <= start_dim < n else None, (
        end_dim % n if -n <= end_dim < n else None)
    return start, end


def flatten_forward(x, start_dim=1, end_dim=-1):
    """Merge axes ``start_dim`` .. ``end_dim`` (inclusive) into one, as ``torch.flatten``.

    Default: (N, ...) -> (N, prod(...)). Cache: the input shape (a tuple of ints).
    """
    start, end = _dims(x.ndim, start_dim, end_dim)
    if start is None or end is None or start > end:
        raise ValueError(f"flatten: start_dim={start_dim}, end_dim={end_dim} do not fit an "
                         f"input of shape {x.shape}")
    shape = x.shape if x.ndim else (1,)
    out_shape = shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]
    return x.reshape(out_shape), x.shape


def flatten_backward(dout, cache):
    return dout.reshape(cache)
