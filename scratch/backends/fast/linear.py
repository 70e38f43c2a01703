"""Linear on scratch's threads: products split by rows, the two backward products at once.

Entered from :func:`scratch.functional.linear_forward` and ``linear_backward``
(their ``FAST PATH`` lines) when :func:`scratch.parallel.set_num_threads` has
set more than one thread. The two backward products are the plain path's, run
at the same time; a product split by rows is the same sums, but BLAS picks its
kernels by matrix size, so a row may round differently than in the whole
product (within the suite's budget, parity_tests/layers/test_fast_paths.py).
"""
from __future__ import annotations

import numpy as np

from scratch import parallel
from scratch.backends import fast


def _applies() -> bool:
    return fast.is_enabled() and parallel.get_num_threads() > 1


def matmul(a, b):
    """``a @ b`` for a 2-D ``a`` and ``b``, its rows split over scratch's threads; None
    when the switch is off, scratch runs one thread or either is not 2-D."""
    if not _applies() or a.ndim != 2 or b.ndim != 2:
        return None
    out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))

    def chunk(sl):
        np.matmul(a[sl], b, out=out[sl])

    parallel.run(chunk, a.shape[0], macs=out.size * a.shape[1])
    return out


def weight_and_input_grads(rows, x_rows, dout, w, input_grad):
    """``(dw, dx)``: ``rows.T @ x_rows`` and, when ``input_grad``, ``dout @ w``, the
    two at once (:func:`scratch.parallel.at_once`), each split as :func:`matmul`
    where large; None when the switch is off or scratch runs one thread."""
    if not _applies():
        return None
    products = [lambda: _split_or_whole(rows.T, x_rows)]
    if input_grad:
        products.append(lambda: _split_or_whole(dout, w))
    results = parallel.at_once(products, macs=rows.size * w.shape[1])
    return results[0], (results[1] if input_grad else None)


def _split_or_whole(a, b):
    out = matmul(a, b)
    return a @ b if out is None else out
