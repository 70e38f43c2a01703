"""Process tuning for the scripts, for both implementations alike: an explicit call,
:func:`tune_process`, made by each entry point before NumPy and torch are imported
(and before big arrays are allocated), never a side effect of an import.

* Idle worker threads sleep instead of spinning, for torch's OpenMP
  (``OMP_WAIT_POLICY=PASSIVE``) and NumPy's OpenBLAS
  (``OPENBLAS_THREAD_TIMEOUT=4``), unless the user set them. The scripts
  interleave scratch and torch steps in one process, and each library's
  spinning workers starve the other's on 2 cores (measured: a 3000-image
  epoch of both took 15 s + 19 s with spinning OpenMP workers, 12 s + 2 s
  without; a torch step right after a scratch step took 22.0 ms with spinning
  OpenBLAS workers, 14.8 ms without, the scratch step 14.5 and 15.3 ms).
* glibc keeps freed memory instead of returning it to the OS
  (:func:`keep_freed_memory`). Otherwise every large array of every step is
  a fresh mapping that page-faults on first touch: on this VM one scratch conv
  forward took 2,000 page faults and 5.9 ms, and 0 faults and 1.1 ms with
  memory kept. torch's CPU allocator goes through the same malloc.
  ``CNN_PARITY_KEEP_FREED_MEMORY=0`` keeps glibc's defaults (to measure the
  difference).
"""
import ctypes
import ctypes.util
import os

FREED_MEMORY_KEPT = False
"""Whether :func:`tune_process` got glibc to keep freed memory."""


def tune_process() -> dict:
    """Set the thread wait policies (unless already set) and keep freed memory; returns
    what is in effect. Call it first thing in an entry point; calling it again is harmless."""
    global FREED_MEMORY_KEPT
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
    if not FREED_MEMORY_KEPT and os.environ.get("CNN_PARITY_KEEP_FREED_MEMORY", "1") != "0":
        FREED_MEMORY_KEPT = keep_freed_memory()
    return {"OMP_WAIT_POLICY": os.environ["OMP_WAIT_POLICY"],
            "OPENBLAS_THREAD_TIMEOUT": os.environ["OPENBLAS_THREAD_TIMEOUT"],
            "freed_memory_kept": FREED_MEMORY_KEPT}


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
