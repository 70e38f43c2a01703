"""Checkpoints: a training process killed at any point and resumed ends exactly where an
uninterrupted run ends (weights, optimizer state and metrics; timings aside)."""
from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from parity_tests.helpers import assert_close
from scratch import arch
from scripts import train
from scripts.lib import training
from scripts.lib.artifacts import load_npz
from scripts.lib.checkpoint import CheckpointError, Checkpoints, load_checkpoint
from scripts.lib.optimizers import OPTIMIZERS, resolve_hyperparameters
from scripts.lib.runs import run_files
from scripts.lib.twins import make_twins

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_dir(mnist_root):
    return mnist_root


def flags(data_dir, out_dir, *extra):
    return ["--epochs", "2", "--limit-train", "960", "--limit-test", "200", "--batch-size",
            "32", "--data-dir", str(data_dir), "--device", "cpu", "--no-progress",
            "--out-dir", str(out_dir), *extra]


@pytest.fixture(scope="module")
def uninterrupted(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    assert train.main(flags(data_dir, out)) == 0
    return out


def start(data_dir, out_dir):
    return subprocess.Popen([sys.executable, "-u", "-m", "scripts.train",
                             *flags(data_dir, out_dir)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(proc, prefix, timeout=120):
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        if line.startswith(prefix):
            return line
        assert time.monotonic() < deadline, f"no line starting with {prefix!r}"
    raise AssertionError(f"process ended before printing {prefix!r}: {proc.stderr.read()}")


def assert_same_run(a: Path, b: Path):
    for name in ("scratch_weights.npz",):
        wa, wb = load_npz(a / name), load_npz(b / name)
        for key in wa:
            np.testing.assert_array_equal(wa[key], wb[key], err_msg=key)
    meta_a, states_a = load_checkpoint(a / "checkpoint.npz")
    meta_b, states_b = load_checkpoint(b / "checkpoint.npz")
    for impl in ("scratch", "torch"):
        for part in ("model", "optim"):
            for key, value in states_a[impl][part].items():
                np.testing.assert_array_equal(value, states_b[impl][part][key],
                                              err_msg=f"{impl} {part} {key}")
    ma, mb = (json.loads((d / "metrics.json").read_text())["epochs"] for d in (a, b))
    strip = lambda epochs: [{k: ({kk: vv for kk, vv in v.items() if kk != "seconds"}  # noqa: E731
                                 if isinstance(v, dict) else v) for k, v in e.items()}
                            for e in epochs]
    assert strip(ma) == strip(mb)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_epoch_writes_a_checkpoint_and_resume_matches(data_dir, uninterrupted,
                                                                 tmp_path, sig):
    proc = start(data_dir, tmp_path)
    wait_for_line(proc, "epoch 1:")  # printed after epoch 1's checkpoint: now in epoch 2,
    proc.send_signal(sig)            # so the signal is seen after one of its 30 steps
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert "--resume" in err and "checkpoint.npz" in err
    meta, _ = load_checkpoint(tmp_path / "checkpoint.npz")
    assert meta["progress"]["epoch"] == 1 and meta["progress"]["batch"] > 0, meta["progress"]
    assert train.main(flags(data_dir, tmp_path, "--resume")) == 0
    assert_same_run(uninterrupted, tmp_path)


def test_sigkill_then_resume_from_the_epoch_checkpoint_matches(data_dir, uninterrupted, tmp_path):
    proc = start(data_dir, tmp_path)
    wait_for_line(proc, "epoch 1:")
    time.sleep(0.1)
    proc.kill()                                       # no chance to write anything more
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not list(tmp_path.glob(".*.tmp")), "a temporary file was left behind"
    meta, _ = load_checkpoint(tmp_path / "checkpoint.npz")   # intact despite the kill
    assert meta["progress"]["epoch"] == 1
    assert train.main(flags(data_dir, tmp_path, "--resume")) == 0
    assert_same_run(uninterrupted, tmp_path)


def snapshot(folder: Path) -> dict:
    """Every file under ``folder``: its bytes and modification time."""
    return {p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_second_run_into_a_run_folder_is_refused_and_changes_nothing(data_dir, tmp_path,
                                                                       uninterrupted, capsys):
    for name in ("metrics.json", "checkpoint.npz"):
        (tmp_path / name).write_bytes((uninterrupted / name).read_bytes())
    before = snapshot(tmp_path)
    assert train.main(flags(data_dir, tmp_path, "--epochs", "1")) == 2
    err = capsys.readouterr().err
    assert f"--out-dir {tmp_path} already holds files of another run" in err
    assert "--resume" in err and "leave out --out-dir" in err
    assert snapshot(tmp_path) == before


def test_resuming_a_finished_run_says_so_and_changes_no_file(data_dir, uninterrupted, capsys):
    before = snapshot(uninterrupted)
    assert train.main(flags(data_dir, uninterrupted, "--resume")) == 0
    assert "is already finished (2 of 2 epochs" in capsys.readouterr().out
    assert snapshot(uninterrupted) == before


def test_without_out_dir_each_run_gets_a_fresh_folder(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = [a for a in flags(data_dir, "unused", "--epochs", "1", "--impl", "scratch",
                             "--limit-train", "64", "--dry-run")
            if a not in ("--out-dir", "unused")]
    assert train.main(argv) == 0 and train.main(argv) == 0
    folders = sorted((tmp_path / "runs" / "train").iterdir())
    assert len(folders) == 2, folders
    out = capsys.readouterr().out
    for folder in folders:
        assert f"run folder: {folder.relative_to(tmp_path)}" in out
        assert run_files(folder) == [
            "checkpoint.npz", "curves.png", "metrics.json", "scratch_weights.npz"]


def test_resume_with_other_settings_or_a_damaged_checkpoint_is_refused(data_dir, tmp_path,
                                                                       uninterrupted, capsys):
    (tmp_path / "checkpoint.npz").write_bytes((uninterrupted / "checkpoint.npz").read_bytes())
    assert train.main(flags(data_dir, tmp_path, "--resume", "--lr", "0.1")) == 2
    assert "lr: checkpoint 0.05, now 0.1" in capsys.readouterr().err
    (tmp_path / "checkpoint.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match="damaged or not a checkpoint"):
        load_checkpoint(tmp_path / "checkpoint.npz")
    assert train.main(flags(data_dir, tmp_path / "empty", "--resume")) == 2
    assert "nothing to resume" in capsys.readouterr().err


@pytest.mark.parametrize("arch, optimizer", [("mnist_cnn_bn", "adam"), ("mnist_resnet", "sgd"),
                                             ("mnist_conv1d", "nadam"), ("mnist_gru", "adam"),
                                             ("mnist_vit", "adam")])
def test_resume_continues_exactly_for_other_architectures_and_optimizers(
        data_dir, tmp_path, monkeypatch, arch, optimizer):
    """A stop mid-epoch (a SIGINT sent to this process by the 5th step) and --resume end
    bit for bit where an uninterrupted run ends, optimizer state (Adam's moments, batch
    norm's running statistics, inside residual blocks too) included. (SGD on the default
    network: the tests above.)"""
    def argv(out, *extra):
        return ["--epochs", "2", "--limit-train", "128", "--limit-test", "64", "--batch-size",
                "32", "--data-dir", str(data_dir), "--device", "cpu", "--no-progress",
                "--arch", arch, "--optimizer", optimizer, "--out-dir", str(out), *extra]
    assert train.main(argv(tmp_path / "whole")) == 0
    real_step, calls = training._timed_step, []

    def interrupted(*a, **k):
        calls.append(1)
        if len(calls) == 10:                      # 5 steps of 2 twins: epoch 2, batch 1
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(*a, **k)
    monkeypatch.setattr(training, "_timed_step", interrupted)
    assert train.main(argv(tmp_path / "parts")) == 128 + signal.SIGINT
    monkeypatch.setattr(training, "_timed_step", real_step)
    assert train.main(argv(tmp_path / "parts", "--resume")) == 0
    assert_same_run(tmp_path / "whole", tmp_path / "parts")
    record = json.loads((tmp_path / "parts" / "metrics.json").read_text())
    assert all(r["agreement"] > 0.9 for r in record["cross_evaluation"].values())


def test_non_finite_loss_stops_training_naming_the_step(data_dir, tmp_path, capsys):
    code = train.main(flags(data_dir, tmp_path, "--lr", "1e6", "--epochs", "1"))
    err = capsys.readouterr().err
    assert code == 2, err
    assert "training stopped at step" in err
    assert "is not finite" in err or "the loss is" in err
    assert "weights were not updated" in err
    assert not os.path.exists(tmp_path / "checkpoint.npz")


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_every_optimizer_continues_exactly_from_a_checkpoint(tmp_path, optimizer):
    """Two steps, a checkpoint, fresh twins restored from it: the next step gives the same
    weights and optimizer state as the twins that never stopped (both implementations).
    NAdam's exception is torch's: its mu_product is kept in float32, and torch's
    Optimizer.load_state_dict casts every state tensor but ``step`` to the parameter's dtype,
    so a float64 run resumes with a float64 mu_product (scratch does the same); the next
    step then differs by the float32 rounding of mu_product (relative 6e-8) times the step
    size (lr 2e-3): about 1e-10 on the weights, hence those tolerances."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 1, 28, 28)), rng.integers(0, 10, 8)
    settings = {"optimizer": optimizer}
    hyper = resolve_hyperparameters(optimizer, {})
    lr = OPTIMIZERS[optimizer].lr

    def fresh():
        return make_twins(arch.mnist_cnn_bn(), 0, "float64", "cpu", optimizer, hyper, 1e-4)
    running = fresh()
    for _ in range(2):
        for twin in running.values():
            twin.step(x, y, lr)
    checkpoints = Checkpoints(tmp_path / "checkpoint.npz", settings)
    checkpoints.save({"epoch": 0, "batch": 2, "step": 2}, running)
    restored = fresh()
    with contextlib.redirect_stdout(io.StringIO()):
        checkpoints.restore(restored)
    for name in running:
        running[name].step(x[::-1].copy(), y[::-1].copy(), lr / 2)
        restored[name].step(x[::-1].copy(), y[::-1].copy(), lr / 2)
        for part in ("state_dict", "optimizer_state"):
            a, b = getattr(running[name], part)(), getattr(restored[name], part)()
            assert a.keys() == b.keys()
            for key in a:
                if optimizer == "nadam":   # see the docstring
                    assert_close(a[key], b[key], 1e-7, 1e-9, f"{name} {part} {key}")
                else:
                    np.testing.assert_array_equal(a[key], b[key],
                                                  err_msg=f"{name} {part} {key}")
