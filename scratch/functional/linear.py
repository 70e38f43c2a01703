"""Fully connected layer and flatten: forward/backward pairs."""
from __future__ import annotations

import math

import numpy as np

from scratch import parallel


def linear_forward(x, w, b=None):
    """``out = x @ w.T + b``.

    x: (*, in_features), 1-D included; w: (out_features, in_features);
    b: (out_features,) or None. Returns out (*, out_features) and cache
    ``(x, w, has_bias)``.
    """
    out = _matmul(x, w.T)
    if b is not None:
        out += b
    return out, (x, w, b is not None)


def linear_backward(dout, cache, input_grad=True):
    """Returns ``(dx, dw, db)``: ``dx`` None when ``input_grad`` is False, ``db`` without bias.

    Leading axes are summed over: ``dw = dout^T @ x`` with both flattened to rows.
    """
    x, w, has_bias = cache
    rows = dout.reshape(-1, w.shape[0])                          # (prod(*), out_features)
    products = [lambda: _matmul(rows.T, x.reshape(-1, w.shape[1]))]
    if input_grad:
        products.append(lambda: _matmul(dout, w))
    results = parallel.at_once(products, macs=rows.size * w.shape[1])
    dw = results[0]
    dx = results[1] if input_grad else None
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

    Default: (N, ...) -> (N, prod(...)). Cache: the input shape.
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


def _matmul(a, b):
    """``a @ b``; for a 2-D ``a``, its rows split over scratch's threads (each row is
    the same single-threaded BLAS product as without the split)."""
    if a.ndim != 2 or b.ndim != 2 or parallel.get_num_threads() == 1:
        return a @ b
    out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))

    def chunk(sl):
        np.matmul(a[sl], b, out=out[sl])

    parallel.run(chunk, a.shape[0], macs=out.size * a.shape[1])
    return out
