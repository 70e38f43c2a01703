"""Step the scratch and torch models in lockstep and record how far they drift apart.

Both start from the same weights and take the same SGD step on the same batch.
After every step this records both losses and the largest relative difference
between corresponding parameters, ``max_p max|scratch_p - torch_p| / max|torch_p|``,
writes them to ``lockstep.json`` and plots the drift to ``drift.png``.

    python -m scripts.lockstep --dtype float64        # one epoch, CPU
    python -m scripts.lockstep --dtype float32 --steps 200
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from scratch import arch
from scripts.artifacts import atomic_path, write_json
from scripts.train import add_step_flags, batch_order, learning_rate, load_data, positive_int
from scripts.twins import make_twins, resolve_device


def build_parser():
    p = argparse.ArgumentParser(prog="python -m scripts.lockstep",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=positive_int, default=None,
                   help="steps to take (default: one epoch of the training set)")
    add_step_flags(p, dtype="float64", device="cpu")
    p.add_argument("--out-dir", type=Path, default=Path("runs/lockstep"),
                   help="where lockstep.json and drift.png go (default runs/lockstep)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def parameter_drift(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> tuple[float, str]:
    """Largest ``max|a - b| / max|b|`` over the floating entries, and its name."""
    worst, worst_name = 0.0, ""
    for name, ref in b.items():
        if ref.dtype.kind != "f":
            continue
        scale = float(np.abs(ref).max()) or 1.0
        diff = float(np.abs(a[name].astype(np.float64) - ref).max()) / scale
        if diff > worst:
            worst, worst_name = diff, name
    return worst, worst_name


def lockstep(args) -> dict:
    device = resolve_device(args.device)
    train_x, train_y, _, _ = load_data(args.data_dir, args.dtype, args.limit_train, 1)
    twins = make_twins(arch.mnist_cnn(), args.seed, args.dtype, device, args.momentum, args.l2)
    scratch, torch_twin = twins["scratch"], twins["torch"]
    steps_per_epoch = math.ceil(len(train_x) / args.batch_size)
    total = args.steps or steps_per_epoch
    records = []
    for step in tqdm(range(total), disable=args.no_progress, desc=f"lockstep {args.dtype}"):
        epoch, b = divmod(step, steps_per_epoch)
        idx = batch_order(args.seed, epoch, len(train_x))[b * args.batch_size:
                                                         (b + 1) * args.batch_size]
        lr = learning_rate(args.schedule, args.lr, step, total)
        s_loss, _ = scratch.step(train_x[idx], train_y[idx], lr)
        t_loss, _ = torch_twin.step(train_x[idx], train_y[idx], lr)
        drift, name = parameter_drift(scratch.state_dict(), torch_twin.state_dict())
        records.append(dict(step=step + 1, scratch_loss=s_loss, torch_loss=t_loss,
                            max_rel_param_diff=drift, worst_param=name))
    result = dict(config={**vars(args), "device": device, "out_dir": str(args.out_dir),
                          "data_dir": str(args.data_dir) if args.data_dir else None},
                  summary=dict(steps=total,
                               final_max_rel_param_diff=records[-1]["max_rel_param_diff"],
                               final_worst_param=records[-1]["worst_param"],
                               max_abs_loss_diff=max(abs(r["scratch_loss"] - r["torch_loss"])
                                                     for r in records)),
                  steps=records)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_json(args.out_dir / "lockstep.json", result)
    plot_drift(records, args.dtype, args.out_dir / "drift.png")
    return result


def plot_drift(records, dtype, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    steps = [r["step"] for r in records]
    fig, (ax_p, ax_l) = plt.subplots(1, 2, figsize=(10, 4))
    ax_p.semilogy(steps, [max(r["max_rel_param_diff"], 1e-300) for r in records])
    ax_p.set(xlabel="step", ylabel="max relative parameter difference",
             title=f"scratch vs torch drift ({dtype})")
    ax_l.semilogy(steps, [max(abs(r["scratch_loss"] - r["torch_loss"]), 1e-300)
                          for r in records])
    ax_l.set(xlabel="step", ylabel="|loss scratch - loss torch|", title="loss difference")
    for ax in (ax_p, ax_l):
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    s = lockstep(args)["summary"]
    print(f"after {s['steps']} steps ({args.dtype}): max relative parameter difference "
          f"{s['final_max_rel_param_diff']:.3e} ({s['final_worst_param']}), "
          f"largest loss difference {s['max_abs_loss_diff']:.3e}")
    print(f"wrote {args.out_dir}/lockstep.json and drift.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
