"""What defines a run, as frozen data: the same settings give the same numbers.

:class:`TrainSettings` (``scripts.train``) and :class:`LockstepSettings`
(``scripts.lockstep``) share :class:`StepSettings`, the settings of one training
step and its data. They are built from the parsed flags (:func:`train_settings`,
:func:`lockstep_settings`), travel through the library as attributes
(``settings.lr``), and are written into a record or a checkpoint as a plain
dict (:meth:`StepSettings.as_dict`, in the order of ``RECORD_ORDER``).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True)
class StepSettings:
    """One training step and its data, the same on both sides."""
    arch: str
    optimizer: str
    lr: float
    schedule: str
    l2: float
    clip_grad_norm: float | None
    clip_grad_norm_type: float
    batch_size: int
    seed: int
    threads: int
    device: str
    dtype: str
    limit_train: int | None
    scheduler: str
    scheduler_args: str
    scheduler_interval: str | None
    no_decay_bias_norm: bool
    recipe: str | None
    hyperparameters: dict = field(default_factory=dict)
    """The optimizer's resolved hyperparameters (momentum, betas...), by torch's names."""

    RECORD_ORDER: ClassVar[tuple[str, ...]] = ()

    def as_dict(self) -> dict:
        """The settings as JSON-ready data, in ``RECORD_ORDER`` (what records and checkpoints
        hold; tuples become lists)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return json.loads(json.dumps({k: values[k] for k in self.RECORD_ORDER}))

    @classmethod
    def from_values(cls, values: dict):
        """The settings from a dict holding (at least) every field."""
        return cls(**{f.name: values[f.name] for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class TrainSettings(StepSettings):
    """A side-by-side training run (``python -m scripts.train``)."""
    impl: str = "both"
    epochs: int = 4
    limit_test: int | None = None
    dry_run: bool = False

    RECORD_ORDER: ClassVar[tuple[str, ...]] = (
        "impl", "arch", "epochs", "optimizer", "lr", "hyperparameters", "schedule", "l2",
        "clip_grad_norm", "clip_grad_norm_type", "batch_size", "seed", "threads", "device",
        "dtype", "limit_train", "limit_test", "dry_run", "scheduler", "scheduler_args",
        "scheduler_interval", "no_decay_bias_norm", "recipe")

    @property
    def impls(self) -> tuple[str, ...]:
        """The implementations trained, torch's place after scratch's."""
        return ("scratch", "torch") if self.impl == "both" else (self.impl,)


@dataclass(frozen=True)
class LockstepSettings(StepSettings):
    """A lockstep comparison (``python -m scripts.lockstep``)."""
    steps: int | None = None
    resync: bool = False

    RECORD_ORDER: ClassVar[tuple[str, ...]] = (
        "arch", "steps", "optimizer", "lr", "hyperparameters", "schedule", "l2",
        "clip_grad_norm", "clip_grad_norm_type", "batch_size", "seed", "threads", "device",
        "dtype", "limit_train", "resync", "scheduler", "scheduler_args", "scheduler_interval",
        "no_decay_bias_norm", "recipe")
