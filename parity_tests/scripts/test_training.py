"""Training both implementations on (a subset of) the real MNIST files: results, records,
threads, every architecture and optimizer, run folders and messages."""
from __future__ import annotations

import json
import re
import shlex
import warnings

import numpy as np
import pytest
import torch

from scratch import arch
from scripts import lockstep, train
from scripts.lib import drift, training
from scripts.lib.artifacts import load_npz
from scripts.lib.optimizers import OPTIMIZERS
from scripts.lib.runs import run_files


def train_flags(out_dir, data_dir, *extra):
    return ["--epochs", "1", "--limit-train", "2000", "--limit-test", "1000", "--batch-size",
            "32", "--out-dir", str(out_dir), "--data-dir", str(data_dir), "--device", "cpu",
            "--no-progress", *extra]


def run_train(out_dir, data_dir, *extra) -> dict:
    args, settings, architecture = training.parse(train_flags(out_dir, data_dir, *extra))
    return training.train(settings, out_dir, data_dir=data_dir, architecture=architecture,
                       show_progress=False)


def test_both_train_well_above_chance_and_write_their_files(tmp_path, mnist_root):
    record = run_train(tmp_path, mnist_root)
    epoch = record["epochs"][0]
    for name in ("scratch", "torch"):
        assert epoch[name]["test_acc"] > 0.8, (name, epoch[name])
        assert epoch[name]["seconds"] > 0
    for name in ("metrics.json", "curves.png", "scratch_weights.npz", "torch_state_dict.pt"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "metrics.json").read_text())["epochs"] == record["epochs"]
    scratch_state = load_npz(tmp_path / "scratch_weights.npz")
    torch_state = torch.load(tmp_path / "torch_state_dict.pt", weights_only=True)
    assert list(scratch_state) == list(torch_state)


def test_the_record_holds_environment_data_folder_settings_and_definitions(tmp_path,
                                                                          mnist_root):
    run_train(tmp_path, mnist_root, "--impl", "scratch", "--limit-train", "64", "--threads", "2")
    record = json.loads((tmp_path / "metrics.json").read_text())
    env = record["environment"]
    for key in ("python", "numpy", "torch", "thread_pools", "device", "started",
                "wall_seconds"):
        assert key in env, key
    assert env["wall_seconds"] > 0 and env["device"] == "cpu"
    blas = [p for p in env["thread_pools"] if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] == 1 for p in blas)   # scratch splits the batch itself
    assert env["scratch_threads"] == 2 and env["torch_threads"] == 2
    assert record["settings"]["threads"] == 2
    assert record["data"]["data_dir"] == str(mnist_root.resolve())
    settings = record["settings"]
    for cli_only in ("resume", "no_progress", "out_dir", "data_dir", "from_record"):
        assert cli_only not in settings, cli_only
    assert settings["hyperparameters"] == {"momentum": 0.9, "dampening": 0.0,
                                           "nesterov": False, "weight_decay": 0.0}
    for quantity in ("loss", "train_acc", "test_acc", "seconds"):
        assert f"epochs[].<impl>.{quantity}" in record["definitions"]
    # the recorded command parses back to the same settings
    argv = shlex.split(record["command"])
    assert argv[:3] == ["python", "-m", "scripts.train"]
    assert training.parse(argv[3:])[1].as_dict() == settings


def test_float64_runs_agree_on_every_metric_and_prediction(tmp_path, mnist_root):
    """In float64 the two trajectories stay within a few ulps (see scripts.lockstep), so
    losses agree closely and accuracies and cross-evaluated predictions exactly; float32
    trajectories part after a near-tie flips, so they are only compared in the README."""
    record = run_train(tmp_path, mnist_root, "--dtype", "float64", "--limit-train", "500")
    scratch, torch_run = record["epochs"][0]["scratch"], record["epochs"][0]["torch"]
    assert scratch["test_acc"] == torch_run["test_acc"]
    assert scratch["train_acc"] == torch_run["train_acc"]
    assert abs(scratch["loss"] - torch_run["loss"]) < 1e-12
    for key, report in record["cross_evaluation"].items():
        assert report["agreement"] == 1.0, (key, report)


@pytest.mark.parametrize("threads", [1, 2])
def test_same_seed_and_thread_count_give_bit_identical_weights(tmp_path, mnist_root, threads):
    for run in "ab":
        run_train(tmp_path / run, mnist_root, "--limit-train", "128", "--limit-test", "32",
                  "--threads", str(threads))
    for impl, load in (("scratch_weights.npz", load_npz),
                       ("torch_state_dict.pt", lambda p: {k: v.numpy() for k, v in
                                                          torch.load(p).items()})):
        a, b = (load(tmp_path / run / impl) for run in "ab")
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=f"{impl} {name}")
    for run in "ab":
        record = json.loads((tmp_path / run / "metrics.json").read_text())
        assert record["settings"]["threads"] == threads


def test_a_run_from_its_record_gives_the_same_weights(tmp_path, mnist_root):
    run_train(tmp_path / "a", mnist_root, "--impl", "scratch", "--limit-train", "200",
              "--optimizer", "adam", "--betas", "0.8,0.99", "--dtype", "float64")
    record = tmp_path / "a" / "metrics.json"
    assert train.main(["--from-record", str(record), "--out-dir", str(tmp_path / "b"),
                       "--data-dir", str(mnist_root), "--no-progress"]) == 0
    a, b = (load_npz(tmp_path / run / "scratch_weights.npz") for run in "ab")
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    again = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert again["settings"] == json.loads(record.read_text())["settings"]


def lockstep_record(tmp_path, data_dir, *extra):
    args, settings, architecture = drift.parse(
        ["--steps", "3", "--limit-train", "96", "--batch-size", "32", "--out-dir",
         str(tmp_path), "--data-dir", str(data_dir), "--no-progress", *extra])
    return drift.lockstep(settings, tmp_path, data_dir=data_dir, architecture=architecture,
                             show_progress=False)


@pytest.mark.parametrize("dtype, bound", [("float64", 1e-12), ("float32", 1e-4)])
def test_lockstep_drift_stays_at_rounding_level(tmp_path, mnist_root, dtype, bound):
    result = lockstep_record(tmp_path, mnist_root, "--dtype", dtype, "--steps", "5")
    assert len(result["steps"]) == 5
    assert result["summary"]["final_max_rel_param_diff"] < bound
    assert (tmp_path / "drift.png").stat().st_size > 0
    saved = json.loads((tmp_path / "lockstep.json").read_text())
    assert saved["settings"]["dtype"] == dtype and "environment" in saved


@pytest.mark.parametrize("name", sorted(arch.ARCHITECTURES))
def test_each_named_architecture_steps_in_lockstep_in_float64(tmp_path, mnist_root, name):
    result = lockstep_record(tmp_path, mnist_root, "--arch", name)
    assert result["summary"]["final_max_rel_param_diff"] < 1e-10, result["summary"]
    assert result["summary"]["max_abs_loss_diff"] < 1e-10
    assert result["architecture"] == arch.to_dict(arch.ARCHITECTURES[name]())


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_each_optimizer_steps_in_lockstep_in_float64(tmp_path, mnist_root, optimizer):
    """Default network, each optimizer with its default lr and a weight decay. (Adam
    turns a gradient component g far below eps into the step lr*g/eps, multiplying its
    rounding error by lr/eps, not lr as SGD does: with batch norm, whose gradients
    cancel, 3 Adam steps at lr 0.01 reach 1.4e-10; see the README.)"""
    extra = ((["--weight-decay", "0.01"] if "weight_decay" in OPTIMIZERS[optimizer].defaults
              else ["--etas", "0.4,1.3"])   # Rprop has no weight decay: a non-default flag
             + (["--amsgrad"] if optimizer == "adam" else [])
             + (["--decoupled-weight-decay"] if optimizer in ("nadam", "radam") else [])
             + (["--t0", "2"] if optimizer == "asgd" else []))   # averaging from step 2
    result = lockstep_record(tmp_path, mnist_root, "--optimizer", optimizer, *extra)
    assert result["summary"]["final_max_rel_param_diff"] < 1e-10, result["summary"]
    # the steps did move the weights: the drift is measured on a changing model
    assert result["steps"][0]["scratch_loss"] != result["steps"][-1]["scratch_loss"]


def test_an_architecture_file_trains_both_ways(tmp_path, mnist_root):
    spec = tmp_path / "net.json"
    spec.write_text(json.dumps(arch.to_dict(arch.lenet5())))
    result = lockstep_record(tmp_path / "run", mnist_root, "--arch", str(spec))
    assert result["summary"]["final_max_rel_param_diff"] < 1e-10
    assert result["settings"]["arch"] == str(spec)


def test_invalid_flags_exit_with_status_2_in_the_users_words(capsys, tmp_path):
    cases = {("--epochs", "abc"): "--epochs: expected a positive whole number, got 'abc'",
             ("--epochs", "-1"): "--epochs: expected a positive whole number, got '-1'",
             ("--lr", "nan"): "--lr: expected a finite number >= 0, got 'nan'",
             ("--seed", "-1"): "--seed: expected a whole number >= 0, got '-1'",
             ("--threads", "0"): "--threads: expected a positive whole number, got '0'",
             ("--betas", "0.9"): "--betas: expected two numbers in [0, 1)",
             ("--optimizer", "adam", "--momentum", "0.5"):
                 "--momentum does not apply to --optimizer adam",
             ("--impl", "jax"): "--impl: invalid choice: 'jax'",
             ("--optimizer", "rprop", "--etas", "0.5"):
                 "--etas: expected two finite numbers > 0 separated by a comma",
             ("--optimizer", "rprop", "--weight-decay", "0.1"):
                 "--weight-decay does not apply to --optimizer rprop",
             ("--optimizer", "adam", "--lambd", "0.1"):
                 "--lambd does not apply to --optimizer adam",
             ("--nesterov", "--momentum", "0"):
                 "--optimizer sgd: "}   # then the optimizer's own message
    file = tmp_path / "a-file"
    file.write_text("")
    cases[("--data-dir", str(file))] = f"but {str(file)!r} is a file"
    for argv, message in cases.items():
        with pytest.raises(SystemExit) as exc:
            train.main(list(argv))
        assert exc.value.code == 2, argv
        err = capsys.readouterr().err
        assert message in err, (argv, err)
        assert "argument " not in err and "invalid positive_int" not in err


def test_an_unknown_architecture_name_is_one_clear_error(capsys, tmp_path):
    assert train.main(["--arch", "resnet", "--out-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "unknown architecture 'resnet'" in err and "mnist_cnn_bn" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_cuda_without_a_gpu_is_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as exc:
        train.main(["--device", "cuda"])
    assert exc.value.code == 2
    assert "torch sees no GPU" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_torch_side_trains_on_cuda(tmp_path, mnist_root):
    record = run_train(tmp_path, mnist_root, "--device", "cuda", "--impl", "torch")
    assert record["settings"]["device"] == "cuda"
    assert record["epochs"][0]["torch"]["test_acc"] > 0.8


def test_overflow_is_one_stop_message_and_no_progress_bar_in_a_log(tmp_path, mnist_root,
                                                                   capsys):
    """--lr 1e30 overflows NumPy: no RuntimeWarning, only the stop message; and with stderr
    not a terminal (as under capsys, or redirected to a file) no progress bar is drawn."""
    argv = ["--epochs", "1", "--limit-train", "640", "--limit-test", "100", "--lr", "1e30",
            "--data-dir", str(mnist_root), "--device", "cpu", "--out-dir", str(tmp_path)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = train.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "training stopped at step" in err, err
    assert "it/s" not in err and "epoch 1/1" not in err


def test_lockstep_refuses_a_used_folder_and_makes_fresh_ones(tmp_path, mnist_root, capsys,
                                                             monkeypatch):
    used = tmp_path / "used"
    used.mkdir()
    (used / "lockstep.json").write_text("{}")
    argv = ["--steps", "1", "--limit-train", "32", "--batch-size", "32", "--data-dir",
            str(mnist_root), "--no-progress"]
    assert lockstep.main([*argv, "--out-dir", str(used)]) == 2
    assert f"--out-dir {used} already holds files of another run" in capsys.readouterr().err
    assert (used / "lockstep.json").read_text() == "{}"
    monkeypatch.chdir(tmp_path)
    assert lockstep.main(argv) == 0 and lockstep.main(argv) == 0
    folders = sorted((tmp_path / "runs" / "lockstep").iterdir())
    assert len(folders) == 2
    assert all(run_files(f) == ["drift.png", "lockstep.json"]
               for f in folders)


def test_architecture_files_round_trip_and_bad_ones_say_what_is_wrong(tmp_path):
    for name, build in arch.ARCHITECTURES.items():
        assert arch.from_dict(json.loads(json.dumps(arch.to_dict(build())))) == build(), name
    toml = tmp_path / "net.toml"
    toml.write_text('input_shape = [1, 28, 28]\n[[layers]]\nname = "conv1"\ntype = "Conv2d"\n'
                    'out_channels = 4\nkernel_size = [3, 3]\n[[layers]]\nname = "flat"\n'
                    'type = "Flatten"\n[[layers]]\nname = "fc"\ntype = "Linear"\n'
                    'out_features = 10\n')
    net = arch.load(toml)
    assert net.layers[0][1] == arch.Conv2d(4, (3, 3)) and net.shapes()[2] == (4 * 26 * 26,)
    good = {"name": "conv1", "type": "Conv2d", "out_channels": 4, "kernel_size": 3}
    cases = [
        ({"type": "Conv3d"}, "unknown type 'Conv3d'; known types: "),
        ({"size": 2}, "Conv2d has no field(s) ['size']; its fields: out_channels"),
        ({"kernel_size": None, "out_channels": None}, "cannot take input"),
        ({"name": "conv 1"}, "'name' must be an identifier"),
    ]
    for change, message in cases:
        layer = {**good, **change}
        with pytest.raises(arch.ArchitectureFileError, match=re.escape(message)):
            arch.from_dict({"input_shape": [1, 28, 28], "layers": [layer]}, "f.json")
    with pytest.raises(arch.ArchitectureFileError, match=r"needs field\(s\) \['kernel_size'\]"):
        arch.from_dict({"input_shape": [1, 28, 28],
                        "layers": [{"name": "c", "type": "Conv2d", "out_channels": 4}]})
    with pytest.raises(arch.ArchitectureFileError, match="is not valid JSON"):
        (tmp_path / "bad.json").write_text("{")
        arch.load(tmp_path / "bad.json")
