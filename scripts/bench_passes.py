"""The NumPy facts behind scratch's fast paths, each timed at the default network's sizes.

Least CPU time (of 40 repeats, one thread) of single NumPy passes, so that a
busy machine distorts them little:
  * a max over strided views against one over contiguous runs (2x2 pooling);
  * ``np.maximum`` against the scalar 0 and against an array of zeros (ReLU);
  * a bias added to the cropped strided view or to the contiguous product (conv);
  * col2im as per-row strided adds against contiguous adds;
and, in wall time, two matrix products on 2 BLAS threads against 1 (run it
with another job on the machine to see the spin-wait collapse).

    python -m scripts.bench_passes
"""
from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

import scripts  # noqa: F401  (malloc settings: no page faults on fresh arrays)


def least_cpu_ms(fn, repeats: int = 40) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return 1e3 * min(times)


def median_wall_ms(fn, repeats: int = 20) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def main() -> int:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 16, 28, 28), dtype=np.float32)   # conv1's output
    flat = x.reshape(-1)
    zeros = np.zeros_like(flat)
    full = rng.standard_normal((16, 64, 28, 29), dtype=np.float32)  # conv1's product
    bias = rng.standard_normal(16).astype(np.float32)
    out = np.empty((64, 16, 28, 28), np.float32)
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
            ("bias added to the cropped view", lambda: np.add(
                full[..., :28].transpose(1, 0, 2, 3), bias[:, None, None], out=out)),
            ("bias added to the contiguous product, then the crop copied", lambda: (
                np.add(full, bias[:, None, None, None], out=full),
                np.copyto(out, full[..., :28].transpose(1, 0, 2, 3)))),
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
