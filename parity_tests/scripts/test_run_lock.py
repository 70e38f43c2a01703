"""One owner per run folder: real training processes racing for one folder, resumes racing
for one run, and a kill -9'd owner whose stale lock must not block a resume.

``ci`` runs the refusal of a held folder and the stale lock; the two races (the same lock
and refusal, taken at once or by a resume) run under the ``thorough`` profile."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from parity_tests.profiles import thorough_only
from scripts.lib.runs import LOCK_NAME, holder_pid

REPO = Path(__file__).resolve().parents[2]
LONG = ("--epochs", "200", "--limit-train", "3200")   # minutes: stopped by the test


def argv(data_dir, out_dir, *extra):
    return ["--impl", "scratch", "--limit-train", "320", "--limit-test", "50", "--batch-size",
            "32", "--data-dir", str(data_dir), "--device", "cpu", "--no-progress",
            "--out-dir", str(out_dir), *extra]


def start(*args):
    return subprocess.Popen([sys.executable, "-u", "-m", "scripts.train", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(proc, prefix, timeout=180):
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        if line.startswith(prefix):
            return line
        assert time.monotonic() < deadline, f"no line starting with {prefix!r}"
    raise AssertionError(f"process ended before printing {prefix!r}: {proc.stderr.read()}")


def finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return finish(proc)


def results(folder: Path) -> dict:
    """The run's files (lock file aside) and their bytes; timings stripped from the record
    and the checkpoint's metadata compared through the record."""
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir())
             if p.name not in (LOCK_NAME, "metrics.json", "checkpoint.npz")}
    record = json.loads((folder / "metrics.json").read_text())
    for epoch in record["epochs"]:
        for value in epoch.values():
            if isinstance(value, dict):
                value.pop("seconds", None)
    record.pop("environment")
    record.pop("command")
    files["metrics.json"] = record
    files["names"] = sorted(p.name for p in folder.iterdir())
    return files


@pytest.fixture(scope="module")
def solo(mnist_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("solo") / "run"
    code, _, err = finish(start(*argv(mnist_root, out, "--epochs", "2")))
    assert code == 0, err
    return out


@thorough_only("flock takes the lock atomically, so two starts at once refuse the loser "
               "through the held-folder refusal ci runs")
def test_two_trains_started_together_one_is_refused_the_other_is_a_solo_run(
        mnist_root, tmp_path, solo):
    out = tmp_path / "shared"
    procs = [start(*argv(mnist_root, out, "--epochs", "2")) for _ in range(2)]
    outcomes = [finish(p) for p in procs]
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 2], outcomes
    _, _, refusal = next(o for o in outcomes if o[0] == 2)
    assert refusal.count("\n") == 1, refusal
    assert (f"--out-dir {out} is in use by another run" in refusal
            or f"--out-dir {out} already holds files of another run" in refusal), refusal
    assert results(out) == results(solo)


def test_a_train_into_a_held_folder_is_refused_at_once_naming_the_holder(mnist_root, tmp_path):
    out = tmp_path / "held"
    holder = start(*argv(mnist_root, out, *LONG))
    try:
        wait_for_line(holder, "run folder:")
        began = time.monotonic()
        code, _, err = finish(start(*argv(mnist_root, out, "--epochs", "1")))
        assert code == 2, err
        assert holder.poll() is None, "the second run waited for the first to end"
        assert err.count("\n") == 1, err
        assert f"--out-dir {out} is in use by another run: process {holder.pid}" in err, err
        assert "--resume" in err and f"kill {holder.pid}" in err
        assert time.monotonic() - began < 120
    finally:
        code, _, err = stop(holder)
    assert code == 128 + signal.SIGTERM, err


@thorough_only("a resume claims its folder through the same lock (claim_run_dir) as the "
               "held-folder refusal ci runs")
def test_two_resumes_of_one_run_one_is_refused(mnist_root, tmp_path):
    out = tmp_path / "run"
    first = start(*argv(mnist_root, out, *LONG))
    wait_for_line(first, "epoch 1:")
    assert stop(first)[0] == 128 + signal.SIGTERM
    resumed = start(*argv(mnist_root, out, *LONG, "--resume"))
    try:
        wait_for_line(resumed, "resuming from")
        code, _, err = finish(start(*argv(mnist_root, out, *LONG, "--resume")))
        assert code == 2, err
        assert f"is in use by another run: process {resumed.pid}" in err, err
        assert resumed.poll() is None
    finally:
        code, _, err = stop(resumed)
    assert code == 128 + signal.SIGTERM, err


def test_a_kill_9_holder_leaves_a_stale_lock_that_does_not_block_a_resume(mnist_root,
                                                                          tmp_path):
    out = tmp_path / "run"
    killed = start(*argv(mnist_root, out, "--epochs", "2", "--limit-train", "3200"))
    wait_for_line(killed, "epoch 1:")
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert holder_pid(out) == killed.pid          # the lock file is still there, stale
    code, stdout, err = finish(start(*argv(mnist_root, out, "--epochs", "2", "--limit-train",
                                          "3200", "--resume")))
    assert code == 0, err
    assert "resuming from" in stdout and "epoch 2, batch 0" in stdout, stdout
    assert [e["epoch"] for e in json.loads((out / "metrics.json").read_text())["epochs"]] == [1, 2]
    assert holder_pid(out) != killed.pid
