"""The NumPy facts behind scratch's fast paths, each timed at the default network's sizes.

Least CPU time (of 40 repeats, one thread) of single NumPy passes, so that a
busy machine distorts them little:
  * a max over strided views against one over contiguous runs (2x2 pooling);
  * ``np.maximum`` against the scalar 0 and against an array of zeros (ReLU);
  * conv1's product with the bias added afterwards or as one more weight column
    against a row of ones (conv);
  * ReLU on conv1's output against ReLU on the pooled map (the reordering in
    ``scratch.nn.Sequential``);
  * col2im as per-row strided adds against contiguous adds;
and, in wall time: two matrix products on 2 BLAS threads against 1 (run it
with another job on the machine to see the spin-wait collapse); how long a
sleeping worker of ``scratch.parallel`` takes to start a chunk and the caller
to notice that it finished (what ``parallel.MIN_ELEMENTS`` and ``MIN_MACS``
weigh); the first linear layer's product whole and split over two threads, and
its two backward products in turn and at once; and
how much one thread's element-wise passes and matrix products slow down while a
second thread does the same work at the same time (what two cores share).

    python -m scripts.bench_passes
"""
from __future__ import annotations

import argparse
import threading
import time

import numpy as np
from threadpoolctl import threadpool_limits

from scratch import parallel
from scripts.bench import median_time, min_cpu_time
from scripts.lib.process import tune_process

tune_process()   # malloc settings: no page faults on fresh arrays


def least_cpu_ms(fn, repeats: int = 40) -> float:
    """Least CPU time of the calling thread over ``repeats`` calls (ms)."""
    return 1e3 * min_cpu_time(fn, repeats, clock=time.thread_time)


def median_wall_ms(fn, repeats: int = 20) -> float:
    return 1e3 * median_time(fn, repeats)


def main(argv=None) -> int:
    argparse.ArgumentParser(
        prog="python -m scripts.bench_passes", description=__doc__.split("\n\n")[0],
        epilog="No options: every line is one measurement; the README's speed section "
               "quotes them.").parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 16, 28, 28), dtype=np.float32)   # conv1's output
    flat = x.reshape(-1)
    zeros = np.zeros_like(flat)
    pooled = np.ascontiguousarray(x[..., ::2, ::2])                 # pool1's output
    w1 = rng.standard_normal((16, 9), dtype=np.float32)              # conv1's weight ...
    w1b = rng.standard_normal((16, 10), dtype=np.float32)            # ... with the bias
    cols1 = rng.standard_normal((10, 64 * 812), dtype=np.float32)    # conv1's im2col
    bias = rng.standard_normal(16).astype(np.float32)
    out = np.empty((64, 16, 28, 28), np.float32)

    def crop(full):
        np.copyto(out, full.reshape(16, 64, 28, 29)[..., :28].transpose(1, 0, 2, 3))

    def bias_after():
        full = w1 @ cols1[:9]
        full += bias[:, None]
        crop(full)
    a = rng.standard_normal((32, 144), dtype=np.float32)
    b = rng.standard_normal((144, 64 * 210), dtype=np.float32)
    dcols = rng.standard_normal((16, 9, 64, 210), dtype=np.float32)
    planes = np.zeros((16, 64, 256), np.float32)
    with threadpool_limits(limits=1, user_api="blas"):
        rows = [
            ("max of horizontal neighbours, stride-2 views (400K out)",
             lambda: np.maximum(x[..., 0::2], x[..., 1::2])),
            ("max of all neighbours, contiguous (800K out)",
             lambda: np.maximum(flat[:-1], flat[1:])),
            ("ReLU: np.maximum(x, 0)", lambda: np.maximum(x, 0)),
            ("ReLU: np.maximum(x, zeros)", lambda: np.maximum(flat, zeros)),
            ("ReLU on conv1's output (800K)", lambda: (np.maximum(flat, zeros), flat > 0)),
            ("ReLU on pool1's output (200K)", lambda: (
                np.maximum(pooled, zeros[:pooled.size].reshape(pooled.shape)), pooled > 0)),
            ("conv1: product, bias added, crop copied", bias_after),
            ("conv1: product with the bias as a column, crop copied", lambda: crop(w1b @ cols1)),
            ("col2im of conv2, 9 adds of 1024 runs of 210", lambda: [
                np.add(planes[:, :, o:o + 210], dcols[:, t], out=planes[:, :, o:o + 210])
                for t, o in enumerate([0, 1, 2, 15, 16, 17, 30, 31, 32])]),
            ("the same number of contiguous adds", lambda: [
                np.add(dcols[:, t], dcols[:, t], out=dcols[:, 0]) for t in range(9)]),
        ]
        for name, fn in rows:
            print(f"{least_cpu_ms(fn):8.3f} ms CPU  {name}")
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            ms = median_wall_ms(lambda: (a @ b, a @ b))
        print(f"{ms:8.3f} ms wall two (32x144)@(144x13440) products, {threads} BLAS "
              f"thread{'s' if threads > 1 else ''}")
    start_ms, join_ms, missed = worker_latency_ms()
    print(f"{start_ms:8.3f} ms wall from a 2-thread split's start to its worker starting, "
          f"{join_ms:.3f} from the worker's end to the caller's return (median; in "
          f"{missed} of 300 the caller had done both chunks before the worker woke)")
    fc_x = rng.standard_normal((64, 1568), dtype=np.float32)
    fc_w = rng.standard_normal((1568, 128), dtype=np.float32)
    fc_dout = rng.standard_normal((64, 128), dtype=np.float32)
    backward = [lambda: fc_dout.T @ fc_x, lambda: fc_dout @ fc_w.T]
    parallel.set_num_threads(2)                  # and NumPy's BLAS at one thread
    try:
        whole = median_wall_ms(lambda: fc_x @ fc_w, 200)
        split = median_wall_ms(lambda: parallel.map_items(
            lambda sl: fc_x[sl] @ fc_w, parallel.batch_chunks(64)), 200)
        in_turn = median_wall_ms(lambda: [fn() for fn in backward], 200)
        at_once = median_wall_ms(lambda: parallel.map_items(lambda fn: fn(), backward), 200)
    finally:
        parallel.set_num_threads(1)
        parallel.restore_blas_threads()
    print(f"{whole:8.3f} ms wall fc1's product (64x1568)@(1568x128); {split:.3f} split "
          "over 2 threads")
    print(f"{in_turn:8.3f} ms wall fc1's two backward products one after the other; "
          f"{at_once:.3f} at once on 2 threads")
    adds = [rng.standard_normal(800_000, dtype=np.float32) for _ in range(6)]
    halves = [np.ascontiguousarray(b[:, :6720]), np.ascontiguousarray(b[:, 6720:])]
    with threadpool_limits(limits=1, user_api="blas"):
        for name, work in [
                ("adds of two 3.2 MB arrays", lambda k: [
                    np.add(adds[3 * k], adds[3 * k + 1], out=adds[3 * k + 2])
                    for _ in range(300)]),
                ("conv2 half-batch products (32x144)@(144x6720)", lambda k: [
                    a @ halves[k] for _ in range(100)])]:
            ratios = [beside / alone for alone, beside in (side_by_side_s(work)
                                                            for _ in range(5))]
            print(f"   x{np.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}] wall "
                  f"{name}: one thread's slowdown while a second thread does the same "
                  "(median [range] of 5)")
    return 0


def side_by_side_s(work) -> tuple[float, float]:
    """Seconds ``work(0)`` takes alone, and with ``work(1)`` running in a second thread."""
    work(0)
    start = time.perf_counter()
    work(0)
    alone = time.perf_counter() - start
    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return alone, time.perf_counter() - start


def worker_latency_ms(repeats: int = 300) -> tuple[float, float, int]:
    """Median wall time from ``parallel.map_items`` starting to its worker starting a
    chunk, and from the worker's chunk ending to ``map_items`` returning (two chunks of
    a 0.2 ms product, so that the caller's own chunk does not hide the latency); and
    how many of the splits the worker took no chunk in (not in the medians)."""
    a = np.ones((64, 512), np.float32)
    b = np.ones((512, 512), np.float32)
    parallel.set_num_threads(2)
    starts, joins = [], []
    try:
        for _ in range(repeats):
            seen = {}

            def chunk(i):
                begin = time.perf_counter()
                a @ b
                seen[i] = (threading.current_thread() is threading.main_thread(),
                           begin, time.perf_counter())
            t0 = time.perf_counter()
            parallel.map_items(chunk, [0, 1])
            t1 = time.perf_counter()
            worker = [v for v in seen.values() if not v[0]]
            if worker:
                starts.append(worker[0][1] - t0)
                joins.append(t1 - worker[0][2])
    finally:
        parallel.set_num_threads(1)
        parallel.restore_blas_threads()
    return (1e3 * float(np.median(starts)), 1e3 * float(np.median(joins)),
            repeats - len(starts))


if __name__ == "__main__":
    raise SystemExit(main())
