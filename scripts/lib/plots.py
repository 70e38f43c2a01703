"""Plots of a training run (``curves.png``) and of a lockstep run (``drift.png``).

Made to be read correctly at any run length and for any value: losses per step
(so a one-epoch or few-step run is a curve, not a dot), epochs on whole-number
ticks, no offset notation on any axis, exact zeros drawn as zeros (never
clamped to a tiny number on a log axis), every series told apart by colour
and marker, and the run's configuration written under the figure.
The ``*_figure`` functions return the figure (tests read its axes); the
``plot_*`` ones write it as a PNG.
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np

from scripts.lib.artifacts import atomic_path

STYLE = {  # (colour, marker) of each series: all four differ in both
    ("scratch", "test"): ("#1f4e99", "o"),
    ("scratch", "train"): ("#6fa8dc", "^"),
    ("torch", "test"): ("#c65a00", "s"),
    ("torch", "train"): ("#f6b26b", "v"),
}


LOSS_LABELS = {"nll_loss": "NLL", "cross_entropy": "cross-entropy",
               "binary_cross_entropy_with_logits": "BCE per pixel",
               "mse_loss": "MSE per pixel"}
"""How the loss axis names each loss (a record's ``loss``)."""

METRIC_PANELS = {
    "Classification": dict(keys=(("test", "test_acc"), ("train", "train_acc")), scale=100,
                           unit="%", limits=(0, 100), min_pad=0.5, ylabel="accuracy (%)",
                           title="accuracy after each epoch"),
    "Reconstruction": dict(keys=(("test", "test_psnr"), ("train", "train_psnr")), scale=1,
                           unit=" dB", limits=(0, math.inf), min_pad=0.2,
                           ylabel="reconstruction PSNR (dB; higher: closer to the input)",
                           title="PSNR after each epoch"),
}
"""The right-hand panel of ``curves.png`` for each task (the ``type`` of the record's
architecture's ``task``; none: classification): the epoch record's keys of its test and
training series, the factor and unit they are shown in, the axis limits."""


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _caption(fig, text: str) -> None:
    fig.text(0.01, 0.01, "\n".join(textwrap.wrap(text, 150)), fontsize=8, va="bottom",
             ha="left", color="#333333")


def _no_offset(ax) -> None:
    from matplotlib.ticker import ScalarFormatter
    for axis in (ax.xaxis, ax.yaxis):
        if isinstance(axis.get_major_formatter(), ScalarFormatter):
            axis.get_major_formatter().set_useOffset(False)


def _plain_log_labels(ax) -> None:
    """Label a log axis 0.5, 1, 2 rather than 5x10^-1, with minor labels where it spans
    less than two decades (so a narrow range still has numbers on it)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter
    low, high = ax.get_ylim()
    plain = FuncFormatter(lambda v, _: f"{v:g}")

    def two_and_five(v, _):
        lead = round(v / 10 ** math.floor(math.log10(v))) if v > 0 else 0
        return f"{v:g}" if lead in (2, 5) else ""
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain if high / low < 10 else FuncFormatter(two_and_five)
                                 if high / low < 1000 else NullFormatter())


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    _pyplot().close(fig)


def moving_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values at each point (fewer at the start)."""
    values = np.asarray(values, dtype=np.float64)
    sums = np.cumsum(np.concatenate([[0.0], values]))
    idx = np.arange(1, len(values) + 1)
    start = np.maximum(idx - window, 0)
    return (sums[idx] - sums[start]) / (idx - start)


def curves_figure(record: dict):
    """Training loss per step and the task's metric per epoch (accuracy, or the
    reconstruction's PSNR), scratch and torch on the same axes."""
    from matplotlib.ticker import FixedLocator, MaxNLocator
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.6))
    epochs = record["epochs"]
    names = [n for n in ("scratch", "torch") if n in record["step_loss"]]
    steps_per_epoch = record["steps_per_epoch"]
    dry_run = bool(record.get("settings", {}).get("dry_run"))
    test_images = record.get("data", {}).get("test_examples")
    test_name = ("test" if not record.get("settings", {}).get("limit_test") or test_images is None
                 else f"test ({test_images} images)")
    n_steps = max(len(record["step_loss"][n]) for n in names)
    window = max(1, n_steps // 50)
    for name in names:
        losses = np.asarray(record["step_loss"][name], dtype=np.float64)
        x = np.arange(1, len(losses) + 1) / (1 if dry_run else steps_per_epoch)
        colour, marker = STYLE[(name, "test")]
        label = name if window == 1 else f"{name} (mean of last {window} steps)"
        every = max(1, len(x) // 12)   # torch's markers sit between scratch's: both show
        ax_loss.plot(x, moving_mean(losses, window), color=colour, marker=marker,
                     markevery=(0 if name == "scratch" else every // 2, every), markersize=6,
                     linewidth=1.2, linestyle="-" if name == "scratch" else "--",
                     fillstyle="full" if name == "scratch" else "none", label=label)
    shown = np.concatenate([moving_mean(record["step_loss"][n], window) for n in names])
    if n_steps and np.all(shown > 0):
        ax_loss.set_yscale("log")
        # at least +-5% around the values: two losses 1e-7 apart are drawn as equal, not
        # at opposite ends of the panel
        ax_loss.set_ylim(min(shown.min(), shown.max() / 1.1) / 1.05,
                         max(shown.max(), shown.min() * 1.1) * 1.05)
        _plain_log_labels(ax_loss)
    ax_loss.set(xlabel=("step (dry run: one batch per epoch, not a pass over the data)"
                        if dry_run else "epoch (fraction of the training set seen)"),
                ylabel="training loss of each step ("
                       + LOSS_LABELS.get(record.get("loss"), "cross-entropy")
                       + (" + L2)" if record.get("settings", {}).get("l2", 1) else ")"),
                title=f"training loss, {n_steps} step{'s' if n_steps != 1 else ''}"
                      + (" (dry run)" if dry_run else ""))
    if dry_run:                                      # whole steps: 1, 2, ...
        ax_loss.set_xlim(0.5, max(n_steps, 1) + 0.5)
        ax_loss.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        ax_loss.set_xlim(0, max(n_steps / steps_per_epoch, 1e-9) * 1.02)

    panel = METRIC_PANELS[record.get("architecture", {}).get("task", {}).get(
        "type", "Classification")]
    values = []
    for name in names:
        for split, key in panel["keys"]:
            colour, marker = STYLE[(name, split)]
            x = [e["epoch"] for e in epochs]
            y = [panel["scale"] * e[name][key] for e in epochs]
            values += y
            what = test_name if split == "test" else "train (running mean over the epoch)"
            if len(epochs) <= 3:   # the values in the legend: they never print over each other
                what += ": " + ", ".join(f"{v:.2f}{panel['unit']}" for v in y)
            ax_acc.plot(x, y, color=colour, marker=marker, markersize=8 if split == "test" else 6,
                        linestyle="-" if split == "test" else ":", label=f"{name} {what}",
                        fillstyle="full" if name == "scratch" else "none", markeredgewidth=1.5)
    if values:
        lo, hi = min(values), max(values)
        pad = max(0.15 * (hi - lo), panel["min_pad"])
        ax_acc.set_ylim(max(lo - pad, panel["limits"][0]), min(hi + pad, panel["limits"][1]))
    last = epochs[-1]["epoch"] if epochs else 1
    ax_acc.set_xlim(0.5, last + 0.5)
    ax_acc.xaxis.set_major_locator(FixedLocator(range(1, last + 1)) if last <= 12
                                   else MaxNLocator(integer=True))
    ax_acc.set(xlabel="epoch", ylabel=panel["ylabel"],
               title=panel["title"] + (" (dry run: one batch each)" if dry_run else ""))
    for ax in (ax_loss, ax_acc):
        _no_offset(ax)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    _caption(fig, record.get("caption", ""))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_curves(record: dict, path: Path) -> None:
    _save(curves_figure(record), path)


def reconstructions_figure(inputs: np.ndarray, outputs: dict[str, np.ndarray],
                           text: str = ""):
    """Test images (top row) and each implementation's reconstruction of them (one row
    per entry of ``outputs``), all pixels in [0, 1] on one grey scale (black 0, white 1),
    with each row's mean squared error over the images shown."""
    plt = _pyplot()
    rows = [("input", inputs), *((f"{name}\nMSE {((out - inputs) ** 2).mean():.4f}\n"
                                  f"(these {len(inputs)})", out)
                                 for name, out in outputs.items())]
    n = len(inputs)
    fig, axes = plt.subplots(len(rows), n, figsize=(1.1 * n + 1.2, 1.2 * len(rows) + 0.9),
                             squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(np.asarray(images[c]).reshape(images[c].shape[-2:]), cmap="gray",
                      vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=9)
    fig.suptitle(f"the first {n} test images and their reconstructions", fontsize=10)
    _caption(fig, text)
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
    return fig


def plot_reconstructions(inputs, outputs: dict, text: str, path: Path) -> None:
    _save(reconstructions_figure(inputs, outputs, text), path)


def _log_with_zeros(ax, x, y, colour, marker, label, zero_label) -> None:
    """``y`` on a log axis; exact zeros (which a log axis cannot show) as hollow markers on
    a strip at the bottom of the panel, labelled with their count, never clamped."""
    x, y = np.asarray(x), np.asarray(y, dtype=np.float64)
    positive = y > 0
    shown = np.where(positive, y, np.nan)           # a zero breaks the line, it is not drawn low
    every = max(1, len(x) // 15)
    ax.plot(x, shown, color=colour, marker=marker, markevery=every, markersize=4,
            linewidth=1, label=label)
    zeros = ~positive
    if zeros.any():
        ax.plot(x[zeros], np.full(zeros.sum(), 0.03), transform=ax.get_xaxis_transform(),
                linestyle="none", marker="|", markersize=9, color=colour, clip_on=False,
                label=f"{zero_label}: exactly 0 ({zeros.sum()} of {len(y)} steps)")
    if positive.any():
        lo, hi = y[positive].min(), y[positive].max()
        ax.set_yscale("log")
        ax.set_ylim(10 ** (math.floor(math.log10(lo)) - 1.5), 10 ** (math.ceil(math.log10(hi))
                                                                      + 0.5))
    else:
        ax.set_ylim(-1, 1)
        ax.text(0.5, 0.5, f"all {len(y)} values are exactly 0", transform=ax.transAxes,
                ha="center", va="center")


def drift_figure(record: dict):
    """Largest relative parameter difference and loss difference per step."""
    plt = _pyplot()
    steps = [r["step"] for r in record["steps"]]
    drift = [r["max_rel_param_diff"] for r in record["steps"]]
    loss_diff = [abs(r["scratch_loss"] - r["torch_loss"]) for r in record["steps"]]
    dtype = record["settings"]["dtype"]
    eps = float(np.finfo(dtype).eps)
    fig, (ax_p, ax_l) = plt.subplots(1, 2, figsize=(11, 4.6))
    _log_with_zeros(ax_p, steps, drift, "#1f4e99", "o", "max_p max|scratch_p - torch_p| / "
                    "max|torch_p|", "difference")
    _log_with_zeros(ax_l, steps, loss_diff, "#c65a00", "s", "|loss scratch - loss torch|",
                    "difference")
    for ax in (ax_p, ax_l):
        bottom, top = ax.get_ylim()
        if ax.get_yscale() == "log" and bottom < eps < top:
            ax.axhline(eps, color="grey", linestyle="--", linewidth=0.8,
                       label=f"{dtype} machine epsilon {eps:.1e}")
        ax.set_xlim(0, max(steps) + max(1, 0.02 * max(steps)))
        ax.set_xlabel("step")
        _no_offset(ax)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="upper left")
    ax_p.set(ylabel="max relative parameter difference",
             title=f"scratch vs torch: parameters ({dtype})")
    ax_l.set(ylabel="absolute loss difference", title=f"scratch vs torch: loss ({dtype})")
    _caption(fig, record.get("caption", ""))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_drift(record: dict, path: Path) -> None:
    _save(drift_figure(record), path)


def caption(settings: dict, extra: str = "", *, train_images: int | None = None,
            test_images: int | None = None) -> str:
    """One line naming what defines the run, for the bottom of a figure: a dry run says
    so, and the images counted are those actually used (``train_images``,
    ``test_images``), not the limits asked for."""
    hyper = ", ".join(f"{k}={v}" for k, v in settings.get("hyperparameters", {}).items())
    parts = [f"arch {settings['arch']}", f"{settings['optimizer']}(lr={settings['lr']:g}"
             + (f", {hyper})" if hyper else ")"), f"schedule {settings['schedule']}",
             f"L2 {settings['l2']:g}", f"batch {settings['batch_size']}", settings["dtype"],
             f"seed {settings['seed']}", f"{settings['threads']} thread(s)",
             f"device {settings['device']}"]
    if settings.get("scheduler", "none") != "none":
        parts[2] = (f"{settings['scheduler']}({settings['scheduler_args']}) per "
                    f"{settings['scheduler_interval']}")
    if settings.get("no_decay_bias_norm"):
        parts.append("no decay on biases/norm")
    if settings.get("clip_grad_norm"):
        parts.append(f"clip grad norm {settings['clip_grad_norm']:g} "
                     f"(type {settings['clip_grad_norm_type']:g})")
    if settings.get("resync"):
        parts.append("scratch resynced to torch after every step")
    if settings.get("recipe"):
        parts.insert(0, f"recipe {settings['recipe']}")
    if settings.get("dry_run"):
        batch = settings["batch_size"] if train_images is None else min(settings["batch_size"],
                                                                         train_images)
        parts.insert(0, f"DRY RUN: one batch of {batch} images per epoch")
    limit = settings.get("limit_train")
    if train_images is not None and limit:
        used = f"{train_images} training images"
        if limit and limit > train_images:
            used += f" (--limit-train {limit}: there are only {train_images})"
        elif limit:
            used = f"first {used}"
        parts.append(used)
    elif limit:
        parts.append(f"first {limit} training images")
    if settings.get("limit_test"):
        n = test_images if test_images is not None else settings["limit_test"]
        parts.append(f"test subset: first {n} of the test images")
    return "; ".join(parts) + (f"; {extra}" if extra else "")
