"""``scratch.arch`` as a package: every name the single module had is still importable
from ``scratch.arch``, and every spec type names a module both builders can make."""
from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch

from reference import model as reference_model
from scratch import arch as A
from scratch import nn

# The public names of scratch/arch.py before it became a package.
FORMER_NAMES = [
    "ARCHITECTURES", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Architecture",
    "ArchitectureFileError", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "Dropout",
    "Dropout2d", "ELU", "Flatten", "GELU", "LSTM", "LayerSpec", "LeakyReLU", "Linear",
    "LogSoftmax", "MaxPool2d", "PReLU", "Pair", "RNN", "ReLU", "Rows", "SiLU", "Sigmoid",
    "Softmax", "Tanh", "from_dict", "layer_types", "lenet5", "load", "mnist_cnn",
    "mnist_cnn_avgpool", "mnist_cnn_bn", "mnist_lstm", "mnist_rnn", "pytorch_examples_mnist",
    "resolve", "to_dict",
]


@pytest.mark.parametrize("name", FORMER_NAMES)
def test_every_former_name_is_importable_from_scratch_arch(name):
    assert name in A.__all__
    assert getattr(A, name) is not None


@pytest.mark.parametrize("name", sorted(A.layer_types()))
def test_every_spec_type_names_a_module_on_both_sides(name):
    """``spec.layer`` is a class of ``scratch.nn`` and of ``reference.model.TWINS`` or
    ``torch.nn``, and every argument a spec gives is one that class's constructor takes."""
    cls = A.layer_types()[name]
    layer = cls.layer
    scratch_cls = getattr(nn, layer)
    torch_cls = reference_model.TWINS.get(layer) or getattr(torch.nn, layer)
    fields = [f.name for f in dataclasses.fields(cls)]
    for module_cls in (scratch_cls, torch_cls):
        params = inspect.signature(module_cls).parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            continue
        assert set(fields) <= set(params), (module_cls, fields)
