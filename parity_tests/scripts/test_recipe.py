"""Schedulers by flag, parameter groups, the loss chosen from the architecture, shared
dropout masks, and pytorch/examples' MNIST recipe: float64 lockstep and exact resume.

The twin-level tests use small random images (no MNIST) so they stay fast; the
command-line tests use a few hundred MNIST images.
"""
from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch

from reference import dropout as RD
from scratch import arch, nn
from scripts.lib import drift, training
from scripts.lib.checkpoint import Checkpoints
from scripts.lib.drift import run_lockstep
from scripts.lib.optimizers import resolve_hyperparameters
from scripts.lib.schedulers import SCHEDULERS, resolve_arguments
from scripts.lib.twins import loss_name, make_twins

RECIPE = "pytorch-examples-mnist"


def images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 28, 28)), rng.integers(0, 10, n)


def twins_for(architecture, optimizer, lr, scheduler=None, args="", interval="step",
              length=8, **hyper_given):
    hyper = resolve_hyperparameters(optimizer, hyper_given)
    twins = make_twins(architecture, 0, "float64", "cpu", optimizer, hyper, 0.0, lr=lr)
    if scheduler:
        training.attach_schedulers(twins, scheduler, args, interval, length, length)
    return twins


# --------------------------------------------------------------------------- schedulers
SCHEDULER_CASES = {
    "steplr": "step_size=2,gamma=0.5",
    "multisteplr": "milestones=2:5,gamma=0.3",
    "exponentiallr": "gamma=0.8",
    "linearlr": "start_factor=0.2",
    "constantlr": "factor=0.5,total_iters=3",
    "polynomiallr": "power=2.0",
    "cosineannealinglr": "eta_min=0.001",
    "onecyclelr": "max_lr=0.1",
    "plateau": "patience=0,factor=0.5,threshold=10.0",
}


def test_every_scheduler_of_the_registry_is_tried():
    assert set(SCHEDULER_CASES) == set(SCHEDULERS)


@pytest.mark.parametrize("name", sorted(SCHEDULER_CASES))
def test_each_scheduler_steps_its_own_twin_in_float64_lockstep(name):
    """8 steps of SGD with momentum, the scheduler stepped after every step (plateau: each
    2-step 'epoch', on the mean training loss, with a threshold no loss meets, so it
    halves the lr): both sides use the same lr at every step and it does change."""
    x, y = images(16)
    interval = "epoch" if name == "plateau" else "step"
    twins = twins_for(arch.mnist_cnn(channels=(4, 8), hidden=16), "sgd", 0.05, name,
                      SCHEDULER_CASES[name], interval, length=8)
    assert type(twins["scratch"].scheduler).__name__ == type(twins["torch"].scheduler).__name__
    assert twins["scratch"].scheduler.optimizer is twins["scratch"].opt
    assert twins["torch"].scheduler.optimizer is twins["torch"].opt
    rows = run_lockstep(twins, x, y, steps=8, batch_size=8, seed=0, schedule="constant",
                        lr=0.05, show_progress=False, scheduler_interval=interval)
    lrs = [r["scratch_lr"] for r in rows]
    assert lrs == [r["torch_lr"] for r in rows]        # exactly, step by step
    assert len(set(lrs)) > 1, lrs
    assert rows[-1]["max_rel_param_diff"] < 1e-10, rows[-1]


def test_scheduler_arguments_default_to_the_run_length_and_refuse_unknown_ones():
    assert resolve_arguments("cosineannealinglr", "", 42)["T_max"] == 42
    assert resolve_arguments("cosineannealinglr", "T_max=7", 42)["T_max"] == 7
    assert resolve_arguments("multisteplr", "milestones=3:6", 1)["milestones"] == [3, 6]
    with pytest.raises(ValueError, match="milestones=..."):
        resolve_arguments("multisteplr", "", 1)
    with pytest.raises(ValueError, match="step_size, gamma"):
        resolve_arguments("steplr", "stepsize=3", 1)


# --------------------------------------------------------------------------- groups, loss
def test_no_decay_bias_norm_groups_by_name_on_both_sides_and_stays_in_lockstep():
    x, y = images(24)
    hyper = resolve_hyperparameters("adamw", dict(weight_decay=0.5))
    twins = make_twins(arch.mnist_cnn_bn(channels=(4, 8), hidden=16), 0, "float64", "cpu",
                       "adamw", hyper, 0.0, lr=0.01, no_decay_bias_norm=True)
    decayed = {"conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"}
    for twin in twins.values():
        named = dict(twin.model.named_parameters())
        ids = {id(p): n for n, p in named.items()}
        groups = twin.opt.param_groups
        assert [g["weight_decay"] for g in groups] == [0.5, 0.0]
        assert {ids[id(p)] for p in groups[0]["params"]} == decayed
        assert {ids[id(p)] for p in groups[1]["params"]} == set(named) - decayed
    rows = run_lockstep(twins, x, y, steps=3, batch_size=8, seed=0, schedule="constant",
                        lr=0.01, show_progress=False)
    assert rows[-1]["max_rel_param_diff"] < 1e-10, rows[-1]


def test_no_decay_names_are_biases_and_norm_parameters_for_every_architecture():
    from scratch import model
    from scripts.lib.twins import no_decay_names
    lstm = model.build(arch.mnist_lstm())
    assert no_decay_names(lstm) == {"lstm.bias_ih_l0", "lstm.bias_hh_l0", "fc.bias"}
    bn = model.build(arch.mnist_cnn_bn(channels=(4, 8), hidden=16))
    assert no_decay_names(bn) == {"bn1.weight", "bn1.bias", "act1.weight", "bn2.weight",
                                  "bn2.bias", "act2.weight", "bn3.weight", "bn3.bias",
                                  "act3.weight", "fc2.bias"}


def test_the_loss_follows_the_architecture():
    assert loss_name(arch.pytorch_examples_mnist()) == "nll_loss"
    assert {loss_name(build()) for name, build in arch.ARCHITECTURES.items()
            if name != "pytorch_examples_mnist"
            and build().task == arch.Classification()} == {"cross_entropy"}
    twins = twins_for(arch.pytorch_examples_mnist(), "adadelta", 1.0)
    assert isinstance(twins["scratch"].loss_fn, nn.NLLLoss)
    assert twins["torch"].loss_fn is torch.nn.functional.nll_loss


def test_the_twins_share_dropout_masks_drawn_by_torch():
    x, y = images(8)
    twins = twins_for(arch.pytorch_examples_mnist(), "adadelta", 1.0)
    torch.manual_seed(0)
    for name in ("torch", "scratch"):
        twins[name].step(x, y, None)
    layers = {n: m for n, m in twins["torch"].model.named_modules() if isinstance(m, RD.Dropout)}
    assert sorted(layers) == ["dropout1", "dropout2"]
    for n, layer in layers.items():
        mask = layer.last_mask.numpy()
        assert 0 < mask.mean() < 1                               # a real draw
        np.testing.assert_array_equal(twins["scratch"].model.layers[n].mask, mask)


# --------------------------------------------------------------------------- resume
@pytest.mark.parametrize("arch_name, optimizer, scheduler, args, interval", [
    ("pytorch_examples_mnist", "adadelta", "steplr", "step_size=1,gamma=0.7", "epoch"),
    ("mnist_cnn", "sgd", "onecyclelr", "max_lr=0.1", "step"),
    ("mnist_cnn", "sgd", "plateau", "patience=0,threshold=10.0", "epoch"),
])
def test_a_run_with_a_scheduler_resumes_bit_for_bit(tmp_path, arch_name, optimizer, scheduler,
                                                     args, interval):
    """Epoch 1, a checkpoint, fresh twins (and a scrambled torch RNG) restored from it,
    epoch 2: the same weights, optimizer and scheduler states, records and lrs as two
    epochs without a stop. (float32: bit-for-bit equality does not depend on the dtype,
    and the recipe's checkpoints are half the size.)"""
    x, y = (a.astype(np.float32) if a.dtype.kind == "f" else a for a in images(8))
    tx, ty = (a.astype(np.float32) if a.dtype.kind == "f" else a for a in images(4, seed=1))
    architecture = arch.ARCHITECTURES[arch_name]()
    settings = dict(scheduler=scheduler, scheduler_args=args, scheduler_interval=interval)
    hyper = resolve_hyperparameters(optimizer, {})
    lr = 1.0 if optimizer == "adadelta" else 0.05

    def fresh():
        twins = make_twins(architecture, 0, "float32", "cpu", optimizer, hyper, 0.0, lr=lr)
        training.attach_schedulers(twins, scheduler, args, interval, 2 * 2, 2)
        return twins

    def run(twins, progress, checkpoints, epochs):
        with contextlib.redirect_stdout(io.StringIO()):
            training.train_epochs(twins, (x, y, tx, ty), progress, checkpoints, epochs=epochs,
                               batch_size=4, seed=0, schedule="constant", lr=lr,
                               dry_run=False, show_progress=False, scheduler_interval=interval)

    torch.manual_seed(0)
    straight = fresh()
    progress_a = training.fresh_progress(straight)
    run(straight, progress_a, Checkpoints(tmp_path / "a.npz", settings), 2)

    torch.manual_seed(0)
    first = fresh()
    checkpoints = Checkpoints(tmp_path / "b.npz", settings)
    run(first, training.fresh_progress(first), checkpoints, 1)
    torch.manual_seed(12345)
    resumed = fresh()
    with contextlib.redirect_stdout(io.StringIO()):
        progress_b = checkpoints.restore(resumed)
    run(resumed, progress_b, checkpoints, 2)

    strip = lambda epochs: [{k: ({kk: vv for kk, vv in v.items() if kk != "seconds"}  # noqa: E731
                                 if isinstance(v, dict) else v) for k, v in e.items()}
                            for e in epochs]
    assert strip(progress_a["epochs"]) == strip(progress_b["epochs"])
    assert progress_a["epochs"][0]["torch"]["lr_end"] != progress_a["epochs"][1]["torch"][
        "lr_end"] or scheduler == "onecyclelr"
    for name in straight:
        a, b = straight[name], resumed[name]
        for part in ("state_dict", "optimizer_state"):
            sa, sb = getattr(a, part)(), getattr(b, part)()
            assert sa.keys() == sb.keys()
            for key in sa:
                np.testing.assert_array_equal(sa[key], sb[key], err_msg=f"{name} {part} {key}")
        assert json.dumps(a.scheduler.state_dict(), sort_keys=True, default=str) == json.dumps(
            b.scheduler.state_dict(), sort_keys=True, default=str)


# --------------------------------------------------------------------------- command line
def test_the_recipe_steps_in_float64_lockstep_and_is_recorded(tmp_path, mnist_root):
    """4 steps of the recipe on 32 MNIST images (2 batches of 16 per epoch): StepLR
    multiplies both lrs by 0.7 after epoch 1, NLL loss, shared dropout; drift < 1e-10."""
    args, settings, architecture = drift.parse([
        "--recipe", RECIPE, "--limit-train", "32", "--batch-size", "16", "--steps", "4",
        "--data-dir",
        str(mnist_root), "--no-progress", "--out-dir", str(tmp_path)])
    assert settings.recipe == RECIPE and settings.optimizer == "adadelta"
    assert (settings.scheduler, settings.scheduler_args, settings.l2) == (
        "steplr", "step_size=1,gamma=0.7", 0.0)
    record = drift.lockstep(settings, tmp_path, data_dir=mnist_root, show_progress=False)
    assert record["loss"] == "nll_loss"
    assert [r["torch_lr"] for r in record["steps"]] == [1.0, 1.0, 0.7, 0.7]
    assert [r["scratch_lr"] for r in record["steps"]] == [1.0, 1.0, 0.7, 0.7]
    assert record["summary"]["final_max_rel_param_diff"] < 1e-10, record["summary"]
    assert record["summary"]["max_abs_loss_diff"] < 1e-10
    saved = json.loads((tmp_path / "lockstep.json").read_text())
    assert saved["settings"]["recipe"] == RECIPE and "--recipe" in saved["command"]


def test_flags_override_the_recipe_and_bad_scheduler_flags_are_refused(capsys):
    _, settings, _ = training.parse(["--recipe", RECIPE, "--epochs", "2", "--lr", "0.5",
                                  "--no-decay-bias-norm"])
    assert (settings.epochs, settings.lr, settings.batch_size) == (2, 0.5, 64)
    assert settings.arch == "pytorch_examples_mnist" and settings.no_decay_bias_norm
    _, plain, _ = training.parse([])
    assert (plain.schedule, plain.scheduler) == ("cosine", "none")
    for bad, says in [(["--scheduler", "steplr", "--schedule", "cosine"], "both set"),
                      (["--scheduler", "multisteplr"], "milestones=..."),
                      (["--scheduler", "steplr", "--scheduler-args", "gama=2"], "gama=2"),
                      (["--scheduler-args", "gamma=2"], "need a --scheduler"),
                      (["--optimizer", "adadelta", "--scheduler", "onecyclelr",
                        "--scheduler-args", "max_lr=1.0"], "momentum")]:
        with pytest.raises(SystemExit) as exit_info:
            training.parse(bad)
        assert exit_info.value.code == 2
        assert says in capsys.readouterr().err


SMALL_DROPOUT_NET = arch.Architecture(input_shape=(1, 28, 28), layers=(
    ("conv1", arch.Conv2d(4, 3)), ("relu1", arch.ReLU()), ("pool", arch.MaxPool2d(2)),
    ("dropout1", arch.Dropout(0.25)), ("flatten", arch.Flatten()), ("fc1", arch.Linear(10)),
    ("log_softmax", arch.LogSoftmax(dim=1))))


def test_a_scratch_only_run_with_dropout_resumes_with_the_same_masks(tmp_path):
    """Without the torch twin, scratch draws its own masks: the checkpoint keeps the state
    of their generator, so the resumed epoch draws the masks the uninterrupted one drew."""
    x, y = images(8)
    hyper = resolve_hyperparameters("adadelta", {})
    settings = dict(scheduler="none")

    def fresh():
        return make_twins(SMALL_DROPOUT_NET, 0, "float64", "cpu", "adadelta", hyper, 0.0,
                          ("scratch",), lr=1.0)

    def run(twins, progress, checkpoints, epochs):
        with contextlib.redirect_stdout(io.StringIO()):
            training.train_epochs(twins, (x, y, x[:4], y[:4]), progress, checkpoints,
                               epochs=epochs, batch_size=4, seed=0, schedule="constant",
                               lr=1.0, dry_run=False, show_progress=False)

    straight = fresh()
    run(straight, training.fresh_progress(straight), Checkpoints(tmp_path / "a.npz", settings), 2)
    first = fresh()
    checkpoints = Checkpoints(tmp_path / "b.npz", settings)
    run(first, training.fresh_progress(first), checkpoints, 1)
    resumed = fresh()                       # its generator is back at the build seed
    with contextlib.redirect_stdout(io.StringIO()):
        progress = checkpoints.restore(resumed)
    run(resumed, progress, checkpoints, 2)
    a, b = straight["scratch"].state_dict(), resumed["scratch"].state_dict()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
