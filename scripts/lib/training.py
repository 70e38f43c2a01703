"""The training of both twins side by side: the loop, checkpoints, cross-evaluation and
the record; its command line is :mod:`scripts.train`.

A run is prepared (:func:`prepare`: everything checked and built, nothing created), then
trained into its folder (:func:`train`)."""
from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from scratch import arch as A
from scripts.lib import env, mnist, records, tasks
from scripts.lib.artifacts import save_weights, write_json
from scripts.lib.checkpoint import Checkpoints
from scripts.lib.errors import EXIT_USAGE
from scripts.lib.fit import fitted_twins
from scripts.lib.flags import (
    Parser,
    add_step_flags,
    optimizer_settings,
    positive_int,
    scheduler_settings,
)
from scripts.lib.flags import (
    out_dir as out_dir_flag,
)
from scripts.lib.images import pixels
from scripts.lib.optimizers import SCHEDULES
from scripts.lib.plots import caption, plot_curves, plot_reconstructions
from scripts.lib.schedulers import SCHEDULERS, resolve_arguments
from scripts.lib.settings import TrainSettings
from scripts.lib.twins import (
    NonFiniteError,
    loss_name,
    normalize,
    resolve_device,
    step_order,
)

DESCRIPTION = "Train the scratch CNN and its torch twin on MNIST, side by side."
PROG = "python -m scripts.train"
RUNS_BASE = Path("runs/train")


def build_parser() -> Parser:
    p = Parser(prog=PROG, description=DESCRIPTION)
    p.add_argument("--impl", choices=["scratch", "torch", "both"], default="both",
                   help="which implementation(s) to train (default both)")
    p.add_argument("--epochs", type=positive_int, default=4, help="epochs (default 4)")
    add_step_flags(p)
    p.add_argument("--limit-test", type=positive_int, default=None,
                   help="evaluate on only the first N test images (default: all 10000)")
    p.add_argument("--dry-run", action="store_true",
                   help="run a single batch per epoch, to check the setup quickly")
    p.add_argument("--out-dir", type=out_dir_flag, default=None,
                   help=f"folder for this run's files; it must be new or empty (default: a "
                        f"fresh folder {RUNS_BASE}/<UTC time>, printed at the start)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out-dir from its checkpoint.npz (written after "
                        "every epoch and on Ctrl-C or SIGTERM); the other flags must be the "
                        "ones it was made with. A finished run is left as it is")
    p.add_argument("--from-record", type=Path, default=None, metavar="FILE",
                   help="take every setting from a run's metrics.json (flags given as well "
                        "override it) and run it again into a fresh folder")
    return p


def settings_from_args(args) -> TrainSettings:
    """The run's settings from the parsed flags; ValueError naming a flag that is wrong."""
    opt = optimizer_settings(args)
    values = {**vars(args), **scheduler_settings(args), "lr": opt.pop("lr"),
              "hyperparameters": opt,
              "arch": str(args.arch), "device": resolve_device(args.device)}
    return TrainSettings.from_values(values)


def load_data(data_dir, dtype, limit_train, limit_test):
    """Normalised arrays ``(train_x, train_y, test_x, test_y)``."""
    return load_data_with_root(data_dir, dtype, limit_train, limit_test)[0]


def load_data_with_root(data_dir, dtype, limit_train, limit_test):
    """Normalised arrays ``(train_x, train_y, test_x, test_y)`` and the MNIST root used."""
    root = mnist.raw_folder(data_dir).parent.parent
    data = mnist.load_mnist(root)
    (train_x, train_y), (test_x, test_y) = data["train"], data["test"]
    train_x, train_y = train_x[:limit_train], train_y[:limit_train]
    test_x, test_y = test_x[:limit_test], test_y[:limit_test]
    return (normalize(train_x, dtype), train_y, normalize(test_x, dtype), test_y), root


def learning_rate(schedule: str, base_lr: float, step: int, total_steps: int) -> float:
    return SCHEDULES[schedule](base_lr, step, total_steps)


def batch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The permutation of epoch ``epoch``: a pure function of (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


class TrainingStopped(Exception):
    """Training ended early; ``exit_code`` is what the command line should return."""

    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code


@contextlib.contextmanager
def stop_requests():
    """Turn SIGINT/SIGTERM into a flag the loop checks between steps (then checkpoints)."""
    received = []
    handler = lambda signum, frame: received.append(signum)  # noqa: E731
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def fresh_progress(names, score_key: str = "correct") -> dict:
    return dict(epoch=0, batch=0, step=0, epochs=[], totals=fresh_totals(names, score_key),
                step_loss={name: [] for name in names})


def fresh_totals(names, score_key: str = "correct"):
    """Each twin's running sums of the epoch; ``score_key``: its task's score (correct
    predictions, or the reconstruction's squared error)."""
    return {name: {"loss": 0.0, score_key: 0, "seen": 0, "seconds": 0.0} for name in names}


def task_of(twins: dict):
    """The task the twins share (:mod:`scripts.lib.tasks`)."""
    return next(iter(twins.values())).task


# ------------------------------------------------------------------------------- the loop

def attach_schedulers(twins: dict, scheduler: str, scheduler_args: str,
                      interval: str | None, steps: int, epochs: int) -> None:
    """Give each twin its own ``scheduler`` (a key of SCHEDULERS; "none": nothing) built with
    ``scheduler_args``, the run's length (``steps`` or ``epochs``, as ``interval`` steps it)
    filling T_max/total_iters/total_steps when not given."""
    if scheduler == "none":
        return
    arguments = resolve_arguments(scheduler, scheduler_args,
                                  steps if interval == "step" else epochs)
    for twin in twins.values():
        twin.attach_scheduler(scheduler, arguments)


def train_epochs(twins: dict, data: tuple, progress: dict, checkpoints: Checkpoints, *,
                 epochs: int, batch_size: int, seed: int, schedule: str, lr: float,
                 dry_run: bool, show_progress: bool, scheduler_interval: str | None = None
                 ) -> None:
    """Train from ``progress`` (updated in place) to the end of epoch ``epochs``, writing a
    checkpoint after every epoch and when SIGINT/SIGTERM arrives (then TrainingStopped).

    With schedulers attached (:func:`attach_schedulers`), each twin's scheduler sets its
    lr, stepped after each step or each epoch (``scheduler_interval``)."""
    train_x, train_y, test_x, test_y = data
    steps_per_epoch = 1 if dry_run else math.ceil(len(train_x) / batch_size)
    total_steps = steps_per_epoch * epochs
    scheduled = scheduler_interval is not None and any(t.scheduler for t in twins.values())
    order = step_order(twins)
    task = task_of(twins)
    with stop_requests() as signals:
        for epoch in range(progress["epoch"], epochs):
            batches = batch_order(seed, epoch, len(train_x))
            totals = progress["totals"]
            bar = tqdm(range(progress["batch"], steps_per_epoch), initial=progress["batch"],
                       total=steps_per_epoch, desc=f"epoch {epoch + 1}/{epochs}",
                       disable=None if show_progress else True)
            for b in bar:
                idx = batches[b * batch_size:(b + 1) * batch_size]
                step_lr = (None if scheduled
                           else learning_rate(schedule, lr, progress["step"], total_steps))
                for name in order:
                    twin = twins[name]
                    loss, score, seconds = _timed_step(twin, name, train_x[idx], train_y[idx],
                                                       step_lr, progress, checkpoints)
                    if scheduled and scheduler_interval == "step":
                        twin.scheduler_step()
                    t = totals[name]
                    t["seconds"] += seconds
                    t["loss"] += loss * len(idx)
                    t[task.score_key] += score
                    t["seen"] += len(idx)
                    if twin.last_grad_norm is not None:   # clipping: the norm before it
                        t["grad_norm_sum"] = t.get("grad_norm_sum", 0.0) + twin.last_grad_norm
                        t["grad_norm_max"] = max(t.get("grad_norm_max", 0.0),
                                                 twin.last_grad_norm)
                        t["clipped"] = t.get("clipped", 0) + (twin.last_grad_norm
                                                              > twin.clip[0])
                        t["steps"] = t.get("steps", 0) + 1
                    progress["step_loss"][name].append(loss)
                progress["step"] += 1
                bar.set_postfix({f"{n} loss": f"{t['loss'] / t['seen']:.4f}"
                                 for n, t in totals.items()})
                if signals:
                    bar.close()
                    checkpoints.save(progress, twins, epoch=epoch, batch=b + 1)
                    name = signal.Signals(signals[0]).name
                    raise TrainingStopped(
                        f"{name} received: stopped at step {progress['step']} (epoch "
                        f"{epoch + 1}, batch {b + 1}) and wrote {checkpoints.path}; continue "
                        f"with --resume --out-dir {checkpoints.path.parent} and the same "
                        f"flags", 128 + signals[0])
            bar.close()
            record = dict(epoch=epoch + 1, lr_end=learning_rate(schedule, lr, progress["step"],
                                                                total_steps))
            for name in order:
                twin, t = twins[name], totals[name]
                record[name] = dict(loss=t["loss"] / t["seen"],
                                    **task.epoch_metrics(twin, t, test_x, test_y),
                                    seconds=t["seconds"])
                if "steps" in t:
                    record[name].update(grad_norm_mean=t["grad_norm_sum"] / t["steps"],
                                        grad_norm_max=t["grad_norm_max"],
                                        clipped_steps=t["clipped"])
                if scheduled:
                    metric = None
                    if SCHEDULERS[twin.scheduler_name].needs_metric:
                        metric = record[name]["test_loss"] = twin.evaluate(test_x, test_y)
                    if scheduler_interval == "epoch":
                        twin.scheduler_step(metric)
                    record[name]["lr_end"] = record["lr_end"] = twin.current_lr()
            progress["epochs"].append(record)
            checkpoints.save(progress, twins, epoch=epoch + 1, batch=0,
                             totals=fresh_totals(twins, task.score_key))
            summary = "   ".join(f"{n}: {task.epoch_line(record[n])} "
                                 f"({record[n]['seconds']:.1f} s)" for n in twins)
            tqdm.write(f"epoch {epoch + 1}: {summary}")
            sys.stdout.flush()  # a line per epoch, even when stdout is a pipe


def _timed_step(twin, name, x, y, lr, progress, checkpoints):
    start = time.perf_counter()
    try:
        loss, score = twin.step(x, y, lr)
    except NonFiniteError as err:
        kept = (f"the last good checkpoint is kept at {checkpoints.path}"
                if checkpoints.path.exists() else "no checkpoint was written yet")
        raise TrainingStopped(
            f"training stopped at step {progress['step'] + 1}: in {name}, {err}; {name}'s "
            f"weights were not updated by this step; {kept}. Try a lower --lr",
            EXIT_USAGE) from None
    twin.sync()
    return loss, score, time.perf_counter() - start


def cross_evaluate(twins, test_x, test_y) -> dict:
    """Each trained model's weights, loaded into the other implementation, must give the
    same test-set predictions; reports what the task compares (classification: the
    agreement rate and both accuracies; reconstruction: the largest pixel difference and
    both errors)."""
    states = {name: twin.state_dict() for name, twin in twins.items()}
    task = task_of(twins)
    report = {}
    for source, target in (("torch", "scratch"), ("scratch", "torch")):
        own = twins[source].predict(test_x)
        original = states[target]
        twins[target].load_state_dict(states[source])
        other = twins[target].predict(test_x)
        twins[target].load_state_dict(original)
        report[f"{source}_weights_in_{target}"] = task.cross(own, other, test_x, test_y)
    return report


# ------------------------------------------------------------------------------- a run

@dataclasses.dataclass
class Prepared:
    """A run checked and built, before any file is written: the architecture, the data,
    the twins (schedulers attached) and the environment record."""
    settings: TrainSettings
    architecture: A.Architecture
    data: tuple
    root: Path
    twins: dict
    environment: dict


def prepare(settings: TrainSettings, *, data_dir: Path | None = None,
            architecture: A.Architecture | None = None) -> Prepared:
    """Everything a run needs, checked before anything is created: threads applied,
    architecture resolved and fitted to the data (input shape, class count, one batch
    forward on each side), data loaded, twins built. Raises a UsageError subclass
    (ArchitectureMismatch...), MNISTError or ArchitectureFileError on a misfit."""
    env.apply_threads(settings.threads)
    environment = env.record(resolve_device(settings.device))
    architecture = architecture or A.resolve(settings.arch)
    import torch
    torch.manual_seed(settings.seed)
    impls = settings.impls
    data, root = load_data_with_root(data_dir, settings.dtype, settings.limit_train,
                                     settings.limit_test)
    twins = fitted_twins(architecture, settings, environment["device"], impls, data)
    steps_per_epoch = 1 if settings.dry_run else math.ceil(len(data[0])
                                                              / settings.batch_size)
    attach_schedulers(twins, settings.scheduler, settings.scheduler_args,
                      settings.scheduler_interval, steps_per_epoch * settings.epochs,
                      settings.epochs)
    return Prepared(settings, architecture, data, root, twins, environment)


def train(settings: TrainSettings, out_dir: Path, *, data_dir: Path | None = None,
          resume: bool = False, architecture: A.Architecture | None = None,
          show_progress: bool = True, prepared: Prepared | None = None,
          started: float | None = None) -> dict:
    """Run (or resume) a whole training into ``out_dir``; returns the record also written
    as ``out_dir/metrics.json``. ``architecture`` overrides ``settings.arch``;
    ``prepared`` (from :func:`prepare`) skips the preparation; ``started`` is the
    ``time.time()`` the wall time counts from (default: now).

    Raises :class:`TrainingStopped` when interrupted (after writing a checkpoint) or when
    a loss or gradient is not finite (the last good checkpoint is left as it was).
    """
    started = time.time() if started is None else started
    run = prepared or prepare(settings, data_dir=data_dir, architecture=architecture)
    twins, data = run.twins, run.data
    checkpoints = Checkpoints(Path(out_dir) / "checkpoint.npz", settings.as_dict())
    progress = (checkpoints.restore(twins) if resume
                else fresh_progress(twins, task_of(twins).score_key))
    train_epochs(twins, data, progress, checkpoints, epochs=settings.epochs,
                 batch_size=settings.batch_size, seed=settings.seed,
                 schedule=settings.schedule, lr=settings.lr, dry_run=settings.dry_run,
                 show_progress=show_progress,
                 scheduler_interval=settings.scheduler_interval)
    cross = cross_evaluate(twins, data[2], data[3]) if len(twins) == 2 else None
    environment = dict(run.environment, wall_seconds=time.time() - started)
    record = make_record(settings, run.architecture, run.root, data, progress, cross,
                         environment)
    save_run(Path(out_dir), record, twins, data)
    return record


def make_record(settings: TrainSettings, architecture, root, data, progress, cross,
                environment) -> dict:
    steps_per_epoch = 1 if settings.dry_run else math.ceil(len(data[0])
                                                              / settings.batch_size)
    record = dict(
        settings=settings.as_dict(),
        command=records.command(PROG, settings.as_dict()),
        architecture=A.to_dict(architecture),
        loss=loss_name(architecture),
        data=dict(data_dir=str(Path(root).resolve()), train_examples=len(data[0]),
                  test_examples=len(data[2])),
        environment=environment,
        steps_per_epoch=steps_per_epoch,
        epochs=progress["epochs"],
        step_loss=progress["step_loss"],
        caption=caption(settings.as_dict(), train_images=len(data[0]), test_images=len(data[2])),
        definitions={**records.TRAIN_DEFINITIONS, **tasks.for_architecture(architecture)
                     .definitions},
    )
    if cross is not None:
        record["cross_evaluation"] = cross
    return record


def save_run(out_dir: Path, record: dict, twins: dict, data: tuple | None = None) -> None:
    """The record, each twin's weights and the curves; for a reconstruction (``data``
    given), also ``samples.png``: test images and their reconstruction by each twin."""
    write_json(out_dir / "metrics.json", record)
    for name, twin in twins.items():
        save_weights(out_dir, name, twin)
    plot_curves(record, out_dir / "curves.png")
    shown = task_of(twins).sample_images
    if data is not None and shown:
        images = data[2][:shown]
        plot_reconstructions(pixels(images), {name: twin.predict(images)
                                              for name, twin in twins.items()},
                             record["caption"], out_dir / "samples.png")


# ------------------------------------------------------------------------------- command line

def parse(argv=None):
    """``(args, settings, architecture or None)``; exits with status 2 on a bad flag."""
    parser = build_parser()
    args, architecture = records.parse_args(parser, argv)
    try:
        settings = settings_from_args(args)
    except ValueError as err:
        parser.error(str(err))
    return args, settings, architecture


def checkpoint_state(out_dir) -> str:
    """What a failed write left: the last checkpoint intact, or none written yet."""
    path = Path(out_dir or ".") / "checkpoint.npz"
    if out_dir is not None and path.is_file():
        return (f"the previous checkpoint {path} is intact: make room (or make the folder "
                f"writable) and continue with --resume --out-dir {out_dir} and the same flags")
    return "no checkpoint had been written yet; make room and start the run again"
