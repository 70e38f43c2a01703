"""The convolutional autoencoder (``mnist_autoencoder``) and the reconstruction task.

Built both ways from one Architecture, the two models give the same output, input
gradient and every parameter gradient for a random upstream gradient (float64 to
rounding, float32 within the whole-model budget of ``helpers.tolerance``: rtol 1e-5 and
1e-5 per summed term, the terms counted by ``model_helpers.model_reduction``). The
spec's shape walk is what a real forward produces. Trained both ways, each step's loss
is the architecture's loss against the input's own pixels (computed here from the raw
uint8 images), the twins agree step by step, the epoch's metrics are the per-pixel
means they claim to be, and a run stopped mid-epoch and resumed ends bit for bit where
an uninterrupted one ends.
"""
from __future__ import annotations

import json
import math
import os
import signal

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import assert_parity, dtypes
from parity_tests.model_helpers import model_reduction, twins
from reference import convert
from reference import model as reference_model
from scratch import arch as A
from scripts import train
from scripts.lib import training
from scripts.lib.checkpoint import load_checkpoint
from scripts.lib.errors import ArchitectureMismatch
from scripts.lib.fit import check_shapes
from scripts.lib.images import normalize, pixels
from scripts.lib.plots import curves_figure
from scripts.lib.twins import make_twins, penalised_names

LOSSES = sorted(A.RECONSTRUCTION_LOSSES)
SGD = dict(momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0)
ADAM = dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False)


def small_autoencoders():
    return st.builds(A.mnist_autoencoder, channels=st.tuples(st.integers(1, 4),
                                                             st.integers(1, 3)),
                     loss=st.sampled_from(LOSSES))


def raw_images(n, seed):
    """uint8 (n, 28, 28) images with MNIST-like structure: mostly black, some strokes."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
    images[rng.random((n, 28, 28)) < 0.7] = 0
    return images


def scratch_shapes(model, x):
    shapes = [tuple(x.shape[1:])]
    for layer in model.layers.values():
        x = layer.forward(x)
        shapes.append(tuple(x.shape[1:]))
    return shapes


# --------------------------------------------------------------------------- the model
@dtypes
@S.fewer_examples(1 / 3)   # whole networks
@given(architecture=small_autoencoders(), seed=S.SEEDS, n=st.integers(1, 3))
def test_autoencoder_forward_and_gradients_match_torch(architecture, seed, n, dtype):
    """Output, input gradient and every parameter gradient, upstream gradient random."""
    scratch, mirror = twins(architecture, dtype, seed % 2**16)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *architecture.input_shape)).astype(dtype)
    dout = rng.standard_normal((n, *architecture.input_shape)).astype(dtype)
    out = scratch.forward(x)
    dx = scratch.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    t_out = mirror(tx)
    t_out.backward(torch.from_numpy(dout))
    grads = {name: p.grad for name, p in scratch.named_parameters()}
    t_grads = {name: p.grad for name, p in mirror.named_parameters()}
    k = model_reduction(architecture, n)
    assert_parity(dict(out=out, dx=dx, **grads), dict(out=t_out, dx=tx.grad, **t_grads), dtype,
                  reductions={name: k for name in ["out", "dx", *grads]})


@S.fewer_examples(1 / 3)
@given(architecture=small_autoencoders(), seed=S.SEEDS)
def test_spec_walk_shapes_equal_a_real_forward(architecture, seed):
    """Every layer's computed shape is what the scratch layer produces, and the network
    ends in the input's shape, as a reconstruction must."""
    scratch, _ = twins(architecture, np.float64, seed % 2**16)
    x = np.random.default_rng(seed).standard_normal((2, *architecture.input_shape))
    assert scratch_shapes(scratch, x) == architecture.shapes()
    assert architecture.shapes()[-1] == architecture.input_shape


@pytest.mark.parametrize("output_padding, size", [(0, 11), (1, 12)])
def test_transposed_conv_spec_shape_follows_output_padding(output_padding, size):
    spec = A.ConvTranspose2d(3, 3, stride=2, padding=1, output_padding=output_padding)
    layers = (("up", spec),)
    architecture = A.Architecture((2, 6, 6), layers)
    scratch, mirror = twins(architecture, np.float64)
    x = np.zeros((1, 2, 6, 6))
    assert architecture.shapes()[-1] == (3, size, size)
    assert scratch.forward(x).shape[1:] == tuple(mirror(torch.from_numpy(x)).shape[1:])
    with pytest.raises(ValueError, match="output_padding 2 must be smaller"):
        A.Architecture((2, 6, 6), (("up", A.ConvTranspose2d(3, 3, 2, output_padding=2)),)
                       ).shapes()


def test_the_default_autoencoder_fits_mnist_and_a_wrong_decoder_is_refused():
    check_shapes(A.mnist_autoencoder(), "mnist_autoencoder", (1, 28, 28))
    layers = tuple((name, A.ConvTranspose2d(1, 3, stride=2, padding=1)) if name == "dec2"
                   else (name, spec) for name, spec in A.mnist_autoencoder().layers)
    wrong = A.Architecture((1, 28, 28), layers, A.Reconstruction())
    with pytest.raises(ArchitectureMismatch, match=r"ends in shape \[1, 27, 27\].*"
                                                   r"output_padding"):
        check_shapes(wrong, "net.toml", (1, 28, 28))


def test_the_task_round_trips_through_architecture_files():
    for loss in LOSSES:
        network = A.mnist_autoencoder(loss=loss)
        data = json.loads(json.dumps(A.to_dict(network)))
        assert data["task"] == {"type": "Reconstruction", "loss": loss}
        assert A.from_dict(data) == network
    assert "task" not in A.to_dict(A.mnist_cnn())
    with pytest.raises(A.ArchitectureFileError, match="loss must be one of"):
        A.from_dict({**data, "task": {"type": "Reconstruction", "loss": "L1Loss"}})


# --------------------------------------------------------------------------- training
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_target_is_exactly_the_raw_pixels_over_255(dtype):
    """Every grey level survives the standardisation and back bit for bit."""
    levels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    target = pixels(normalize(levels, dtype))
    assert target.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(target, levels[:, None].astype(dtype) / np.asarray(255, dtype))


@pytest.mark.parametrize("loss", LOSSES)
def test_each_step_loss_is_the_loss_against_the_input_pixels(loss):
    """Both twins' objective: the architecture's loss (mean over pixels) between the
    network's output and the raw image / 255, plus 0.5 * l2 * the squared conv and
    transposed conv weights; computed here in torch from the uint8 images."""
    network, l2 = A.mnist_autoencoder(channels=(3, 2), loss=loss), 1e-2
    raw = raw_images(4, 0)
    x = normalize(raw, "float64")
    pair = make_twins(network, 0, "float64", "cpu", "sgd", SGD, l2)
    assert sorted(penalised_names(pair["scratch"].model)) == [
        "dec1.weight", "dec2.weight", "enc1.weight", "enc2.weight"]
    mirror = reference_model.build(network, dtype=torch.float64)
    convert.load_numpy_state(mirror, pair["scratch"].state_dict())
    out = mirror(torch.from_numpy(x))
    target = torch.from_numpy(raw[:, None] / 255.0)
    fn = {"BCEWithLogitsLoss": torch.nn.functional.binary_cross_entropy_with_logits,
          "MSELoss": torch.nn.functional.mse_loss}[loss]
    expected = fn(out, target, reduction="mean") + 0.5 * l2 * sum(
        (p ** 2).sum() for name, p in mirror.named_parameters() if name.endswith("weight"))
    for side in ("torch", "scratch"):
        value, _ = pair[side].step(x, np.zeros(4, dtype=np.int64), 0.01)
        assert value == pytest.approx(expected.item(), rel=1e-12), side


@pytest.mark.parametrize("optimizer, hyper, lr", [("sgd", SGD, 0.05), ("adam", ADAM, 1e-3)])
def test_a_short_training_agrees_step_by_step_in_float64(optimizer, hyper, lr):
    network = A.mnist_autoencoder()
    pair = make_twins(network, 0, "float64", "cpu", optimizer, hyper, 1e-4)
    start = pair["scratch"].state_dict()
    for step in range(4):
        x = normalize(raw_images(16, step), "float64")
        y = np.zeros(16, dtype=np.int64)
        t_loss, t_score = pair["torch"].step(x, y, lr)
        s_loss, s_score = pair["scratch"].step(x, y, lr)
        assert abs(s_loss - t_loss) <= 1e-12 * abs(t_loss), step
        assert abs(s_score - t_score) <= 1e-10 * abs(t_score), step
        s, t = pair["scratch"].state_dict(), pair["torch"].state_dict()
        for key in s:
            assert np.abs(s[key] - t[key]).max() <= 1e-10 * np.abs(t[key]).max(), (step, key)
    assert any(not np.array_equal(s[k], start[k]) for k in s)   # the steps moved the weights


def test_epoch_metrics_are_per_pixel_means_of_the_reconstruction():
    """With lr 0 the weights stay put, so the running training MSE is the MSE of the
    initial network over the training images; test MSE, PSNR and test loss are computed
    here in torch from the raw images."""
    network = A.mnist_autoencoder(channels=(3, 2))
    raw_train, raw_test = raw_images(24, 1), raw_images(10, 2)
    data = (normalize(raw_train, "float64"), np.zeros(24, dtype=np.int64),
            normalize(raw_test, "float64"), np.zeros(10, dtype=np.int64))
    pair = make_twins(network, 0, "float64", "cpu", "sgd", SGD, 0.0)
    mirror = reference_model.build(network, dtype=torch.float64)
    convert.load_numpy_state(mirror, pair["scratch"].state_dict())
    progress = training.fresh_progress(pair, "squared_error")

    class NoCheckpoints:
        path = None

        def save(self, progress, twins, **position):
            progress.update(position)
    training.train_epochs(pair, data, progress, NoCheckpoints(), epochs=1, batch_size=8,
                          seed=0, schedule="constant", lr=0.0, dry_run=False,
                          show_progress=False)

    def mse(raw):
        with torch.no_grad():
            out = torch.sigmoid(mirror(torch.from_numpy(normalize(raw, "float64"))))
        return float(((out - torch.from_numpy(raw[:, None] / 255.0)) ** 2).mean())
    with torch.no_grad():
        test_loss = float(torch.nn.functional.binary_cross_entropy_with_logits(
            mirror(torch.from_numpy(data[2])), torch.from_numpy(raw_test[:, None] / 255.0)))
    for side in ("scratch", "torch"):
        record = progress["epochs"][0][side]
        assert record["train_mse"] == pytest.approx(mse(raw_train), rel=1e-12)
        assert record["test_mse"] == pytest.approx(mse(raw_test), rel=1e-12)
        assert record["test_psnr"] == pytest.approx(10 * math.log10(1 / mse(raw_test)),
                                                    rel=1e-12)
        assert record["test_loss"] == pytest.approx(test_loss, rel=1e-12)


# --------------------------------------------------------------------------- a run
def run_flags(data_dir, out, *extra):
    return ["--arch", "mnist_autoencoder", "--optimizer", "adam", "--epochs", "2",
            "--limit-train", "128", "--limit-test", "64", "--batch-size", "32",
            "--data-dir", str(data_dir), "--device", "cpu", "--no-progress",
            "--out-dir", str(out), *extra]


def test_a_run_stopped_mid_epoch_and_resumed_ends_where_an_uninterrupted_one_ends(
        mnist_root, tmp_path, monkeypatch, capsys):
    """A SIGINT at the 5th step (epoch 2, batch 1) and --resume: the same weights,
    optimizer state and metrics as a run without a stop; the record, curves and samples
    speak of reconstruction."""
    assert train.main(run_flags(mnist_root, tmp_path / "whole")) == 0
    real_step, calls = training._timed_step, []

    def interrupted(*a, **k):
        calls.append(1)
        if len(calls) == 10:                      # 5 steps of 2 twins
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(*a, **k)
    monkeypatch.setattr(training, "_timed_step", interrupted)
    assert train.main(run_flags(mnist_root, tmp_path / "parts")) == 128 + signal.SIGINT
    monkeypatch.setattr(training, "_timed_step", real_step)
    assert train.main(run_flags(mnist_root, tmp_path / "parts", "--resume")) == 0
    _same_run(tmp_path / "whole", tmp_path / "parts")
    out = capsys.readouterr().out
    assert "final test reconstruction MSE" in out and "accuracy" not in out
    record = json.loads((tmp_path / "parts" / "metrics.json").read_text())
    assert record["loss"] == "binary_cross_entropy_with_logits"
    last = record["epochs"][-1]
    assert set(last["scratch"]) >= {"train_mse", "test_mse", "test_psnr", "test_loss"}
    assert all(r["max_abs_difference"] < 1e-5 for r in record["cross_evaluation"].values())
    assert (tmp_path / "parts" / "samples.png").stat().st_size > 0
    figure = curves_figure(record)
    metric_axis = figure.axes[1]
    assert "PSNR" in metric_axis.get_ylabel()
    shown = sorted(line.get_ydata()[-1] for line in metric_axis.get_lines())
    expected = sorted(last[side][key] for side in ("scratch", "torch")
                      for key in ("test_psnr", "train_psnr"))
    np.testing.assert_allclose(shown, expected)
    assert "BCE" in figure.axes[0].get_ylabel()


def _same_run(a, b):
    """Both implementations' weights and optimizer states bit for bit, and the same
    metrics (timings aside)."""
    (_, states_a), (_, states_b) = (load_checkpoint(d / "checkpoint.npz") for d in (a, b))
    for impl in ("scratch", "torch"):
        for part in ("model", "optim"):
            assert states_a[impl][part].keys() == states_b[impl][part].keys()
            for key, value in states_a[impl][part].items():
                np.testing.assert_array_equal(value, states_b[impl][part][key],
                                              err_msg=f"{impl} {part} {key}")

    def untimed(folder):
        epochs = json.loads((folder / "metrics.json").read_text())["epochs"]
        return [{k: ({kk: vv for kk, vv in v.items() if kk != "seconds"}
                     if isinstance(v, dict) else v) for k, v in e.items()} for e in epochs]
    assert untimed(a) == untimed(b)
