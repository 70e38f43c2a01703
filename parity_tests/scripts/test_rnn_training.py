"""The sequence models (``mnist_rnn``, ``mnist_lstm``, ``mnist_gru``) trained by scripts.train and
scripts.lockstep with gradient clipping (``--clip-grad-norm``): both sides clip, to the
same norm, and step in lockstep; clipping changes the step by exactly the factor
``max_norm / (norm + 1e-6)``; a clipped run resumes exactly and cross-evaluates."""
from __future__ import annotations

import json
import signal

import numpy as np
import pytest

from parity_tests.helpers import assert_close
from scratch import arch
from scripts import train
from scripts.lib import drift, training
from scripts.lib.artifacts import load_npz
from scripts.lib.twins import make_twins

SGD = dict(momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0)


def lockstep_record(tmp_path, data_dir, *extra):
    args, settings, architecture = drift.parse(
        ["--steps", "3", "--limit-train", "96", "--batch-size", "32", "--dtype", "float64",
         "--out-dir", str(tmp_path), "--data-dir", str(data_dir), "--no-progress", *extra])
    return drift.lockstep(settings, tmp_path, data_dir=data_dir, architecture=architecture,
                             show_progress=False)


@pytest.mark.parametrize("name, norm_type, resync", [("mnist_rnn", "2", []),
                                                     ("mnist_lstm", "inf", ["--resync"])])
def test_clipped_sequence_models_step_in_lockstep_in_float64(tmp_path, mnist_root, name,
                                                             norm_type, resync):
    """Every step really clips (the norm before clipping exceeds MAX on both sides), both
    sides measure the same norm, and three steps leave the weights equal to rounding
    (with --resync as well, which copies torch's weights into scratch after each step)."""
    max_norm = 0.02
    record = lockstep_record(tmp_path, mnist_root, "--arch", name, "--clip-grad-norm",
                             str(max_norm), "--clip-grad-norm-type", norm_type, *resync)
    assert record["settings"]["resync"] == bool(resync)
    assert record["settings"]["clip_grad_norm"] == max_norm
    assert record["settings"]["clip_grad_norm_type"] == float(norm_type)
    assert "--clip-grad-norm 0.02" in record["command"]
    for row in record["steps"]:
        s, t = row["scratch_grad_norm"], row["torch_grad_norm"]
        assert s > 2 * max_norm, row
        assert abs(s - t) <= 1e-13 * t, row
    summary = record["summary"]
    assert summary["largest_max_rel_param_diff"] < 1e-10, summary
    assert summary["max_abs_loss_diff"] < 1e-10, summary
    assert summary["scratch_grad_norm_max"] == max(r["scratch_grad_norm"]
                                                   for r in record["steps"])
    saved = json.loads((tmp_path / "lockstep.json").read_text())
    assert saved["architecture"] == arch.to_dict(arch.ARCHITECTURES[name]())


@pytest.mark.parametrize("name", ["mnist_rnn", "mnist_lstm", "mnist_gru"])
def test_clipping_scales_the_step_by_max_norm_over_the_norm(name):
    """Plain SGD, one step from the same weights on the same batch: the clipped update is
    the unclipped one times max_norm / (norm + 1e-6) on both sides (so clipping changes
    the result), and a MAX above the norm leaves the step bit for bit unchanged."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 1, 28, 28)), rng.integers(0, 10, 16)
    network = arch.ARCHITECTURES[name]()

    def updates(clip):
        twins = make_twins(network, 0, "float64", "cpu", "sgd", SGD, 0.0,
                           clip_grad_norm=clip)
        before = twins["scratch"].state_dict()
        out = {}
        for side, twin in twins.items():
            twin.step(x, y, 0.1)
            after = twin.state_dict()
            out[side] = ({k: after[k] - before[k] for k in before}, twin.last_grad_norm)
        return out

    free, clipped, loose = updates(None), updates(1e-3), updates(1e3)
    for side in ("scratch", "torch"):
        (d_free, no_norm), (d_clip, norm), (d_loose, loose_norm) = (
            free[side], clipped[side], loose[side])
        assert no_norm is None and norm > 1e-2 and loose_norm == norm
        factor = 1e-3 / (norm + 1e-6)
        for k in d_free:
            assert_close(d_clip[k], factor * d_free[k], 1e-9,
                         1e-12 * np.abs(d_free[k]).max(), f"{side} {k}")
            assert not np.allclose(d_clip[k], d_free[k]), f"{side} {k}: clipping did nothing"
            np.testing.assert_array_equal(d_loose[k], d_free[k], err_msg=f"{side} {k}")


def train_flags(out_dir, data_dir):
    return ["--arch", "mnist_rnn", "--epochs", "2", "--limit-train", "96", "--limit-test",
            "100", "--batch-size", "32", "--dtype", "float64", "--clip-grad-norm", "0.05",
            "--data-dir", str(data_dir), "--device", "cpu", "--no-progress", "--out-dir",
            str(out_dir)]


def test_a_clipped_rnn_run_resumes_exactly_and_cross_evaluates(tmp_path, mnist_root,
                                                                monkeypatch):
    """Uninterrupted vs stopped by SIGINT in the middle of epoch 1 and resumed: the same
    weights and the same per-epoch gradient norms; each model's weights give the same
    predictions in the other implementation."""
    assert train.main(train_flags(tmp_path / "a", mnist_root)) == 0
    whole = json.loads((tmp_path / "a" / "metrics.json").read_text())
    for epoch in whole["epochs"]:
        for side in ("scratch", "torch"):
            e = epoch[side]
            assert e["clipped_steps"] == 3 and e["grad_norm_max"] >= e["grad_norm_mean"] > 0.05
    for key, value in whole["cross_evaluation"].items():
        assert value["agreement"] == 1.0, key

    calls, timed_step = [], training._timed_step

    def interrupt_at_second_step(*args):
        calls.append(1)
        if len(calls) == 4:            # the second step of both twins
            signal.raise_signal(signal.SIGINT)
        return timed_step(*args)

    monkeypatch.setattr(training, "_timed_step", interrupt_at_second_step)
    assert train.main(train_flags(tmp_path / "b", mnist_root)) == 128 + signal.SIGINT
    monkeypatch.setattr(training, "_timed_step", timed_step)
    assert not (tmp_path / "b" / "metrics.json").exists()
    assert train.main([*train_flags(tmp_path / "b", mnist_root), "--resume"]) == 0
    resumed = json.loads((tmp_path / "b" / "metrics.json").read_text())
    for a, b in zip(whole["epochs"], resumed["epochs"]):
        for side in ("scratch", "torch"):
            for k in ("loss", "test_acc", "grad_norm_mean", "grad_norm_max", "clipped_steps"):
                assert a[side][k] == b[side][k], (side, k)
    for impl in ("scratch",):
        a, b = (load_npz(tmp_path / run / f"{impl}_weights.npz") for run in "ab")
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_rnn_gradients_writes_both_curves_and_its_environment(tmp_path, mnist_root):
    """A small run of scripts.rnn_gradients: scratch and torch give the same ||dL/dh_t||
    at every step, before and after two clipped steps, and the JSON says how it ran."""
    from scripts import rnn_gradients
    assert rnn_gradients.main(["--cells", "rnn", "lstm", "gru", "--hidden", "8", "--probe", "16",
                               "--train-steps", "2", "--limit-train", "64", "--dtype", "float64",
                               "--threads", "1",
                               "--data-dir", str(mnist_root), "--out-dir",
                               str(tmp_path)]) == 0
    record = json.loads((tmp_path / "gradients.json").read_text())
    assert record["environment"]["torch_threads"] == 1
    assert record["config"]["clip_grad_norm"] == 1.0
    for cell in ("rnn", "lstm", "gru"):
        for when in ("init", "trained"):
            curves = record["results"][cell][when]
            assert len(curves["scratch"]) == 28
            assert_close(curves["scratch"], curves["torch"], 1e-10, name="curve")
    assert (tmp_path / "gradients.png").stat().st_size > 0
