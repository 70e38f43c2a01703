"""Command-line scripts: training, comparison, benchmarks, data.

Importing this package tunes two process-wide settings, for both
implementations alike (set before torch is imported and before big arrays
are allocated, hence here):

* OpenMP workers sleep when idle (``OMP_WAIT_POLICY=PASSIVE`` unless set).
  The scripts run NumPy (OpenBLAS threads) and torch (OpenMP threads) in one
  process, and spinning OpenMP workers starve the OpenBLAS threads of the
  interleaved scratch steps (measured on 2 cores: a 3000-image epoch of both
  took 15 s + 19 s with spinning workers, 12 s + 2 s without).
* glibc keeps freed memory instead of returning it to the OS
  (:func:`keep_freed_memory`). Otherwise every large array of every step is
  a fresh mapping that page-faults on first touch: on this VM one scratch conv
  forward took 2,000 page faults and 5.9 ms, and 0 faults and 1.1 ms with
  memory kept. torch's CPU allocator goes through the same malloc.
"""
import ctypes
import ctypes.util
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def keep_freed_memory() -> bool:
    """Ask glibc not to use mmap for big blocks nor trim the heap; False where not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc else None
    except (OSError, AttributeError):
        return False
    if mallopt is None:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 1 << 30)) and bool(mallopt(m_trim_threshold, 2**31 - 1))


# CNN_PARITY_KEEP_FREED_MEMORY=0 keeps glibc's defaults (to measure the difference).
FREED_MEMORY_KEPT = (os.environ.get("CNN_PARITY_KEEP_FREED_MEMORY", "1") != "0"
                     and keep_freed_memory())
