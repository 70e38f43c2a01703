"""Training checkpoints: one ``.npz`` file, written atomically, read without pickle.

Layout of the archive:
  ``meta``                   UTF-8 JSON (as uint8): format version, the settings that
                             must match on resume, position (epoch, batch, step),
                             metrics and step losses so far and the running totals of
                             the epoch;
  ``<impl>/model/<key>``     each implementation's state_dict;
  ``<impl>/optim/<i>.<key>`` its optimizer state (momentum buffers...);
  ``torch_rng``              torch's CPU random-number state.
Each twin's learning-rate scheduler (when it has one) is in ``meta["schedulers"]``: its
``state_dict()`` as JSON (floats written exactly, so a resumed scheduler continues bit
for bit); the generator scratch's dropout layers draw from is in ``meta["scratch_rng"]``.
The batch order needs no saved state: it is a pure function of (seed, epoch).
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import torch

from scripts.lib.artifacts import load_npz, save_npz
from scripts.lib.errors import UsageError

FORMAT_VERSION = 2


class CheckpointError(UsageError):
    """A checkpoint that cannot be used: unreadable, damaged, or from other settings."""


def save_checkpoint(path: Path, meta: dict, twins: dict) -> None:
    schedulers = {name: twin.scheduler.state_dict() for name, twin in twins.items()
                  if getattr(twin, "scheduler", None) is not None}
    meta = {**meta, "schedulers": schedulers} if schedulers else meta
    scratch_rng = getattr(twins.get("scratch"), "rng_state", lambda: None)()
    if scratch_rng is not None:
        meta = {**meta, "scratch_rng": scratch_rng}
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
    check_finite_states(states, path)
    return meta, states


def check_finite_states(states: dict, path: Path) -> None:
    """Refuse a checkpoint whose weights or optimizer state hold NaN or inf, naming the
    first such tensor (training from it would only stop at its first step)."""
    for impl, parts in states.items():
        if impl == "torch_rng":
            continue
        for part, arrays in parts.items():
            for key, value in arrays.items():
                if value.dtype.kind in "fc" and not np.isfinite(value).all():
                    bad = int((~np.isfinite(value)).sum())
                    raise CheckpointError(
                        f"checkpoint {path} holds non-finite values in {impl} {part} tensor "
                        f"{key!r} ({bad} of {value.size} entries NaN or inf); it cannot be "
                        f"resumed: start afresh in a new folder (with a lower --lr if the "
                        f"run diverged)")


def check_same_settings(saved: dict, current: dict, path: Path) -> None:
    """Resuming with other settings would silently train a different model: refuse."""
    current = json.loads(json.dumps(current))     # tuples -> lists, as they were saved
    diffs = [f"{k}: checkpoint {saved.get(k)!r}, now {current[k]!r}"
             for k in current if saved.get(k) != current[k]]
    if diffs:
        raise CheckpointError(f"checkpoint {path} was made with other settings "
                              f"({'; '.join(diffs)}); use the same flags to resume (or "
                              f"--from-record {path.parent}/metrics.json when the run had "
                              f"finished an epoch), or leave out --resume and --out-dir to "
                              f"start afresh in a new folder")


class Checkpoints:
    """The checkpoint of one run: ``path`` and the settings it must have been made with."""

    def __init__(self, path: Path, settings):
        self.path, self.settings = Path(path), _as_dict(settings)

    def save(self, progress: dict, twins: dict, **position) -> None:
        """Record ``position`` (epoch, batch...) in ``progress`` and write everything."""
        progress.update(position)
        save_checkpoint(self.path, dict(settings=self.settings, progress=progress), twins)

    def restore(self, twins: dict) -> dict:
        """Load weights, optimizer state and torch's RNG into ``twins``; returns the progress."""
        meta, states = load_checkpoint(self.path)
        check_same_settings(meta["settings"], self.settings, self.path)
        try:
            for name, twin in twins.items():
                twin.load_state_dict(states[name]["model"])
                twin.load_optimizer_state(states[name]["optim"])
                if getattr(twin, "scheduler", None) is not None:
                    twin.scheduler.load_state_dict(meta["schedulers"][name])
            if "scratch_rng" in meta and "scratch" in twins:
                twins["scratch"].load_rng_state(meta["scratch_rng"])
            torch.set_rng_state(torch.from_numpy(states["torch_rng"]))
        except (KeyError, ValueError, RuntimeError) as err:
            raise CheckpointError(f"checkpoint {self.path} does not fit this model "
                                  f"({type(err).__name__}: {err}); start afresh in a new "
                                  f"folder") from None
        progress = meta["progress"]
        print(f"resuming from {self.path}: epoch {progress['epoch'] + 1}, batch "
              f"{progress['batch']} (step {progress['step']})", flush=True)
        return progress

    @staticmethod
    def finished(out_dir: Path, settings) -> bool:
        """Whether the run in ``out_dir`` made with ``settings`` has done all its epochs and
        written its record (CheckpointError when there is no usable checkpoint or other
        settings)."""
        path = Path(out_dir) / "checkpoint.npz"
        meta, _ = load_checkpoint(path)
        check_same_settings(meta["settings"], _as_dict(settings), path)
        return (meta["progress"]["epoch"] >= meta["settings"]["epochs"]
                and (Path(out_dir) / "metrics.json").is_file())


def _as_dict(settings) -> dict:
    """Settings as the plain dict a checkpoint holds (a settings object or a mapping)."""
    return settings.as_dict() if hasattr(settings, "as_dict") else dict(settings)
