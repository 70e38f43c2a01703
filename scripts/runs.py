"""Run folders: every run writes into a folder of its own, never into another run's.

Without ``--out-dir`` a script makes a fresh folder ``<base>/<UTC time>``
(``-2``, ``-3``... when that name is taken, even by a run started in the same
second) and prints it. An ``--out-dir`` that names a folder already holding
files is refused with a message naming the folder and the ways on; only
``--resume`` continues in such a folder.
"""
from __future__ import annotations

import datetime
import itertools
from pathlib import Path


class RunDirError(RuntimeError):
    """The output folder cannot be used for this run (names it and what to do)."""


def fresh_run_dir(base: Path) -> Path:
    """Create and return a new folder ``base/YYYYmmdd-HHMMSS[-n]`` (never an existing one)."""
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
        return path
    raise AssertionError("unreachable")


def claim_run_dir(out_dir: Path | None, base: Path, *, resume: bool = False,
                  flag: str = "--out-dir") -> Path:
    """The folder a run may write into, created if needed.

    ``out_dir`` None: a fresh folder under ``base`` (``resume`` then is an error: it
    needs the folder of the run to continue). Otherwise ``out_dir`` must not be a
    file, and unless ``resume`` it must be missing or empty.
    """
    if out_dir is None:
        if resume:
            raise RunDirError(f"--resume needs {flag} naming the run folder to continue "
                              f"(runs are in {base}/<time>)")
        return fresh_run_dir(base)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirError(f"{flag} {out_dir} is a file, not a folder")
    if resume:
        return out_dir
    if out_dir.is_dir():
        held = sorted(p.name for p in out_dir.iterdir())
        if held:
            shown = ", ".join(held[:5]) + (", ..." if len(held) > 5 else "")
            raise RunDirError(
                f"{flag} {out_dir} already holds files of another run ({shown}); a new run "
                f"would overwrite or mix with them. Continue that run with --resume "
                f"{flag} {out_dir}, name a new folder, or leave out {flag} to get a fresh "
                f"folder under {base}")
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def claim_output_file(path: Path) -> Path:
    """A single output file (as a benchmark's JSON) that must not replace an earlier one."""
    path = Path(path)
    if path.exists():
        raise RunDirError(f"{path} already exists; name another file, or move that one "
                          f"aside first")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
