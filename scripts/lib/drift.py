"""Both twins stepped in lockstep and their drift recorded after every step; its command
line is :mod:`scripts.lockstep`."""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from scratch import arch as A
from scripts.lib import env, records
from scripts.lib.artifacts import write_json
from scripts.lib.fit import fitted_twins
from scripts.lib.flags import (
    Parser,
    add_step_flags,
    optimizer_settings,
    positive_int,
    scheduler_settings,
)
from scripts.lib.flags import out_dir as out_dir_flag
from scripts.lib.plots import caption, plot_drift
from scripts.lib.schedulers import SCHEDULERS
from scripts.lib.settings import LockstepSettings
from scripts.lib.training import (
    attach_schedulers,
    batch_order,
    learning_rate,
    load_data_with_root,
)
from scripts.lib.twins import loss_name, resolve_device

DESCRIPTION = "Step the scratch and torch models in lockstep and record how far they drift apart."
PROG = "python -m scripts.lockstep"
RUNS_BASE = Path("runs/lockstep")


def build_parser() -> Parser:
    p = Parser(prog=PROG, description=DESCRIPTION)
    p.add_argument("--steps", type=positive_int, default=None,
                   help="steps to take (default: one epoch of the training set)")
    add_step_flags(p, dtype="float64", device_default="cpu")
    p.add_argument("--resync", action="store_true",
                   help="copy torch's weights into scratch after every step (each side "
                        "keeps its optimizer state), so each recorded difference is what "
                        "one step adds, not rounding amplified over many (default off)")
    p.add_argument("--out-dir", type=out_dir_flag, default=None,
                   help=f"folder for lockstep.json and drift.png; it must be new or empty "
                        f"(default: a fresh folder {RUNS_BASE}/<UTC time>, printed)")
    p.add_argument("--from-record", type=Path, default=None, metavar="FILE",
                   help="take every setting from a lockstep.json (flags given as well "
                        "override it) and run it again into a fresh folder")
    return p


def parameter_drift(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> tuple[float, str]:
    """Largest ``max|a - b| / max|b|`` over the floating entries, and its name."""
    worst, worst_name = 0.0, ""
    for name, ref in b.items():
        if ref.dtype.kind != "f":
            continue
        scale = float(np.abs(ref).max()) or 1.0
        diff = float(np.abs(a[name].astype(np.float64) - ref).max()) / scale
        if diff > worst or not worst_name:
            worst, worst_name = diff, name
    return worst, worst_name


def run_lockstep(twins: dict, train_x, train_y, *, steps: int | None, batch_size: int,
                 seed: int, schedule: str, lr: float, show_progress: bool,
                 resync: bool = False, scheduler_interval: str | None = None) -> list[dict]:
    """Step both twins on the same batches (torch first: it draws the dropout masks);
    one record per step (``resync``: then copy torch's weights into scratch). With
    schedulers attached, each steps its own after every step or at the end of every epoch
    (``plateau`` on the twin's mean training loss of the epoch)."""
    scratch, torch_twin = twins["scratch"], twins["torch"]
    steps_per_epoch = math.ceil(len(train_x) / batch_size)
    total = steps or steps_per_epoch
    scheduled = scheduler_interval is not None and scratch.scheduler is not None
    epoch_losses = {"scratch": [], "torch": []}
    rows = []
    for step in tqdm(range(total), disable=None if show_progress else True, desc="lockstep"):
        epoch, b = divmod(step, steps_per_epoch)
        idx = batch_order(seed, epoch, len(train_x))[b * batch_size:(b + 1) * batch_size]
        step_lr = None if scheduled else learning_rate(schedule, lr, step, total)
        t_loss, _ = torch_twin.step(train_x[idx], train_y[idx], step_lr)
        s_loss, _ = scratch.step(train_x[idx], train_y[idx], step_lr)
        row_lr = {"scratch": scratch.current_lr(), "torch": torch_twin.current_lr()}
        if scheduled:
            epoch_losses["scratch"].append(s_loss)
            epoch_losses["torch"].append(t_loss)
            if scheduler_interval == "step" or b == steps_per_epoch - 1:
                plateau = SCHEDULERS[scratch.scheduler_name].needs_metric
                for name, twin in (("scratch", scratch), ("torch", torch_twin)):
                    twin.scheduler_step(float(np.mean(epoch_losses[name])) if plateau
                                        else None)
                if b == steps_per_epoch - 1:
                    epoch_losses = {"scratch": [], "torch": []}
        drift, name = parameter_drift(scratch.state_dict(), torch_twin.state_dict())
        rows.append(dict(step=step + 1, scratch_loss=s_loss, torch_loss=t_loss,
                         max_rel_param_diff=drift, worst_param=name,
                         scratch_lr=row_lr["scratch"], torch_lr=row_lr["torch"]))
        if scratch.last_grad_norm is not None:
            rows[-1].update(scratch_grad_norm=scratch.last_grad_norm,
                            torch_grad_norm=torch_twin.last_grad_norm)
        if resync:
            scratch.load_state_dict(torch_twin.state_dict())
    return rows


def grad_norm_summary(rows: list[dict]) -> dict:
    """With clipping: mean and largest total gradient norm per side, and the steps clipped."""
    if "scratch_grad_norm" not in rows[0]:
        return {}
    out = {}
    for side in ("scratch", "torch"):
        norms = [r[f"{side}_grad_norm"] for r in rows]
        out[f"{side}_grad_norm_mean"] = sum(norms) / len(norms)
        out[f"{side}_grad_norm_max"] = max(norms)
    return out


def prepare(settings: LockstepSettings, *, data_dir: Path | None = None,
            architecture: A.Architecture | None = None) -> dict:
    """Threads, architecture, data and both twins, checked before anything is created
    (an architecture that does not fit the data: ArchitectureMismatch)."""
    env.apply_threads(settings.threads)
    environment = env.record(resolve_device(settings.device))
    architecture = architecture or A.resolve(settings.arch)
    (train_x, train_y, _, _), root = load_data_with_root(data_dir, settings.dtype,
                                                         settings.limit_train, 1)
    twins = fitted_twins(architecture, settings, environment["device"],
                         ("scratch", "torch"), (train_x, train_y))
    steps_per_epoch = math.ceil(len(train_x) / settings.batch_size)
    total = settings.steps or steps_per_epoch
    attach_schedulers(twins, settings.scheduler, settings.scheduler_args,
                      settings.scheduler_interval, total, math.ceil(total / steps_per_epoch))
    return dict(environment=environment, architecture=architecture, root=root,
                train_x=train_x, train_y=train_y, twins=twins)


def lockstep(settings: LockstepSettings, out_dir: Path, *, data_dir: Path | None = None,
             architecture: A.Architecture | None = None, show_progress: bool = True,
             prepared: dict | None = None, started: float | None = None) -> dict:
    """Run the lockstep comparison into ``out_dir``; returns the record also written.
    ``prepared`` (from :func:`prepare`) skips the preparation; ``started`` is the
    ``time.time()`` the wall time counts from (default: now)."""
    started = time.time() if started is None else started
    run = prepared or prepare(settings, data_dir=data_dir, architecture=architecture)
    environment, architecture, root = run["environment"], run["architecture"], run["root"]
    train_x, train_y, twins = run["train_x"], run["train_y"], run["twins"]
    rows = run_lockstep(twins, train_x, train_y, steps=settings.steps,
                        batch_size=settings.batch_size, seed=settings.seed,
                        schedule=settings.schedule, lr=settings.lr,
                        show_progress=show_progress, resync=settings.resync,
                        scheduler_interval=settings.scheduler_interval)
    environment = dict(environment, wall_seconds=time.time() - started)
    record = dict(
        settings=settings.as_dict(), command=records.command(PROG, settings.as_dict()),
        architecture=A.to_dict(architecture), loss=loss_name(architecture),
        data=dict(data_dir=str(Path(root).resolve()), train_examples=len(train_x)),
        environment=environment,
        summary=dict(steps=len(rows), final_max_rel_param_diff=rows[-1]["max_rel_param_diff"],
                     final_worst_param=rows[-1]["worst_param"],
                     largest_max_rel_param_diff=max(r["max_rel_param_diff"] for r in rows),
                     max_abs_loss_diff=max(abs(r["scratch_loss"] - r["torch_loss"])
                                           for r in rows), **grad_norm_summary(rows)),
        steps=rows, caption=caption(settings.as_dict(), f"{len(rows)} steps",
                                                  train_images=len(train_x)),
        definitions={**records.LOCKSTEP_DEFINITIONS,
                     **twins["scratch"].task.lockstep_definitions})
    write_json(Path(out_dir) / "lockstep.json", record)
    plot_drift(record, Path(out_dir) / "drift.png")
    return record


def parse(argv=None):
    parser = build_parser()
    args, architecture = records.parse_args(parser, argv)
    try:
        opt = optimizer_settings(args)
    except ValueError as err:
        parser.error(str(err))
    try:
        sched = scheduler_settings(args)
    except ValueError as err:
        parser.error(str(err))
    values = {**vars(args), **sched, "lr": opt.pop("lr"), "hyperparameters": opt,
              "arch": str(args.arch),
              "device": resolve_device(args.device)}
    return args, LockstepSettings.from_values(values), architecture
