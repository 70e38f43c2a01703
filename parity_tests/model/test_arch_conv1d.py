"""The 1-D convolutional MNIST network (``mnist_conv1d``) and its Conv1d / MaxPool1d
specs: the shapes its layers are sized from, its file form, and the refusal of a 1-D layer
placed on an image. (Both builders, logits, training and resumption: test_zoo,
test_training, test_resume, test_module_args and test_arch_shapes cover it with every
named architecture and every spec family.)"""
from __future__ import annotations

import json

import numpy as np
import pytest

from scratch import arch as A
from scratch import model as scratch_model


def test_rows_become_channels_and_the_length_halves_twice():
    """28 rows as channels along 28 columns; padding 1 keeps the length, each pool halves
    it (28 -> 14 -> 7), so fc1 reads 64 * 7 features."""
    shapes = A.mnist_conv1d().shapes()
    assert shapes[1] == (28, 28)
    assert shapes[2] == (32, 28) and shapes[4] == (32, 14)
    assert shapes[5] == (64, 14) and shapes[7] == (64, 7)
    assert shapes[8] == (448,) and shapes[-1] == (10,)


def test_the_scratch_model_sees_the_image_rows_as_conv1d_channels():
    model = scratch_model.build(A.mnist_conv1d(), seed=0, dtype=np.float64)
    conv = model.layers["conv1"]
    assert (conv.in_channels, conv.out_channels, conv.weight.data.shape) == (28, 32, (32, 28, 3))
    assert model.layers["fc1"].weight.data.shape == (128, 448)


def test_mnist_conv1d_survives_its_file_form():
    architecture = A.mnist_conv1d(channels=(3, 5), hidden=7)
    assert A.from_dict(json.loads(json.dumps(A.to_dict(architecture)))) == architecture


@pytest.mark.parametrize("spec", [A.Conv1d(4, 3), A.MaxPool1d(2)])
def test_a_1d_layer_on_an_image_is_refused_naming_the_shapes(spec):
    architecture = A.Architecture((1, 28, 28), (("layer", spec),))
    with pytest.raises(ValueError, match=r"layer 'layer' \(.*1d\) cannot take input of shape "
                                         r"\(1, 28, 28\).*\(channels, length\)"):
        architecture.shapes()


def test_same_padding_keeps_the_length_with_dilation():
    assert A.Conv1d(2, 4, padding="same", dilation=3).output_shape((1, 10)) == (2, 10)
    assert A.Conv1d(2, (4,), stride=(2,), padding=(1,)).output_shape((1, 10)) == (2, 5)
