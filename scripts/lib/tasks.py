"""What training does with an architecture's task (:mod:`scratch.arch.task`).

One class per task holds everything that depends on it: the target of a batch, the loss
(by its ``torch.nn.functional`` name; scratch's module is :data:`SCRATCH_LOSSES`' entry),
the score a step adds to the epoch's totals, the metrics after an epoch, the output shape
the data needs, the cross-evaluation of the two implementations and the lines printed.
The loop (:mod:`.training`), the twins (:mod:`.twins`), :mod:`.fit` and the plots read
these, so none of them branches on the task. :func:`for_architecture` picks the class.

- :class:`ClassificationTask`: target the label; accuracy.
- :class:`ReconstructionTask`: target the input image as pixels in [0, 1]; the loss, the
  mean squared error of the reconstructed pixels and its PSNR.
"""
from __future__ import annotations

import math

import numpy as np

from scratch import arch as A
from scratch import nn
from scripts.lib.errors import ArchitectureMismatch
from scripts.lib.images import pixels

NUM_CLASSES = 10
"""MNIST's classes: the digits 0-9."""

SCRATCH_LOSSES = {"cross_entropy": nn.CrossEntropyLoss, "nll_loss": nn.NLLLoss,
                  "binary_cross_entropy_with_logits": nn.BCEWithLogitsLoss,
                  "mse_loss": nn.MSELoss}
"""``torch.nn.functional`` loss name -> the scratch module computing it (mean reduction)."""


def psnr(mse: float) -> float:
    """Peak signal-to-noise ratio in dB of pixels in [0, 1]: ``10 log10(1 / mse)``."""
    return 10 * math.log10(1 / mse) if mse > 0 else math.inf


class ClassificationTask:
    """Target: the label. Score of a step: its correct predictions; metrics: accuracy."""
    score_key = "correct"
    definitions: dict = {}
    """What the task adds to (or changes in) a training record's ``definitions``."""
    lockstep_definitions: dict = {}
    """The same for a lockstep record."""
    sample_images = 0
    """Test images a run shows with their predictions (``samples.png``): none."""

    def __init__(self, architecture: A.Architecture):
        last = architecture.layers[-1][1] if architecture.layers else None
        self.loss = "nll_loss" if isinstance(last, A.LogSoftmax) else "cross_entropy"

    def target(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return y

    def score(self, out: np.ndarray, target: np.ndarray) -> int:
        return int((out.argmax(axis=1) == target).sum())

    def predict(self, out: np.ndarray) -> np.ndarray:
        return out.argmax(axis=1)

    def prediction_shape(self, n: int, sample_shape: tuple) -> tuple:
        return (n,)

    def check_output(self, architecture: A.Architecture, out: tuple, where: str) -> None:
        if tuple(out) != (NUM_CLASSES,):
            last = architecture.layers[-1][0] if architecture.layers else "the last layer"
            hint = ("add a Flatten before the first Linear" if len(out) > 1
                    else f"make the last Linear's out_features {NUM_CLASSES}")
            raise ArchitectureMismatch(
                f"{where}: the network ends in shape {list(out)} (after {last!r}), but MNIST "
                f"has {NUM_CLASSES} classes, so it must end in [{NUM_CLASSES}]: {hint}")

    def epoch_metrics(self, twin, totals: dict, test_x, test_y) -> dict:
        return dict(train_acc=totals["correct"] / totals["seen"],
                    test_acc=float((twin.predict(test_x) == test_y).mean()))

    def cross(self, own, other, test_x, test_y) -> dict:
        """``own``, ``other``: one model's predictions in its implementation and in the other."""
        return dict(agreement=float((own == other).mean()), disagreements=int((own != other).sum()),
                    accuracy_in_source=float((own == test_y).mean()),
                    accuracy_in_target=float((other == test_y).mean()))

    def epoch_line(self, metrics: dict) -> str:
        return f"test acc {metrics['test_acc']:.2%}"

    def final_line(self, metrics: dict) -> str:
        return f"final test accuracy {metrics['test_acc']:.2%}"

    def cross_line(self, key: str, value: dict) -> str:
        return f"{key}: predictions agree on {value['agreement']:.2%} of the test set"

    def headline(self, metrics: dict) -> float:
        """The number a table reports (higher is better): the test accuracy."""
        return metrics["test_acc"]

    def table_cell(self, value: float, difference: bool = False) -> str:
        """:meth:`headline`'s value (or a difference of two) as a table shows it."""
        return f"{100 * value:+.2f}" if difference else f"{100 * value:.2f}%"


class ReconstructionTask:
    """Target: the input image, pixels in [0, 1] (:func:`~scripts.lib.images.pixels`).
    Score of a step: the squared error of its reconstructed pixels (the sigmoid of logits,
    or the output itself); metrics: that error per pixel (MSE) and its PSNR, on the
    training images (running, before each step's update) and on the test images."""
    score_key = "squared_error"
    sample_images = 10
    """Test images a run shows with each twin's reconstruction (``samples.png``)."""
    definitions = {
        "epochs[].<impl>.train_mse": "mean over the epoch's training pixels of (reconstructed "
                                     "pixel - input pixel)**2, pixels in [0, 1], by the "
                                     "weights of the moment (before each step's update)",
        "epochs[].<impl>.train_psnr": "10*log10(1/train_mse), in dB",
        "epochs[].<impl>.test_loss": "mean reconstruction loss over the test images (first "
                                     "limit_test) after the epoch, in eval mode, no L2 term",
        "epochs[].<impl>.test_mse": "mean over the test pixels of (reconstructed - input)**2 "
                                    "after the epoch, in eval mode",
        "epochs[].<impl>.test_psnr": "10*log10(1/test_mse), in dB (higher is better)",
        "reconstruction": "the network's output holds logits (reconstructed pixels: their "
                          "sigmoid) with BCEWithLogitsLoss, the pixels themselves with "
                          "MSELoss; the target is the input image with its pixels in [0, 1]",
        "cross_evaluation": "each model's final weights loaded into the other implementation: "
                            "largest difference between the two reconstructions of any "
                            "test pixel, and the test MSE in each",
        "epochs[].<impl>.loss": "mean over the epoch's steps (weighted by batch size) of the "
                                "training objective: the reconstruction loss of the batch "
                                "(mean over its pixels) + 0.5*l2*sum(w**2) over conv, "
                                "transposed conv and linear weights, before that step's "
                                "update",
        "loss": "the reconstruction loss (torch.nn.functional name) between the output and "
                "the input's pixels in [0, 1]",
    }
    lockstep_definitions = {
        "steps[].scratch_loss, torch_loss": "each side's training objective (reconstruction "
                                            "loss against the input's pixels + L2 term) on "
                                            "the step's batch, before its update",
        "loss": definitions["loss"],
    }

    def __init__(self, architecture: A.Architecture):
        task = architecture.task
        self.loss = {"BCEWithLogitsLoss": "binary_cross_entropy_with_logits",
                     "MSELoss": "mse_loss"}[task.loss]
        self.logits = task.output == "logits"

    def target(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return pixels(x)

    def predict(self, out: np.ndarray) -> np.ndarray:
        """The reconstructed pixels: the sigmoid of logits (computed without overflow), or
        the output itself."""
        return np.exp(-np.logaddexp(0, -out)) if self.logits else out

    def score(self, out: np.ndarray, target: np.ndarray) -> float:
        return float(((self.predict(out) - target) ** 2).sum())

    def prediction_shape(self, n: int, sample_shape: tuple) -> tuple:
        return (n, *sample_shape)

    def check_output(self, architecture: A.Architecture, out: tuple, where: str) -> None:
        shape = list(architecture.input_shape)
        if list(out) != shape:
            last = architecture.layers[-1][0] if architecture.layers else "the last layer"
            raise ArchitectureMismatch(
                f"{where}: the network ends in shape {list(out)} (after {last!r}), but a "
                f"reconstruction must end in the input's shape {shape}: check the decoder's "
                f"strides, padding and output_padding")

    def epoch_metrics(self, twin, totals: dict, test_x, test_y) -> dict:
        per_image = math.prod(test_x.shape[1:])
        train_mse = totals["squared_error"] / (totals["seen"] * per_image)
        test_mse = float(((twin.predict(test_x) - pixels(test_x)) ** 2).mean())
        return dict(train_mse=train_mse, train_psnr=psnr(train_mse),
                    test_loss=twin.evaluate(test_x, test_y), test_mse=test_mse,
                    test_psnr=psnr(test_mse))

    def cross(self, own, other, test_x, test_y) -> dict:
        """``own``, ``other``: one model's reconstructions in its implementation and in the
        other."""
        target = pixels(test_x)
        return dict(max_abs_difference=float(np.abs(own - other).max()),
                    mse_in_source=float(((own - target) ** 2).mean()),
                    mse_in_target=float(((other - target) ** 2).mean()))

    def epoch_line(self, metrics: dict) -> str:
        return f"test MSE {metrics['test_mse']:.5f} (PSNR {metrics['test_psnr']:.2f} dB)"

    def final_line(self, metrics: dict) -> str:
        return (f"final test reconstruction MSE {metrics['test_mse']:.5f} (PSNR "
                f"{metrics['test_psnr']:.2f} dB), loss {metrics['test_loss']:.5f}")

    def cross_line(self, key: str, value: dict) -> str:
        return (f"{key}: reconstructions differ by at most {value['max_abs_difference']:.2e} "
                f"per pixel")

    def headline(self, metrics: dict) -> float:
        """The number a table reports (higher is better): the test PSNR in dB."""
        return metrics["test_psnr"]

    def table_cell(self, value: float, difference: bool = False) -> str:
        return f"{value:+.2f} dB" if difference else f"PSNR {value:.2f} dB"


TASKS = {A.Classification: ClassificationTask, A.Reconstruction: ReconstructionTask}
"""The architecture's task type -> what training does with it."""


def for_architecture(architecture: A.Architecture):
    """The training side of ``architecture.task``."""
    return TASKS[type(architecture.task)](architecture)
