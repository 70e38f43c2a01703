"""Run folders: every run writes into a folder of its own, and one run at a time owns it.

Without ``--out-dir`` a script makes a fresh folder ``<base>/<UTC time>``
(``-2``, ``-3``... when that name is taken, even by a run started in the same
second) and prints it. An ``--out-dir`` that names a folder already holding
files is refused with a message naming the folder and the ways on; only
``--resume`` continues in such a folder.

A run holds an exclusive lock on its folder for its whole life: the operating
system's ``flock`` on ``<folder>/.lock``, which also holds the owner's process
id. A second run or resume into a held folder is refused at once, naming the
folder and that process. The kernel drops the lock when its process ends, however
it ends (kill -9 included), so a stale ``.lock`` never blocks a resume.
"""
from __future__ import annotations

import contextlib
import datetime
import errno
import itertools
import os
from pathlib import Path

from scripts.lib.errors import UsageError

try:
    import fcntl
except ImportError:                 # Windows: no flock; folders are claimed unlocked
    fcntl = None

LOCK_NAME = ".lock"
"""The lock file inside a run folder (not one of the run's results)."""


class RunDirError(UsageError):
    """The output folder cannot be used for this run (names it and what to do)."""


class RunDirBusy(RunDirError):
    """Another live process holds the run folder's lock."""


_held: dict[Path, int] = {}   # resolved folder -> the descriptor holding its lock


def lock_run_dir(folder: Path, flag: str = "--out-dir") -> None:
    """Take the exclusive lock of ``folder`` (an existing folder) for this process, until
    :func:`release_run_dir` or the end of the process; :class:`RunDirBusy` naming the
    holder's process id when another process has it."""
    folder = Path(folder)
    key = folder.resolve()
    if key in _held or fcntl is None:
        return
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise RunDirError(f"cannot create the lock file {path}: "
                          f"{err.strerror or err}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise RunDirError(f"cannot lock {path}: {err.strerror or err}") from None
        raise busy(folder, flag) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held[key] = fd


def busy(folder: Path, flag: str = "--out-dir") -> RunDirBusy:
    """The refusal of a folder whose lock a live process holds, naming that process."""
    holder = holder_pid(folder)
    who = f"process {holder}" if holder else "another process"
    stop = f" (kill {holder})" if holder else ""
    return RunDirBusy(
        f"{flag} {folder} is in use by another run: {who} holds its lock "
        f"{Path(folder) / LOCK_NAME}; wait for that run to end or stop it{stop} and then "
        f"continue it with --resume {flag} {folder}, or name another folder")


def holder_pid(folder: Path) -> int | None:
    """The process id written in ``folder``'s lock file (None when unreadable)."""
    with contextlib.suppress(OSError, ValueError):
        return int((Path(folder) / LOCK_NAME).read_text().split()[0])
    return None


def release_run_dir(folder: Path) -> None:
    """Give up this process's lock on ``folder`` (no-op when it holds none)."""
    fd = _held.pop(Path(folder).resolve(), None)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def run_files(folder: Path) -> list[str]:
    """The names in ``folder`` other than the lock file, sorted."""
    return sorted(p.name for p in Path(folder).iterdir() if p.name != LOCK_NAME)


def fresh_run_dir(base: Path) -> Path:
    """Create, lock and return a new folder ``base/YYYYmmdd-HHMMSS[-n]`` (never an
    existing one)."""
    base = Path(base)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    for n in itertools.count(1):
        path = base / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            path.mkdir(parents=True, exist_ok=False)   # atomic: two runs never share one
        except FileExistsError:
            continue
        except NotADirectoryError:
            raise RunDirError(f"cannot make a run folder under {base}: it is not a "
                              f"folder") from None
        except OSError as err:
            raise RunDirError(f"cannot make a run folder under {base}: "
                              f"{err.strerror or err}") from None
        lock_run_dir(path)
        return path
    raise AssertionError("unreachable")


def check_run_dir(out_dir: Path | None, base: Path, *, resume: bool = False,
                  flag: str = "--out-dir") -> None:
    """Everything :func:`claim_run_dir` would refuse, checked without creating anything:
    a file in place of the folder, a used folder without ``resume``, a missing folder or
    run with ``resume``, a place where no folder can be made."""
    if out_dir is None:
        if resume:
            raise RunDirError(f"--resume needs {flag} naming the run folder to continue "
                              f"(runs are in {base}/<time>)")
        _check_creatable(Path(base), flag)
        return
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirError(f"{flag} {out_dir} is a file, not a folder")
    if out_dir.resolve() not in _held and holder_alive(out_dir):
        raise busy(out_dir, flag)
    if resume:
        if not out_dir.is_dir():
            raise RunDirError(f"{flag} {out_dir} does not exist: nothing to resume (leave "
                              f"out --resume to start a run there)")
        _check_creatable(out_dir, flag)
        return
    if out_dir.is_dir():
        held = run_files(out_dir)
        if held:
            shown = ", ".join(held[:5]) + (", ..." if len(held) > 5 else "")
            raise RunDirError(
                f"{flag} {out_dir} already holds files of another run ({shown}); a new run "
                f"would overwrite or mix with them. Continue that run with --resume "
                f"{flag} {out_dir}, name a new folder, or leave out {flag} to get a fresh "
                f"folder under {base}")
    _check_creatable(out_dir, flag)


def _check_creatable(folder: Path, flag: str) -> None:
    """A folder that exists and is writable, or whose nearest existing parent is."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise RunDirError(f"{flag} {folder}: {existing} is a file, so no folder can be made "
                          f"there")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RunDirError(f"{flag} {folder}: {existing} is not writable (permission denied or "
                          f"a read-only file system); name a folder you can write to")


def claim_run_dir(out_dir: Path | None, base: Path, *, resume: bool = False,
                  flag: str = "--out-dir") -> Path:
    """The folder a run may write into, created if needed and locked for this process
    (until :func:`release_run_dir` or the end of the process).

    ``out_dir`` None: a fresh folder under ``base`` (``resume`` then is an error: it
    needs the folder of the run to continue). Otherwise ``out_dir`` must not be a
    file, and unless ``resume`` it must be missing or empty. The lock is taken before
    the folder is found empty, so of two runs started together one is refused.
    """
    check_run_dir(out_dir, base, resume=resume, flag=flag)
    if out_dir is None:
        return fresh_run_dir(base)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunDirError(f"cannot make {flag} {out_dir}: {err.strerror or err}") from None
    lock_run_dir(out_dir, flag)
    try:
        check_run_dir(out_dir, base, resume=resume, flag=flag)   # again, now that we own it
    except RunDirError:
        release_run_dir(out_dir)
        raise
    return out_dir


@contextlib.contextmanager
def run_dir(out_dir: Path | None, base: Path, *, resume: bool = False,
            flag: str = "--out-dir"):
    """:func:`claim_run_dir` for the life of a ``with`` block: the lock is released at its
    end, and a folder this block made is removed again when the run left nothing in it
    (a refused or failed run leaves no empty folder behind)."""
    existed = out_dir is not None and Path(out_dir).is_dir()
    folder = claim_run_dir(out_dir, base, resume=resume, flag=flag)
    try:
        yield folder
    finally:
        release_run_dir(folder)
        if not existed:
            remove_if_unused(folder)


def remove_if_unused(folder: Path) -> None:
    """Delete ``folder`` when it holds nothing but its lock file (and nobody holds that)."""
    with contextlib.suppress(OSError):
        if run_files(folder) or holder_alive(folder):
            return
        (Path(folder) / LOCK_NAME).unlink(missing_ok=True)
        Path(folder).rmdir()


def holder_alive(folder: Path) -> bool:
    """Whether some process holds ``folder``'s lock now."""
    if fcntl is None:
        return False
    try:
        fd = os.open(Path(folder) / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def claim_output_file(path: Path) -> Path:
    """A single output file (as a benchmark's JSON) that must not replace an earlier one."""
    path = Path(path)
    if path.exists():
        raise RunDirError(f"{path} already exists; name another file, or move that one "
                          f"aside first")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
