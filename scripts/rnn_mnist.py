"""Train a recurrent network on MNIST row by row, scratch and torch side by side.

Each image is read as 28 steps of 28 pixels (``scratch.arch.mnist_rnn``: Rows,
a tanh RNN or an LSTM, a linear classifier on the last hidden state). Both
models start from the same weights and take the same clipped SGD step on the
same batches (the batch order and schedule of ``scripts.train``). After every
step the largest relative parameter difference between them is recorded
(lockstep drift); after every epoch both test accuracies; at the end each
model's weights are evaluated in the other implementation.

    python -m scripts.rnn_mnist --cell lstm --epochs 3
    python -m scripts.rnn_mnist --cell rnn --epochs 1 --dtype float64   # drift in float64
    python -m scripts.rnn_mnist --cell rnn --epochs 1 --dtype float64 --resync  # one step's

Threads: this script has no ``--threads`` flag (the shared helper is not on
main yet); set ``OMP_NUM_THREADS`` and ``OPENBLAS_NUM_THREADS`` to choose.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from scratch import arch
from scripts.artifacts import plot_curves, write_json
from scripts.lockstep import parameter_drift
from scripts.train import (
    add_sgd_step_flags,
    batch_order,
    cross_evaluate,
    learning_rate,
    load_data,
    positive_int,
)
from scripts.twins import make_twins, resolve_device


def clip_grad_norm_(grads: list[np.ndarray], max_norm: float) -> float:
    """Scale ``grads`` in place so their joint 2-norm is at most ``max_norm``; returns the
    norm before clipping. torch's ``clip_grad_norm_`` (norm_type 2): every gradient is
    multiplied by ``min(1, max_norm / (total_norm + 1e-6))``.

    A minimal local helper, written before ``scratch.nn.utils.clip_grad_norm_`` (the
    ``optim`` issue) reached main; the README's numbers were measured with it.
    """
    total = float(np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads)))
    coef = min(1.0, max_norm / (total + 1e-6))
    for g in grads:
        g *= g.dtype.type(coef)
    return total


def add_clipping(twins: dict, max_norm: float) -> None:
    """Clip every twin's gradients to ``max_norm`` right before its optimizer steps."""
    for name, twin in twins.items():
        step = twin.opt.step
        if name == "scratch":
            params = twin.model.parameters()

            def clipped(step=step, params=params):
                clip_grad_norm_([p.grad for p in params], max_norm)
                step()
        else:
            params = list(twin.model.parameters())

            def clipped(step=step, params=params):
                torch.nn.utils.clip_grad_norm_(params, max_norm)
                step()
        twin.opt.step = clipped


def fresh_folder(parent: Path, prefix: str) -> Path:
    """``parent/prefix-NNN``, the first that does not exist yet (never overwrites)."""
    parent.mkdir(parents=True, exist_ok=True)
    for i in range(1, 10_000):
        folder = parent / f"{prefix}-{i:03d}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise RuntimeError(f"no free run folder left under {parent}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scripts.rnn_mnist",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--cell", choices=["rnn", "lstm"], default="lstm",
                   help="recurrent layer: tanh RNN or LSTM (default lstm)")
    p.add_argument("--hidden", type=positive_int, default=128,
                   help="hidden units (default 128)")
    p.add_argument("--epochs", type=positive_int, default=3, help="epochs (default 3)")
    p.add_argument("--clip", type=float, default=1.0,
                   help="clip the joint gradient 2-norm to this before each step (default 1.0)")
    add_sgd_step_flags(p, device="cpu")
    p.add_argument("--limit-test", type=positive_int, default=None,
                   help="evaluate on only the first N test images (default: all 10000)")
    p.add_argument("--out-dir", type=Path, default=Path("runs/rnn_mnist"),
                   help="parent of the fresh run folder <cell>-NNN (default runs/rnn_mnist)")
    p.add_argument("--resync", action="store_true",
                   help="copy torch's weights into scratch after every step, so the drift "
                        "recorded is what a single step adds (default off)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def make_clipped_twins(cell, hidden, seed, dtype, device, momentum, l2, clip):
    twins = make_twins(arch.mnist_rnn(cell, hidden), seed, dtype, device, momentum, l2)
    add_clipping(twins, clip)
    return twins


def train(args) -> dict:
    device = resolve_device(args.device)
    torch.manual_seed(args.seed)
    train_x, train_y, test_x, test_y = load_data(args.data_dir, args.dtype, args.limit_train,
                                                 args.limit_test)
    twins = make_clipped_twins(args.cell, args.hidden, args.seed, args.dtype, device,
                               args.momentum, args.l2, args.clip)
    steps_per_epoch = math.ceil(len(train_x) / args.batch_size)
    total = steps_per_epoch * args.epochs
    drift, epochs, step = [], [], 0
    for epoch in range(args.epochs):
        order = batch_order(args.seed, epoch, len(train_x))
        sums = {n: dict(loss=0.0, correct=0, seen=0, seconds=0.0) for n in twins}
        for b in tqdm(range(steps_per_epoch), desc=f"{args.cell} epoch {epoch + 1}",
                      disable=args.no_progress):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            lr = learning_rate(args.schedule, args.lr, step, total)
            losses = {}
            for name, twin in twins.items():
                start = time.perf_counter()
                loss, correct = twin.step(train_x[idx], train_y[idx], lr)
                s = sums[name]
                s["seconds"] += time.perf_counter() - start
                s["loss"] += loss * len(idx)
                s["correct"] += correct
                s["seen"] += len(idx)
                losses[name] = loss
            step += 1
            diff, worst = parameter_drift(twins["scratch"].state_dict(),
                                          twins["torch"].state_dict())
            drift.append(dict(step=step, max_rel_param_diff=diff, worst_param=worst,
                              loss_diff=abs(losses["scratch"] - losses["torch"])))
            if args.resync:
                twins["scratch"].load_state_dict(twins["torch"].state_dict())
        record = dict(epoch=epoch + 1, max_rel_param_diff=drift[-1]["max_rel_param_diff"])
        for name, twin in twins.items():
            s = sums[name]
            record[name] = dict(loss=s["loss"] / s["seen"], train_acc=s["correct"] / s["seen"],
                                test_acc=float((twin.predict(test_x) == test_y).mean()),
                                seconds=s["seconds"])
        epochs.append(record)
        tqdm.write(f"epoch {epoch + 1}: " + "   ".join(
            f"{n}: test acc {record[n]['test_acc']:.2%} ({record[n]['seconds']:.1f} s)"
            for n in twins) + f"   max rel. param diff {record['max_rel_param_diff']:.2e}")
        sys.stdout.flush()
    out = fresh_folder(args.out_dir, f"{args.cell}-{args.dtype}")
    metrics = dict(config={**vars(args), "device": device, "out_dir": str(out),
                           "data_dir": str(args.data_dir) if args.data_dir else None,
                           "architecture": repr(arch.mnist_rnn(args.cell, args.hidden))},
                   epochs=epochs, largest_drift=max(drift, key=lambda d: d["max_rel_param_diff"]),
                   cross_evaluation=cross_evaluate(twins, test_x, test_y),
                   drift=[d for d in drift if d["step"] in (1, 10, 100, 1000, step)
                          or d["step"] % steps_per_epoch == 0])
    write_json(out / "metrics.json", metrics)
    plot_curves(metrics, out / "curves.png")
    print(f"wrote {out / 'metrics.json'} and {out / 'curves.png'}")
    return metrics


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if not (math.isfinite(args.clip) and args.clip > 0):
        build_parser().error(f"--clip must be a positive finite number, got {args.clip}")
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
