"""The learning-rate schedulers the scripts offer, as data (like scripts.lib.optimizers).

Each entry of :data:`SCHEDULERS` names the scratch class, its torch twin, the
arguments the command line may set (``--scheduler-args step_size=1,gamma=0.7``)
with their parsers and defaults, the argument that is filled in from the run's
length when not given (``T_max``, ``total_iters``, ``total_steps``), and the
default interval. Each twin builds its own scheduler on its own optimizer and
steps it after every optimizer step (``--scheduler-interval step``) or after
every epoch (``epoch``). ``plateau`` is stepped on a metric: the epoch's test
loss in ``scripts.train``, the epoch's mean training loss in ``scripts.lockstep``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from scratch.optim import lr_scheduler as S


def _milestones(text: str) -> list[int]:
    """``3:6:9`` -> [3, 6, 9] (the comma separates arguments)."""
    values = [int(v) for v in text.split(":")]
    if any(v < 0 for v in values):
        raise ValueError("expected whole numbers >= 0 separated by ':', as 3:6:9")
    return values


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise ValueError("expected true or false")


@dataclass(frozen=True)
class SchedulerChoice:
    scratch: Callable                 # scratch class: (optimizer, **arguments)
    torch: Callable                   # torch.optim.lr_scheduler class, same keywords
    arguments: dict                   # name -> (parse, default); default None: required
    length: str | None = None         # argument filled with the number of scheduler steps
    interval: str = "epoch"           # default --scheduler-interval
    needs_metric: bool = False        # step(metric): ReduceLROnPlateau
    fixed: dict = field(default_factory=dict)   # passed as is, not settable


SCHEDULERS = {
    "steplr": SchedulerChoice(S.StepLR, torch.optim.lr_scheduler.StepLR,
                              dict(step_size=(int, 1), gamma=(float, 0.1))),
    "multisteplr": SchedulerChoice(S.MultiStepLR, torch.optim.lr_scheduler.MultiStepLR,
                                   dict(milestones=(_milestones, None), gamma=(float, 0.1))),
    "exponentiallr": SchedulerChoice(S.ExponentialLR, torch.optim.lr_scheduler.ExponentialLR,
                                     dict(gamma=(float, None))),
    "linearlr": SchedulerChoice(S.LinearLR, torch.optim.lr_scheduler.LinearLR,
                                dict(start_factor=(float, 1.0 / 3), end_factor=(float, 1.0),
                                     total_iters=(int, None)), length="total_iters"),
    "constantlr": SchedulerChoice(S.ConstantLR, torch.optim.lr_scheduler.ConstantLR,
                                  dict(factor=(float, 1.0 / 3), total_iters=(int, 5))),
    "polynomiallr": SchedulerChoice(S.PolynomialLR, torch.optim.lr_scheduler.PolynomialLR,
                                    dict(total_iters=(int, None), power=(float, 1.0)),
                                    length="total_iters"),
    "cosineannealinglr": SchedulerChoice(S.CosineAnnealingLR,
                                         torch.optim.lr_scheduler.CosineAnnealingLR,
                                         dict(T_max=(int, None), eta_min=(float, 0.0)),
                                         length="T_max"),
    "onecyclelr": SchedulerChoice(S.OneCycleLR, torch.optim.lr_scheduler.OneCycleLR,
                                  dict(max_lr=(float, None), total_steps=(int, None),
                                       pct_start=(float, 0.3), anneal_strategy=(str, "cos"),
                                       cycle_momentum=(_bool, True),
                                       base_momentum=(float, 0.85),
                                       max_momentum=(float, 0.95), div_factor=(float, 25.0),
                                       final_div_factor=(float, 1e4),
                                       three_phase=(_bool, False)),
                                  length="total_steps", interval="step"),
    "plateau": SchedulerChoice(S.ReduceLROnPlateau, torch.optim.lr_scheduler.ReduceLROnPlateau,
                               dict(mode=(str, "min"), factor=(float, 0.1),
                                    patience=(int, 10), threshold=(float, 1e-4),
                                    threshold_mode=(str, "rel"), cooldown=(int, 0),
                                    min_lr=(float, 0.0), eps=(float, 1e-8)),
                               needs_metric=True),
}
"""name -> SchedulerChoice (the scratch and torch classes take the same keywords)."""


def parse_arguments(name: str, text: str | None) -> dict[str, Any]:
    """``"step_size=1,gamma=0.7"`` -> {"step_size": 1, "gamma": 0.7} for scheduler
    ``name``; ValueError naming the argument that is unknown or badly written."""
    choice = SCHEDULERS[name]
    given = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in choice.arguments:
            raise ValueError(f"--scheduler-args: {item.strip()!r} is not KEY=VALUE with KEY "
                             f"one of {', '.join(choice.arguments)} (--scheduler {name})")
        parse = choice.arguments[key][0]
        try:
            given[key] = parse(value.strip())
        except ValueError as err:
            raise ValueError(f"--scheduler-args {key}: {err}, got {value.strip()!r}") from None
    return given


def resolve_arguments(name: str, text: str | None, length: int) -> dict[str, Any]:
    """The scheduler's keyword arguments: defaults, then ``text``; the ``length``
    argument (T_max...) defaults to ``length`` (the number of scheduler steps in the
    run). ValueError naming a required argument that is missing."""
    choice = SCHEDULERS[name]
    values = {k: default for k, (_, default) in choice.arguments.items()}
    if choice.length:
        values[choice.length] = length
    values.update(parse_arguments(name, text))
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise ValueError(f"--scheduler {name} needs --scheduler-args "
                         f"{','.join(k + '=...' for k in missing)}")
    return {**values, **choice.fixed}


def canonical(name: str, text: str | None) -> str:
    """The arguments as written in records: the given ones, in the registry's order."""
    given = parse_arguments(name, text)
    return ",".join(f"{k}={_text(given[k])}" for k in SCHEDULERS[name].arguments if k in given)


def _text(value) -> str:
    if isinstance(value, list):
        return ":".join(str(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def build(name: str, side: str, optimizer, arguments: dict):
    """The ``side`` ("scratch" or "torch") scheduler ``name`` on ``optimizer``."""
    return getattr(SCHEDULERS[name], side)(optimizer, **arguments)
