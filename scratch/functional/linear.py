"""Fully connected layer and flatten: forward/backward pairs."""
from __future__ import annotations

import numpy as np

from scratch import parallel


def linear_forward(x, w, b=None):
    """``out = x @ w.T + b``.

    x: (N, in_features); w: (out_features, in_features); b: (out_features,) or None.
    Returns out (N, out_features) and cache ``(x, w, has_bias)``.
    """
    out = _matmul(x, w.T)
    if b is not None:
        out += b
    return out, (x, w, b is not None)


def linear_backward(dout, cache, input_grad=True):
    """Returns ``(dx, dw, db)``: ``dx`` None when ``input_grad`` is False, ``db`` without bias."""
    x, w, has_bias = cache
    dx = _matmul(dout, w) if input_grad else None
    dw = _matmul(dout.T, x)
    db = dout.sum(axis=0) if has_bias else None
    return dx, dw, db


def flatten_forward(x):
    """(N, ...) -> (N, prod(...)); cache is the input shape."""
    return x.reshape(x.shape[0], -1), x.shape


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

    parallel.run(chunk, a.shape[0], out.size * a.shape[1])
    return out
