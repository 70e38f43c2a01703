"""Training both implementations on (a subset of) the real MNIST files."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from scripts import lockstep, mnist, train
from scripts.artifacts import load_npz


@pytest.fixture(scope="module")
def data_dir():
    """The verified MNIST files (fetched once into the user cache if missing)."""
    return mnist.ensure_mnist(verbose=False).parent.parent


def run_train(tmp_path, data_dir, *extra):
    args = train.build_parser().parse_args(
        ["--epochs", "1", "--limit-train", "2000", "--limit-test", "1000", "--batch-size", "32",
         "--out-dir", str(tmp_path), "--data-dir", str(data_dir), "--device", "cpu",
         "--no-progress", *extra])
    return train.train(args)


def test_both_train_well_above_chance_and_write_their_files(tmp_path, data_dir):
    metrics = run_train(tmp_path, data_dir)
    epoch = metrics["epochs"][0]
    for name in ("scratch", "torch"):
        assert epoch[name]["test_acc"] > 0.8, (name, epoch[name])
        assert epoch[name]["seconds"] > 0
    for name in ("metrics.json", "curves.png", "scratch_weights.npz", "torch_state_dict.pt"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "metrics.json").read_text())["epochs"] == metrics["epochs"]
    scratch_state = load_npz(tmp_path / "scratch_weights.npz")
    torch_state = torch.load(tmp_path / "torch_state_dict.pt", weights_only=True)
    assert list(scratch_state) == list(torch_state)


def test_float64_runs_agree_on_every_metric_and_prediction(tmp_path, data_dir):
    """In float64 the two trajectories stay within a few ulps (see scripts.lockstep), so
    losses agree closely and accuracies and cross-evaluated predictions exactly; float32
    trajectories part after a near-tie flips, so they are only compared in the README."""
    metrics = run_train(tmp_path, data_dir, "--dtype", "float64", "--limit-train", "500")
    scratch, torch_run = metrics["epochs"][0]["scratch"], metrics["epochs"][0]["torch"]
    assert scratch["test_acc"] == torch_run["test_acc"]
    assert scratch["train_acc"] == torch_run["train_acc"]
    assert abs(scratch["loss"] - torch_run["loss"]) < 1e-12
    for key, report in metrics["cross_evaluation"].items():
        assert report["agreement"] == 1.0, (key, report)


def test_same_seed_gives_the_same_weights(tmp_path, data_dir):
    run_train(tmp_path / "a", data_dir, "--impl", "scratch", "--limit-train", "300")
    run_train(tmp_path / "b", data_dir, "--impl", "scratch", "--limit-train", "300")
    a, b = (load_npz(tmp_path / d / "scratch_weights.npz") for d in "ab")
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize("dtype, bound", [("float64", 1e-12), ("float32", 1e-4)])
def test_lockstep_drift_stays_at_rounding_level(tmp_path, data_dir, dtype, bound):
    args = lockstep.build_parser().parse_args(
        ["--steps", "5", "--dtype", dtype, "--limit-train", "640", "--out-dir", str(tmp_path),
         "--data-dir", str(data_dir), "--no-progress"])
    result = lockstep.lockstep(args)
    assert len(result["steps"]) == 5
    assert result["summary"]["final_max_rel_param_diff"] < bound
    assert (tmp_path / "drift.png").stat().st_size > 0


def test_invalid_flags_exit_with_status_2(capsys):
    for argv in (["--epochs", "-1"], ["--impl", "jax"], ["--lr", "nan"], ["--seed", "-1"]):
        with pytest.raises(SystemExit) as exc:
            train.main(argv)
        assert exc.value.code == 2, argv
    assert "must be a positive integer" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_cuda_without_a_gpu_is_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as exc:
        train.main(["--device", "cuda"])
    assert exc.value.code == 2
    assert "torch sees no GPU" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_torch_side_trains_on_cuda(tmp_path, data_dir):
    metrics = run_train(tmp_path, data_dir, "--device", "cuda", "--impl", "torch")
    assert metrics["config"]["device"] == "cuda"
    assert metrics["epochs"][0]["torch"]["test_acc"] > 0.8
