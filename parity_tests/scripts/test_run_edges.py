"""Outputs honest at the edges: a dry run, a --limit-train above the data, a test subset;
accuracy labels that never print over each other; the record's command as typed and the
whole wall time."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from scripts.lib import plots

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dry_run(mnist_root, tmp_path_factory):
    """A real dry run asking for more training images than MNIST has, on a test subset."""
    out = tmp_path_factory.mktemp("dry") / "run"
    argv = ["--dry-run", "--epochs", "2", "--limit-train", "100000", "--limit-test", "300",
            "--data-dir", str(mnist_root), "--device", "cpu", "--no-progress", "--out-dir",
            str(out)]
    began = time.time()
    proc = subprocess.run([sys.executable, "-m", "scripts.train", *argv], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    elapsed = time.time() - began
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / "metrics.json").read_text()), argv, elapsed, out


def test_a_dry_runs_caption_says_dry_run_and_the_images_really_used(dry_run):
    record = dry_run[0]
    caption = record["caption"]
    assert caption.startswith("DRY RUN: one batch of 64 images per epoch"), caption
    assert "60000 training images (--limit-train 100000: there are only 60000)" in caption
    assert "first 100000" not in caption
    assert "test subset: first 300 of the test images" in caption
    assert record["data"] == {**record["data"], "train_examples": 60000, "test_examples": 300}


def test_a_dry_runs_plot_counts_steps_not_epochs_and_names_the_test_subset(dry_run):
    fig = plots.curves_figure(dry_run[0])
    fig.canvas.draw()
    ax_loss, ax_acc = fig.axes
    assert ax_loss.get_xlabel().startswith("step (dry run")
    assert "dry run" in ax_loss.get_title() and "dry run" in ax_acc.get_title()
    assert ax_loss.get_xlim() == (0.5, 2.5)
    labels = [t.get_text() for t in ax_acc.get_legend().get_texts()]
    assert any(label.startswith("scratch test (300 images)") for label in labels), labels


def test_the_record_holds_the_command_as_typed_and_the_whole_wall_time(dry_run):
    record, argv, elapsed, _ = dry_run
    assert record["environment"]["argv"] == ["python", "-m", "scripts.train", *argv]
    wall = record["environment"]["wall_seconds"]
    # from the process's start (imports included) to the record: most of what we timed
    assert 0.5 * elapsed < wall <= elapsed, (wall, elapsed)


def close_record(n_epochs: int) -> dict:
    loss = list(np.linspace(2.3, 0.1, 10 * n_epochs))
    return dict(settings={"limit_test": None}, steps_per_epoch=10,
                step_loss={"scratch": loss, "torch": loss},
                epochs=[dict(epoch=e + 1, **{name: dict(train_acc=0.9871, test_acc=0.9872)
                                             for name in ("scratch", "torch")})
                        for e in range(n_epochs)])


def boxes(fig, ax):
    """Window extents of every text drawn in ``ax`` (annotations and legend entries)."""
    renderer = fig.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_text()]
    if ax.get_legend():
        texts += [t for t in ax.get_legend().get_texts() if t.get_text()]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in texts]


@pytest.mark.parametrize("n_epochs", [1, 3])
def test_equal_accuracies_give_labels_that_never_overlap_and_show_every_value(n_epochs):
    fig = plots.curves_figure(close_record(n_epochs))
    fig.canvas.draw()
    drawn = boxes(fig, fig.axes[1])
    for i, (a, box_a) in enumerate(drawn):
        for b, box_b in drawn[i + 1:]:
            assert not box_a.overlaps(box_b), (a, b)
    shown = " ".join(text for text, _ in drawn)
    assert shown.count("98.72%") == 2 * n_epochs and shown.count("98.71%") == 2 * n_epochs
