"""Train the scratch CNN and its torch twin on MNIST, side by side.

Both start from the same weights and see the same batches in the same order
(one permutation per epoch from ``--seed``), so their curves are directly
comparable. At the end, each model's weights are also cross-evaluated in the
other implementation.

    python -m scripts.train                      # both, default settings
    python -m scripts.train --impl scratch --epochs 1 --limit-train 5000
"""
from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from scratch import arch
from scratch.optim import cosine_lr
from scripts import mnist
from scripts.artifacts import plot_curves, save_weights, write_json
from scripts.checkpoint import (
    CheckpointError,
    check_same_settings,
    load_checkpoint,
    save_checkpoint,
)
from scripts.twins import NonFiniteError, make_twins, normalize, resolve_device


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def device_flag(text):
    """auto, cpu or cuda; cuda only where torch sees a GPU (checked while parsing)."""
    if text not in ("auto", "cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"must be auto, cpu or cuda, got {text!r}")
    try:
        resolve_device(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def non_negative_float(text):
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def add_step_flags(p: argparse.ArgumentParser, dtype="float32", device="auto") -> None:
    """The flags that define one training step and its data, shared with scripts.lockstep."""
    p.add_argument("--batch-size", type=positive_int, default=64,
                   help="training batch size (default 64)")
    p.add_argument("--lr", type=non_negative_float, default=0.05,
                   help="peak learning rate (default 0.05)")
    p.add_argument("--momentum", type=non_negative_float, default=0.9,
                   help="SGD momentum (default 0.9)")
    p.add_argument("--l2", type=non_negative_float, default=1e-4,
                   help="L2 strength: adds 0.5*l2*sum(w**2) over weights (default 1e-4)")
    p.add_argument("--schedule", choices=["cosine", "constant"], default="cosine",
                   help="learning-rate schedule over all steps (default cosine)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed for the initial weights and the batch order (default 0)")
    p.add_argument("--device", type=device_flag, default=device,
                   help=f"auto, cpu or cuda: device of the torch side; scratch always runs "
                        f"on the CPU (default {device}; auto: cuda when available)")
    p.add_argument("--dtype", choices=["float32", "float64"], default=dtype,
                   help=f"floating type of both models (default {dtype})")
    p.add_argument("--limit-train", type=positive_int, default=None,
                   help="use only the first N training images (default: all 60000)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="MNIST root (default $CNN_PARITY_DATA or the user cache directory)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scripts.train",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--impl", choices=["scratch", "torch", "both"], default="both",
                   help="which implementation(s) to train (default both)")
    p.add_argument("--epochs", type=positive_int, default=4, help="epochs (default 4)")
    add_step_flags(p)
    p.add_argument("--limit-test", type=positive_int, default=None,
                   help="evaluate on only the first N test images (default: all 10000)")
    p.add_argument("--out-dir", type=Path, default=Path("runs/train"),
                   help="where metrics.json, curves.png and weights go (default runs/train)")
    p.add_argument("--dry-run", action="store_true",
                   help="run a single batch per epoch, to check the setup quickly")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT_DIR/checkpoint.npz (written after every epoch and "
                        "on Ctrl-C or SIGTERM); the other flags must be the ones it was made with")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return p


def load_data(data_dir, dtype, limit_train, limit_test):
    data = mnist.load_mnist(data_dir)
    (train_x, train_y), (test_x, test_y) = data["train"], data["test"]
    train_x, train_y = train_x[:limit_train], train_y[:limit_train]
    test_x, test_y = test_x[:limit_test], test_y[:limit_test]
    return normalize(train_x, dtype), train_y, normalize(test_x, dtype), test_y


def learning_rate(schedule, base_lr, step, total_steps):
    return cosine_lr(base_lr, step, total_steps) if schedule == "cosine" else base_lr


def batch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The permutation of epoch ``epoch``: a pure function of (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


RESUME_SETTINGS = ("impl", "epochs", "batch_size", "lr", "momentum", "l2", "schedule", "seed",
                   "dtype", "limit_train", "limit_test", "dry_run")


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


def refuse_to_overwrite_unfinished(checkpoint: Path) -> None:
    """A fresh run would overwrite the checkpoint of an unfinished one: refuse."""
    meta, _ = load_checkpoint(checkpoint)
    done, planned = meta["progress"]["epoch"], meta["settings"]["epochs"]
    if done < planned:
        raise CheckpointError(
            f"{checkpoint} holds an unfinished run ({done} of {planned} epochs); continue it "
            f"with --resume, or choose another --out-dir (or delete the file) to start afresh")


def fresh_totals(names):
    return {name: dict(loss=0.0, correct=0, seen=0, seconds=0.0) for name in names}


def train(args) -> dict:
    """Run (or resume) the whole training; returns the metrics also written to disk.

    Raises :class:`TrainingStopped` when interrupted (after writing a checkpoint) or when
    a loss or gradient is not finite (the last good checkpoint is left as it was).
    """
    device = resolve_device(args.device)
    torch.manual_seed(args.seed)
    impls = ("scratch", "torch") if args.impl == "both" else (args.impl,)
    train_x, train_y, test_x, test_y = load_data(args.data_dir, args.dtype, args.limit_train,
                                                 args.limit_test)
    twins = make_twins(arch.mnist_cnn(), args.seed, args.dtype, device, args.momentum, args.l2,
                       impls)
    steps_per_epoch = 1 if args.dry_run else math.ceil(len(train_x) / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    checkpoint = args.out_dir / "checkpoint.npz"
    settings = {k: getattr(args, k) for k in RESUME_SETTINGS}
    progress = dict(epoch=0, batch=0, step=0, epochs=[], totals=fresh_totals(twins))
    if not args.resume and checkpoint.exists():
        refuse_to_overwrite_unfinished(checkpoint)
    if args.resume:
        meta, states = load_checkpoint(checkpoint)
        check_same_settings(meta["settings"], settings, checkpoint)
        try:
            for name, twin in twins.items():
                twin.load_state_dict(states[name]["model"])
                twin.load_optimizer_state(states[name]["optim"])
            torch.set_rng_state(torch.from_numpy(states["torch_rng"]))
        except (KeyError, ValueError, RuntimeError) as err:
            raise CheckpointError(f"checkpoint {checkpoint} does not fit this model "
                                  f"({type(err).__name__}: {err}); delete it to start "
                                  f"afresh") from None
        progress = meta["progress"]
        tqdm.write(f"resuming from {checkpoint}: epoch {progress['epoch'] + 1}, "
                   f"batch {progress['batch']} (step {progress['step']})")
    metrics = dict(config={**vars(args), "device": device, "out_dir": str(args.out_dir),
                           "data_dir": str(args.data_dir) if args.data_dir else None,
                           "train_examples": len(train_x), "test_examples": len(test_x)},
                   epochs=progress["epochs"])

    def save(**position):
        progress.update(position)
        save_checkpoint(checkpoint, dict(settings=settings, progress=progress), twins)

    with stop_requests() as signals:
        for epoch in range(progress["epoch"], args.epochs):
            order = batch_order(args.seed, epoch, len(train_x))
            totals = progress["totals"]
            bar = tqdm(range(progress["batch"], steps_per_epoch), initial=progress["batch"],
                       total=steps_per_epoch, desc=f"epoch {epoch + 1}/{args.epochs}",
                       disable=args.no_progress)
            for b in bar:
                idx = order[b * args.batch_size:(b + 1) * args.batch_size]
                lr = learning_rate(args.schedule, args.lr, progress["step"], total_steps)
                for name, twin in twins.items():
                    start = time.perf_counter()
                    try:
                        loss, correct = twin.step(train_x[idx], train_y[idx], lr)
                    except NonFiniteError as err:
                        kept = (f"the last good checkpoint is kept at {checkpoint}"
                                if checkpoint.exists() else "no checkpoint was written yet")
                        raise TrainingStopped(
                            f"training stopped at step {progress['step'] + 1} (epoch "
                            f"{epoch + 1}, batch {b + 1}): in {name}, {err}; {name}'s weights "
                            f"were not updated by this step; {kept}. Try a lower --lr",
                            1) from None
                    twin.sync()
                    t = totals[name]
                    t["seconds"] += time.perf_counter() - start
                    t["loss"] += loss * len(idx)
                    t["correct"] += correct
                    t["seen"] += len(idx)
                progress["step"] += 1
                bar.set_postfix({f"{n} loss": f"{t['loss'] / t['seen']:.4f}"
                                 for n, t in totals.items()})
                if signals:
                    bar.close()
                    save(epoch=epoch, batch=b + 1)
                    name = signal.Signals(signals[0]).name
                    raise TrainingStopped(
                        f"{name} received: stopped at step {progress['step']} (epoch "
                        f"{epoch + 1}, batch {b + 1}) and wrote {checkpoint}; continue with "
                        f"the same flags plus --resume", 128 + signals[0])
            bar.close()
            record = dict(epoch=epoch + 1, lr_end=learning_rate(args.schedule, args.lr,
                                                                progress["step"], total_steps))
            for name, twin in twins.items():
                t = totals[name]
                record[name] = dict(loss=t["loss"] / t["seen"],
                                    train_acc=t["correct"] / t["seen"],
                                    test_acc=float((twin.predict(test_x) == test_y).mean()),
                                    seconds=t["seconds"])
            metrics["epochs"].append(record)
            save(epoch=epoch + 1, batch=0, totals=fresh_totals(twins))
            summary = "   ".join(f"{n}: test acc {record[n]['test_acc']:.2%} "
                                 f"({record[n]['seconds']:.1f} s)" for n in twins)
            tqdm.write(f"epoch {epoch + 1}: {summary}")
            sys.stdout.flush()  # a line per epoch, even when stdout is a pipe

    if len(twins) == 2:
        metrics["cross_evaluation"] = cross_evaluate(twins, test_x, test_y)
    save_run(args.out_dir, metrics, twins)
    return metrics


def cross_evaluate(twins, test_x, test_y) -> dict:
    """Each trained model's weights, loaded into the other implementation, must give the
    same test-set predictions; reports the agreement rate and both accuracies."""
    states = {name: twin.state_dict() for name, twin in twins.items()}
    report = {}
    for source, target in (("torch", "scratch"), ("scratch", "torch")):
        own = twins[source].predict(test_x)
        original = states[target]
        twins[target].load_state_dict(states[source])
        other = twins[target].predict(test_x)
        twins[target].load_state_dict(original)
        report[f"{source}_weights_in_{target}"] = dict(
            agreement=float((own == other).mean()), disagreements=int((own != other).sum()),
            accuracy_in_source=float((own == test_y).mean()),
            accuracy_in_target=float((other == test_y).mean()))
    return report


def save_run(out_dir: Path, metrics: dict, twins: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "metrics.json", metrics)
    for name, twin in twins.items():
        save_weights(out_dir, name, twin)
    plot_curves(metrics, out_dir / "curves.png")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        metrics = train(args)
    except TrainingStopped as err:
        print(f"{parser.prog}: {err}", file=sys.stderr)
        return err.exit_code
    except (CheckpointError, mnist.MNISTError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    last = metrics["epochs"][-1]
    for name in ("scratch", "torch"):
        if name in last:
            print(f"{name:8} final test accuracy {last[name]['test_acc']:.2%}, "
                  f"training time {sum(e[name]['seconds'] for e in metrics['epochs']):.1f} s")
    for key, value in metrics.get("cross_evaluation", {}).items():
        print(f"{key}: predictions agree on {value['agreement']:.2%} of the test set")
    print(f"wrote {args.out_dir}/metrics.json, curves.png and weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
