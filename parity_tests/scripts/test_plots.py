"""The plots read correctly at any run length and value: finite, sensible axis limits;
exact zeros shown as zeros; whole-number epoch ticks; no offset notation."""
from __future__ import annotations

import math

import numpy as np
import pytest

from scripts.lib import plots

SETTINGS = dict(arch="mnist_cnn", optimizer="sgd", lr=0.05, hyperparameters={"momentum": 0.9},
                schedule="cosine", l2=1e-4, batch_size=64, dtype="float64", seed=0, threads=1,
                device="cpu", limit_train=None)


def train_record(epochs: int, steps_per_epoch: int, losses=None) -> dict:
    rng = np.random.default_rng(0)
    n = epochs * steps_per_epoch
    loss = losses if losses is not None else list(2.3 * np.exp(-np.arange(n) / 20)
                                                   + 0.01 * rng.random(n))
    return dict(
        steps_per_epoch=steps_per_epoch,
        step_loss={"scratch": loss, "torch": [v + 1e-5 for v in loss]},
        epochs=[dict(epoch=e + 1, **{
            name: dict(train_acc=0.9634 + 1e-5 * e,
                       test_acc=0.9634 + 2e-5 * e + 1e-5 * (name == "torch"))
            for name in ("scratch", "torch")}) for e in range(epochs)],
        caption=plots.caption(SETTINGS))


def drawn(fig):
    fig.canvas.draw()              # tick labels and offset texts exist only once drawn
    return fig.axes


def assert_finite_limits(ax):
    for low, high in (ax.get_xlim(), ax.get_ylim()):
        assert math.isfinite(low) and math.isfinite(high) and low < high


def assert_no_offset(ax):
    for axis in (ax.xaxis, ax.yaxis):
        assert axis.get_offset_text().get_text() == "", axis.get_offset_text().get_text()


@pytest.mark.parametrize("epochs, steps", [(1, 300), (1, 3), (4, 30)])
def test_curves_have_sensible_limits_for_any_run_length(epochs, steps):
    record = train_record(epochs, steps)
    fig = plots.curves_figure(record)
    ax_loss, ax_acc = drawn(fig)
    for ax in (ax_loss, ax_acc):
        assert_finite_limits(ax)
        assert_no_offset(ax)
    # the loss is drawn per step: a curve over the epoch(s), not one dot per epoch
    lines = [ln for ln in ax_loss.get_lines() if len(ln.get_xdata()) == epochs * steps]
    assert len(lines) == 2
    low, high = ax_loss.get_xlim()
    assert low <= 1 / steps and high >= epochs
    # accuracy: a window of a few percentage points around the values, clipped to [0, 100]
    low, high = ax_acc.get_ylim()
    values = [100 * e[n][k] for e in record["epochs"] for n in ("scratch", "torch")
              for k in ("train_acc", "test_acc")]
    assert low <= min(values) and max(values) <= high <= 100
    assert high - low < 5
    # epochs on whole numbers only
    ticks = [t for t in ax_acc.get_xticks() if low <= t <= high]
    assert all(float(t).is_integer() for t in ax_acc.get_xticks()), ax_acc.get_xticks()
    assert list(ax_acc.get_xticks()) == list(range(1, epochs + 1)) or ticks
    plots._pyplot().close(fig)


def test_four_accuracy_series_differ_in_colour_and_marker():
    ax_acc = plots.curves_figure(train_record(2, 5)).axes[1]
    styles = [(ln.get_color(), ln.get_marker()) for ln in ax_acc.get_lines()]
    assert len(styles) == 4
    assert len({c for c, _ in styles}) == 4 and len({m for _, m in styles}) == 4
    plots._pyplot().close("all")


def lockstep_record(drift, loss_diff, dtype="float64") -> dict:
    steps = [dict(step=i + 1, scratch_loss=0.5 + d, torch_loss=0.5, max_rel_param_diff=p,
                  worst_param="w") for i, (p, d) in enumerate(zip(drift, loss_diff))]
    return dict(steps=steps, settings={**SETTINGS, "dtype": dtype},
                caption=plots.caption(SETTINGS))


def test_drift_with_exact_zeros_is_not_clamped():
    """float64 lockstep: differences of a few ulps and many exact zeros. The log axes span
    the positive values (not down to 1e-300), zeros are marked and counted separately."""
    drift = [0.0, 1.7e-16, 4.5e-16, 0.0, 5.1e-15, 5.7e-15]
    loss_diff = [0.0, 2 ** -52, 0.0, 0.0, 2 ** -53, 0.0]     # exact in 0.5 + d
    fig = plots.drift_figure(lockstep_record(drift, loss_diff))
    for ax, values in zip(drawn(fig), (drift, loss_diff)):
        assert_finite_limits(ax)
        assert ax.get_yscale() == "log"
        low, high = ax.get_ylim()
        positive = [v for v in values if v > 0]
        assert min(positive) / 1e3 < low <= min(positive) and max(positive) <= high
        assert high < 1e-12 and low > 1e-20
        zeros = values.count(0.0)
        labels = [ln.get_label() for ln in ax.get_lines()]
        assert any(f"exactly 0 ({zeros} of {len(values)} steps)" in lab for lab in labels)
        # no plotted y value stands in for a zero
        for line in ax.get_lines():
            y = np.asarray(line.get_ydata(), dtype=float)
            if line.get_transform() == ax.transData:
                assert not np.any(y[np.isfinite(y)] < low), line.get_label()
    plots._pyplot().close(fig)


def test_drift_all_zero_and_float32_scales():
    fig = plots.drift_figure(lockstep_record([0.0] * 5, [0.0] * 5))
    for ax in drawn(fig):
        assert_finite_limits(ax)
        assert ax.get_ylim() == (-1, 1)
    plots._pyplot().close(fig)
    drift, loss_diff = [1e-7, 3e-5, 0.2], [2 ** -22, 0.0, 2 ** -12]
    fig = plots.drift_figure(lockstep_record(drift, loss_diff, "float32"))
    for ax, values in zip(drawn(fig), (drift, loss_diff)):
        assert_finite_limits(ax)
        low, high = ax.get_ylim()
        smallest, largest = min(v for v in values if v > 0), max(values)
        assert smallest / 1e3 < low < smallest and largest < high < 100 * largest
    plots._pyplot().close(fig)
