"""Training checkpoints: one ``.npz`` file, written atomically, read without pickle.

Layout of the archive:
  ``meta``                   UTF-8 JSON (as uint8): format version, the settings that
                             must match on resume, position (epoch, batch, step),
                             metrics so far and the running totals of the epoch;
  ``<impl>/model/<key>``     each implementation's state_dict;
  ``<impl>/optim/<i>.<key>`` its optimizer state (momentum buffers...);
  ``torch_rng``              torch's CPU random-number state.
The batch order needs no saved state: it is a pure function of (seed, epoch).
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import torch

from scripts.artifacts import load_npz, save_npz

FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: unreadable, damaged, or from other settings."""


def save_checkpoint(path: Path, meta: dict, twins: dict) -> None:
    arrays = {"meta": np.frombuffer(json.dumps({**meta, "version": FORMAT_VERSION}).encode(),
                                    dtype=np.uint8),
              "torch_rng": torch.get_rng_state().numpy()}
    for name, twin in twins.items():
        arrays.update({f"{name}/model/{k}": v for k, v in twin.state_dict().items()})
        arrays.update({f"{name}/optim/{k}": v for k, v in twin.optimizer_state().items()})
    save_npz(path, arrays)


def load_checkpoint(path: Path) -> tuple[dict, dict[str, dict[str, dict]]]:
    """``(meta, {impl: {"model": state, "optim": state}, "torch_rng": array})``;
    CheckpointError when the file is missing, damaged or of another format."""
    try:
        arrays = load_npz(path)
        meta = json.loads(arrays.pop("meta").tobytes().decode())
        states: dict[str, dict[str, dict]] = {"torch_rng": arrays.pop("torch_rng")}
        for key, value in arrays.items():
            impl, part, name = key.split("/", 2)
            states.setdefault(impl, {"model": {}, "optim": {}})[part][name] = value
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}: nothing to resume (run without "
                              f"--resume to start afresh)") from None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile,
            UnicodeDecodeError) as err:
        raise CheckpointError(f"checkpoint {path} is damaged or not a checkpoint "
                              f"({type(err).__name__}: {err}); delete it to start afresh") from None
    if not isinstance(meta, dict) or meta.get("version") != FORMAT_VERSION:
        found = meta.get("version") if isinstance(meta, dict) else None
        raise CheckpointError(f"checkpoint {path} has format version {found}, this code "
                              f"reads version {FORMAT_VERSION}")
    return meta, states


def check_same_settings(saved: dict, current: dict, path: Path) -> None:
    """Resuming with other settings would silently train a different model: refuse."""
    diffs = [f"{k}: checkpoint {saved.get(k)!r}, now {current[k]!r}"
             for k in current if saved.get(k) != current[k]]
    if diffs:
        raise CheckpointError(f"checkpoint {path} was made with other settings "
                              f"({'; '.join(diffs)}); use the same flags to resume, or "
                              f"another --out-dir to start afresh")
