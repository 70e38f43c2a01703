"""Thread counts and the environment a run records.

Results depend on the thread count: scratch's fast paths split the batch over
its own threads and add the weight gradients' partial sums chunk by chunk
(torch's kernels split their work too), so weights after training differ a
little between one and two threads. :func:`apply_threads` fixes the count for
scratch's pool (NumPy's BLAS then at one thread, through threadpoolctl), the
OpenMP pools and torch; every script records what it applied with
:func:`record`. Same seed and same thread count give bit-identical weights.
"""
from __future__ import annotations

import datetime
import os
import platform
import sys
import time

DEFAULT_THREADS = 1
"""The scripts' default: one thread is deterministic and, under a competing load on a
small machine, the fastest for scratch (see the README's load measurement)."""

_IMPORTED = time.time()
_limits = []   # keeps threadpoolctl's limiter alive for the life of the process


def apply_threads(n: int) -> dict:
    """Use ``n`` threads in scratch and in torch; returns what was applied:
    ``{"threads": n, "scratch": n, "torch": n, "pools": [...]}``.

    Scratch splits each batch over its own ``n`` threads
    (:func:`scratch.parallel.set_num_threads`), which puts NumPy's BLAS at one
    thread, so the two never multiply; OpenMP pools get ``n``. torch gets ``n``
    intra-op threads.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"threads: expected a whole number >= 1, got {n!r}")
    from threadpoolctl import threadpool_limits

    from scratch import parallel
    _limits.append(threadpool_limits(limits=n, user_api="openmp"))
    parallel.set_num_threads(n)
    import torch
    torch.set_num_threads(n)
    return {"threads": n, "scratch": parallel.get_num_threads(),
            "torch": torch.get_num_threads(), "pools": thread_pools()}


def thread_pools() -> list[dict]:
    """Each native thread pool loaded in this process (BLAS, OpenMP): library, version,
    threading layer and thread count, as threadpoolctl reports them."""
    from threadpoolctl import threadpool_info
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads",
            "threading_layer", "architecture")
    return [{k: info[k] for k in keep if k in info} for info in threadpool_info()]


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def process_start() -> float:
    """The ``time.time()`` at which this process started (Linux: from /proc; elsewhere the
    time this module was imported), so a record's wall time includes start-up."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - uptime + start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return _IMPORTED


def typed_command(prog: str, argv: list[str]) -> list[str]:
    """The command as the user typed it: ``prog`` (``python -m scripts.train``) or the
    installed name (``cnn-parity-train``), then ``argv``."""
    first = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    head = [first] if first and not first.endswith(".py") and first != "-c" else prog.split()
    if head[0].startswith("pytest") or head[0] == "__main__.py":
        head = prog.split()
    return [*head, *argv]


def record(device: str = "cpu") -> dict:
    """The environment that shaped a run's numbers: library versions, CPU, thread pools,
    the device of the torch side, the time and the command line."""
    import numpy as np
    import torch

    from scratch import parallel
    env = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "scratch_threads": parallel.get_num_threads(),
        "torch_threads": torch.get_num_threads(),
        "thread_pools": thread_pools(),
        "device": device,
        "started": now(),
        "argv": [os.path.basename(sys.argv[0]), *sys.argv[1:]],
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(torch.device(device))
        env["cuda"] = torch.version.cuda
    return env
