"""Scratch's own worker threads: the layers' fast paths (:mod:`scratch.backends.fast`)
split the batch over them.

NumPy runs each element-wise pass on one core, and OpenBLAS's worker threads
spin-wait for each other inside every matrix product, which collapses when
another process holds a core (two products took 16 times longer with 2 threads
than with 1 while other jobs ran on this 2-core machine). So
scratch does its own threading, like torch's intra-op pool: a fast path cuts
the batch into one contiguous chunk per thread and runs the chunks at once
(NumPy releases the GIL inside its loops and BLAS calls), each chunk doing its
matrix products on a single-threaded BLAS. Waiting workers sleep; a chunk
that loses its core only delays its own share.

The chunks are a pure function of the batch size and the thread count, and
partial sums (weight gradients) are added in chunk order, so the same thread
count gives bit-identical results; a different count rounds differently (as
BLAS's own threads do).

    from scratch import parallel
    parallel.set_num_threads(2)     # default: 1 (serial; BLAS left as it is)
"""
from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

_num_threads = 1
_pool: ThreadPoolExecutor | None = None
_blas_limit = None           # threadpoolctl's limiter, kept alive while applied
_local = threading.local()   # .inside: this thread is running a chunk


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in scratch's layers, and one thread inside NumPy's BLAS.

    ``n = 1`` runs every chunk in the calling thread. Either way NumPy's BLAS
    is set to one thread (through threadpoolctl, process-wide) so that the
    threads are not multiplied; :func:`restore_blas_threads` undoes that.
    """
    global _num_threads, _pool, _blas_limit
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: expected a whole number >= 1, got {n!r}")
    from threadpoolctl import threadpool_limits
    limit = threadpool_limits(limits=1, user_api="blas")   # again, if changed since
    if _blas_limit is None:
        _blas_limit = limit                                 # remembers the original counts
    if _pool is not None and n != _num_threads:
        _pool.shutdown(wait=True)
        _pool = None
    _num_threads = n


def get_num_threads() -> int:
    """The number of threads scratch's layers use (see :func:`set_num_threads`)."""
    return _num_threads


def restore_blas_threads() -> None:
    """Give NumPy's BLAS back the thread count it had before :func:`set_num_threads`."""
    global _blas_limit
    if _blas_limit is not None:
        _blas_limit.restore_original_limits()
        _blas_limit = None


def batch_chunks(n: int, parts: int | None = None) -> list[slice]:
    """``range(n)`` cut into at most ``parts`` (default: the thread count) contiguous,
    non-empty slices whose lengths differ by at most one, the longer ones first."""
    parts = max(1, min(parts or _num_threads, n))
    size, extra = divmod(n, parts)
    bounds = [0]
    for i in range(parts):
        bounds.append(bounds[-1] + size + (i < extra))
    return [slice(a, b) for a, b in zip(bounds, bounds[1:])]


MIN_ELEMENTS = 1 << 18
"""An element-wise pass over fewer array elements than this runs as one chunk. Waking
a sleeping worker takes about 60 microseconds on the 2-core VM this was tuned on,
and waking the caller when the worker finishes as long again
(``python -m scripts.bench_passes`` times it), while such a pass takes 50 to 100."""

MIN_MACS = 1 << 25
"""A matrix product of fewer multiply-adds than this runs as one chunk: the default
network's first linear layer (12.8 million at batch 64) took as long split over two
threads as on one (each thread packs the whole weight matrix)."""


MIN_TASK_MACS = 1 << 23
"""Independent matrix products run at once (one per thread) when each has at least
this many multiply-adds, about 0.2 ms: unlike the halves of one product, they do not
each pack the same matrix, so they gain once they outlast the fork and join."""


def at_once(fns, macs: int) -> list:
    """``[fn() for fn in fns]`` for independent functions of about ``macs``
    multiply-adds each, run at once when that is at least :data:`MIN_TASK_MACS`
    and below :data:`MIN_MACS` (larger products run in turn, each split over all
    the threads, which a product run inside a worker would not be)."""
    if not MIN_TASK_MACS <= macs < MIN_MACS:
        return [fn() for fn in fns]
    return map_items(lambda fn: fn(), fns)


def run(fn, n: int, elements: int | None = None, macs: int | None = None) -> list:
    """``[fn(chunk) for chunk in batch_chunks(n)]``, the chunks run at once; one chunk
    when the work, where given, is small: ``elements`` (of an element-wise pass) below
    :data:`MIN_ELEMENTS` or ``macs`` (of a matrix product) below :data:`MIN_MACS`."""
    small = ((elements is not None and elements < MIN_ELEMENTS)
             or (macs is not None and macs < MIN_MACS))
    return map_items(fn, batch_chunks(n, 1 if small else None))


def map_items(fn, items) -> list:
    """``[fn(item) for item in items]``, the calls run at once.

    The calling thread and the pool's workers claim items one at a time, so a
    worker that has not started yet (its core busy with another job) leaves its
    share to the caller instead of making it wait. Returns when every item is
    done, or re-raises the error of the first failed item. Called from inside
    a chunk, it runs serially (no nested pools).
    """
    items = list(items)
    if len(items) == 1 or _num_threads == 1 or getattr(_local, "inside", False):
        return [fn(item) for item in items]
    results = [None] * len(items)
    errors: list = [None] * len(items)
    done = [threading.Event() for _ in items]
    claim = itertools.count()                  # next() is atomic under the GIL

    def work():
        _local.inside = True
        try:
            while (i := next(claim)) < len(items):
                try:
                    results[i] = fn(items[i])
                except BaseException as err:   # re-raised in the calling thread
                    errors[i] = err
                finally:
                    done[i].set()
        finally:
            _local.inside = False

    for _ in range(min(len(items), _num_threads) - 1):
        _executor().submit(work)
    work()
    for event in done:                         # items a worker claimed may still run
        event.wait()
    for err in errors:
        if err is not None:
            raise err
    return results


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(_num_threads - 1, thread_name_prefix="scratch")
    return _pool


def _forget_pool():
    """In a forked child the pool's threads do not exist: start a new pool on demand."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)
