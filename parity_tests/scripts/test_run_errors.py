"""The training scripts' error policy: every mistake a user can fix (flag, record,
architecture, data, folder, full disk, permissions) is one line on stderr and exit status
2, refused before anything is created or with the previous checkpoint intact."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scratch import arch
from scripts import lockstep, train
from scripts.lib import checkpoint, training
from scripts.lib.artifacts import load_npz, save_npz
from scripts.lib.checkpoint import load_checkpoint
from scripts.lib.errors import available_cpus

REPO = Path(__file__).resolve().parents[2]


def flags(data_dir, out_dir, *extra):
    return ["--impl", "scratch", "--epochs", "2", "--limit-train", "128", "--limit-test", "50",
            "--batch-size", "32", "--data-dir", str(data_dir), "--device", "cpu",
            "--no-progress", "--out-dir", str(out_dir), *extra]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def misfit(name: str) -> dict:
    data = arch.to_dict(arch.mnist_cnn())
    if name == "input 3x32x32":
        data["input_shape"] = [3, 32, 32]
    elif name == "5 classes":
        data["layers"][-1]["out_features"] = 5
    elif name == "Linear without Flatten":
        data["layers"] = [layer for layer in data["layers"] if layer["type"] != "Flatten"]
    elif name == "negative channels":
        data["layers"][0]["out_channels"] = -4
    return data


MISFITS = {"input 3x32x32": "input_shape is [3, 32, 32], but MNIST images are [1, 28, 28]",
           "5 classes": "ends in shape [5] (after 'fc2'), but MNIST has 10 classes",
           "Linear without Flatten": "add a Flatten before the first Linear",
           "negative channels": "cannot be built: Conv2d: out_channels must be a positive"}


@pytest.mark.parametrize("name", sorted(MISFITS))
def test_a_misfit_architecture_is_refused_with_exit_2_before_any_folder_exists(
        mnist_root, tmp_path, name):
    spec = tmp_path / "net.json"
    spec.write_text(json.dumps(misfit(name)))
    out = tmp_path / "runs" / "new"
    proc = subprocess.run([sys.executable, "-m", "scripts.train",
                           *flags(mnist_root, out, "--arch", str(spec))],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert MISFITS[name] in proc.stderr, proc.stderr
    assert not (tmp_path / "runs").exists()


def test_lockstep_refuses_a_misfit_architecture_the_same_way(mnist_root, tmp_path, capsys):
    spec = tmp_path / "net.json"
    spec.write_text(json.dumps(misfit("5 classes")))
    assert lockstep.main(["--steps", "1", "--limit-train", "32", "--data-dir", str(mnist_root),
                          "--arch", str(spec), "--out-dir", str(tmp_path / "out"),
                          "--no-progress"]) == 2
    assert MISFITS["5 classes"] in one_line_error(capsys)
    assert not (tmp_path / "out").exists()


def test_an_edited_record_is_refused_with_the_flags_message_and_leaves_nothing(
        mnist_root, tmp_path, capsys):
    assert train.main(flags(mnist_root, tmp_path / "a", "--epochs", "1", "--dry-run")) == 0
    record = json.loads((tmp_path / "a" / "metrics.json").read_text())
    record["settings"]["impl"] = "banana"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(record))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        train.main(["--from-record", str(edited), "--out-dir", str(tmp_path / "b")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"error: --from-record {edited}: --impl: invalid choice: 'banana'" in err, err
    assert not (tmp_path / "b").exists()
    record["settings"]["impl"], record["settings"]["epochs"] = "scratch", -3
    edited.write_text(json.dumps(record))
    with pytest.raises(SystemExit):
        train.main(["--from-record", str(edited), "--out-dir", str(tmp_path / "b")])
    assert "--epochs: expected a positive whole number, got '-3'" in capsys.readouterr().err


def test_threads_above_the_cpus_available_warn_with_the_numbers(mnist_root, tmp_path, capsys):
    cpus = available_cpus()
    assert train.main(flags(mnist_root, tmp_path, "--epochs", "1", "--dry-run", "--threads",
                            str(cpus + 1))) == 0
    err = capsys.readouterr().err
    assert (f"warning: --threads {cpus + 1} is more than the {cpus} CPU(s) this process may "
            f"use") in err, err


def test_threads_within_the_cpus_do_not_warn(mnist_root, tmp_path, capsys):
    assert train.main(flags(mnist_root, tmp_path, "--epochs", "1", "--dry-run")) == 0
    assert "warning" not in capsys.readouterr().err


def test_a_checkpoint_with_a_nan_weight_is_refused_naming_the_tensor(mnist_root, tmp_path,
                                                                     capsys, monkeypatch):
    out = tmp_path / "run"
    stop_after_first_epoch(monkeypatch)
    assert train.main(flags(mnist_root, out)) == 130
    arrays = load_npz(out / "checkpoint.npz")
    arrays["scratch/model/fc1.weight"][3, 5] = np.nan
    save_npz(out / "checkpoint.npz", arrays)
    capsys.readouterr()
    assert train.main(flags(mnist_root, out, "--resume")) == 2
    err = one_line_error(capsys)
    assert "non-finite values in scratch model tensor 'fc1.weight' (1 of" in err, err


def stop_after_first_epoch(monkeypatch):
    """Send this process SIGINT during the first step of epoch 2 (a checkpoint follows)."""
    import signal
    real, calls = training._timed_step, []

    def step(twin, name, x, y, lr, progress, checkpoints):
        calls.append(1)
        if progress["epoch"] == 1 and progress["batch"] == 0 and progress["step"] == 4:
            os.kill(os.getpid(), signal.SIGINT)
        return real(twin, name, x, y, lr, progress, checkpoints)
    monkeypatch.setattr(training, "_timed_step", step)


def test_a_full_disk_mid_run_is_one_line_naming_the_file_and_keeps_the_checkpoint(
        mnist_root, tmp_path, capsys, monkeypatch):
    """ENOSPC simulated: the second checkpoint's write fails (as np.savez's write would)."""
    real_save, saves = checkpoint.save_checkpoint, []
    real_write = np.lib.format.write_array

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def save(path, meta, twins):
        saves.append(path)
        if len(saves) == 2:
            monkeypatch.setattr(np.lib.format, "write_array", full)
        try:
            real_save(path, meta, twins)
        finally:
            monkeypatch.setattr(np.lib.format, "write_array", real_write)
    monkeypatch.setattr(checkpoint, "save_checkpoint", save)
    out = tmp_path / "run"
    assert train.main(flags(mnist_root, out)) == 2
    err = one_line_error(capsys)
    ckpt = out / "checkpoint.npz"
    assert f"cannot write {ckpt}: No space left on device (" in err, err
    assert "needed" in err and f"the previous checkpoint {ckpt} is intact" in err, err
    assert f"--resume --out-dir {out}" in err
    meta, _ = load_checkpoint(ckpt)
    assert meta["progress"]["epoch"] == 1
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def tmpfs(tmp_path):
    """A fresh tmpfs mount point (``mount(size, ro=False)`` mounts it); skipped where this
    process may not mount (not root, or no CAP_SYS_ADMIN in a container)."""
    point = tmp_path / "mnt"
    point.mkdir()
    mounted = []

    def mount(size, ro=False, remount=False):
        options = f"size={size}" + (",ro" if ro else "") + (",remount" if remount else "")
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
        mounted.append(point)
        return point
    yield mount
    if mounted:
        subprocess.run(["umount", str(point)], check=False)


def test_a_really_full_disk_keeps_the_previous_checkpoint(mnist_root, tmp_path, tmpfs):
    """A real ENOSPC: a tmpfs with room for one checkpoint but not for the second beside it
    (the atomic write needs both until the rename)."""
    probe = tmp_path / "probe"
    assert train.main(flags(mnist_root, probe, "--epochs", "1")) == 0
    size = (probe / "checkpoint.npz").stat().st_size
    disk = tmpfs(int(size * 1.5) // 4096 * 4096)
    out = disk / "run"
    proc = subprocess.run([sys.executable, "-m", "scripts.train", *flags(mnist_root, out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "No space left on device" in proc.stderr and "needed" in proc.stderr
    assert f"the previous checkpoint {out / 'checkpoint.npz'} is intact" in proc.stderr
    assert load_checkpoint(out / "checkpoint.npz")[0]["progress"]["epoch"] == 1


def test_a_read_only_folder_is_refused_in_one_line_and_nothing_changes(
        mnist_root, tmp_path, tmpfs, capsys, monkeypatch):
    """A real read-only file system (root ignores chmod, so a read-only tmpfs): a new run
    under it is refused before anything is made; a resume in it leaves the checkpoint."""
    disk = tmpfs("8m")
    out = disk / "run"
    stop_after_first_epoch(monkeypatch)
    assert train.main(flags(mnist_root, out)) == 130
    before = (out / "checkpoint.npz").read_bytes()
    tmpfs("8m", ro=True, remount=True)
    capsys.readouterr()
    assert train.main(flags(mnist_root, out, "--resume")) == 2
    err = one_line_error(capsys)
    assert f"--out-dir {out}: {out} is not writable" in err and "read-only" in err, err
    assert (out / "checkpoint.npz").read_bytes() == before
    assert train.main(flags(mnist_root, disk / "new")) == 2
    assert f"{disk} is not writable" in one_line_error(capsys)
    assert not (disk / "new").exists()


def test_a_permission_error_names_the_path_and_what_to_do(tmp_path, monkeypatch):
    """EACCES (what a non-root user meets in a folder of someone else's), simulated: root
    is never refused by permissions."""
    import tempfile

    from scripts.lib.artifacts import write_json
    from scripts.lib.errors import OutputError

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(OutputError, match=r"cannot write .*x\.json: Permission denied \(make "
                                          r"the folder writable or name another one\)"):
        write_json(tmp_path / "x.json", {})


def test_a_run_that_diverges_before_its_first_checkpoint_leaves_no_folder(mnist_root, tmp_path,
                                                                           capsys):
    out = tmp_path / "runs" / "new"
    assert train.main(flags(mnist_root, out, "--lr", "1e6", "--impl", "both")) == 2
    err = one_line_error(capsys)
    assert "training stopped at step" in err and "no checkpoint was written yet" in err, err
    assert not out.exists()
