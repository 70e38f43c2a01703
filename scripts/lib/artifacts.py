"""Files a run writes: JSON, weights and plots, each written atomically.

(The plots themselves are drawn in :mod:`scripts.lib.plots`.)

Every file goes to a temporary name in the same directory, is flushed to disk,
and is renamed over the target, so an interrupted run never leaves a truncated
file behind.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from scripts.lib.errors import WRITE_ERRNOS, OutputError, describe_write_error


@contextmanager
def atomic_path(path: Path, needed: int | None = None):
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    A full disk, a read-only folder or a missing permission raises :class:`OutputError`
    naming ``path`` (and ``needed`` bytes, when given); ``path`` itself is untouched."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        yield Path(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())      # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
        fsync_dir(path.parent)                 # the rename itself survives a power loss
    except OSError as err:
        if err.errno not in WRITE_ERRNOS:
            raise
        raise OutputError(describe_write_error(path, err, needed)) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def fsync_dir(folder: Path) -> None:
    """Make renames in ``folder`` durable; a no-op where directories cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, data) -> None:
    text = json.dumps(data, indent=2) + "\n"
    with atomic_path(path, len(text.encode())) as tmp:
        tmp.write_text(text)


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An uncompressed ``.npz`` as ``np.savez`` writes it, but with a fixed time stamp on
    every member, so the same arrays always give the same bytes."""
    needed = sum(np.asarray(a).nbytes for a in arrays.values())
    with atomic_path(path, needed) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, array in arrays.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                with archive.open(info, "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array),
                                              allow_pickle=False)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Arrays from an .npz written by :func:`save_npz`; never unpickles."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def save_torch(path: Path, obj) -> None:
    import torch
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def save_weights(out_dir: Path, name: str, twin) -> Path:
    """scratch -> ``scratch_weights.npz``; torch -> ``torch_state_dict.pt``."""
    if name == "scratch":
        path = Path(out_dir) / "scratch_weights.npz"
        save_npz(path, twin.state_dict())
    else:
        path = Path(out_dir) / "torch_state_dict.pt"
        save_torch(path, {k: v.detach().cpu() for k, v in twin.model.state_dict().items()})
    return path
