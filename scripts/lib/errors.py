"""The scripts' error policy: what a user can fix is one line and exit status 2.

* exit 0: done (or nothing to do, as a resume of a finished run);
* exit 2: a mistake the user can fix: a flag, a record given to ``--from-record``,
  an architecture that does not fit the data, the data files, the run folder (used,
  locked by another run, not writable), a full disk, a diverging run. One line on
  stderr saying what was wrong and what to do; nothing half-written is left behind;
* exit 128 + N: stopped by signal N (Ctrl-C: 130, SIGTERM: 143) after a checkpoint;
* exit 1 with a traceback: anything else, which is a bug of ours.
"""
from __future__ import annotations

import errno
import os

EXIT_USAGE = 2


class UsageError(RuntimeError):
    """A mistake the user can fix; the message says what was wrong and what to do."""


class ArchitectureMismatch(UsageError):
    """An architecture that is valid data but does not fit the data set."""


class OutputError(UsageError):
    """A file of the run could not be written: disk full, read-only, no permission."""


WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                errno.EFBIG}


def describe_write_error(path, err: OSError, needed: int | None = None) -> str:
    """``cannot write PATH: <reason> (<n> needed, <m> free)``."""
    import shutil
    reason = err.strerror or str(err)
    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        sizes = []
        if needed is not None:
            sizes.append(f"{_size(needed)} needed")
        try:
            sizes.append(f"{_size(shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free)}"
                         f" free")
        except OSError:
            pass
        reason += f" ({', '.join(sizes)})" if sizes else ""
    elif err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        reason += " (make the folder writable or name another one)"
    return f"cannot write {path}: {reason}"


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def threads_warning(threads: int) -> str | None:
    """A warning when ``threads`` exceeds the CPUs available, with both numbers."""
    cpus = available_cpus()
    if threads <= cpus:
        return None
    return (f"warning: --threads {threads} is more than the {cpus} CPU(s) this process may "
            f"use; the extra threads wait for a core and every step gets slower (use "
            f"--threads {cpus} or fewer)")
