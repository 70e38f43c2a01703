"""Architecture description shared by the scratch model and its torch mirror.

An :class:`Architecture` is plain, frozen data: the input shape and an ordered
tuple of named specs. ``scratch.model.build`` and ``reference.model.build`` both
read it, each with one loop (every spec names its module and gives its constructor
arguments), so the two models have the same layers under the same names and their
``state_dict()`` keys agree. Channel counts and the flattened size are derived by
walking the shapes through the specs, never written by hand.

- :mod:`.specs`: one layer each (``Conv2d``, ``BatchNorm2d``, ``Linear``...);
- :mod:`.network`: how they compose: ``Architecture``, ``Residual`` blocks, ``walk``;
- :mod:`.zoo`: the named architectures (``ARCHITECTURES``) and residual building blocks;
- :mod:`.task`: what a network is trained for (``Classification``, ``Reconstruction``);
- :mod:`.fileformat`: JSON/TOML files (``load``, ``from_dict``, ``to_dict``, ``resolve``).
"""
from scratch.arch.fileformat import (
    ArchitectureFileError,
    from_dict,
    layer_types,
    load,
    resolve,
    to_dict,
)
from scratch.arch.network import LAYERS, Architecture, Chain, Residual, Spec, walk
from scratch.arch.specs import (
    ELU,
    GELU,
    GRU,
    LSTM,
    RNN,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    ClassToken,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    Dropout,
    Dropout2d,
    FirstToken,
    Flatten,
    LayerNorm,
    LayerSpec,
    LeakyReLU,
    Linear,
    LogSoftmax,
    MaxPool1d,
    MaxPool2d,
    Pair,
    Patches,
    PositionEmbedding,
    PReLU,
    ReLU,
    Rows,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
    TransformerEncoderLayer,
)
from scratch.arch.task import RECONSTRUCTION_LOSSES, TASKS, Classification, Reconstruction
from scratch.arch.zoo import (
    ARCHITECTURES,
    basic_block,
    lenet5,
    mnist_autoencoder,
    mnist_cnn,
    mnist_cnn_avgpool,
    mnist_cnn_bn,
    mnist_conv1d,
    mnist_gru,
    mnist_lstm,
    mnist_resnet,
    mnist_rnn,
    mnist_vit,
    projection,
    pytorch_examples_mnist,
)

__all__ = ["ARCHITECTURES", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Architecture",
           "ArchitectureFileError", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Chain",
           "Conv2d", "Dropout", "Dropout2d", "ELU", "Flatten", "GELU", "LAYERS", "LSTM",
           "LayerSpec", "LeakyReLU", "Linear", "LogSoftmax", "MaxPool2d", "PReLU", "Pair",
           "RNN", "ReLU", "Residual", "Rows", "SiLU", "Sigmoid", "Softmax", "Spec", "Tanh",
           "basic_block", "from_dict", "layer_types", "lenet5", "load", "mnist_cnn",
           "mnist_cnn_avgpool", "mnist_cnn_bn", "mnist_lstm", "mnist_resnet", "mnist_rnn",
           "projection", "pytorch_examples_mnist", "resolve", "to_dict", "walk"]
__all__ += ["Conv1d", "MaxPool1d", "mnist_conv1d"]
__all__ += ["ClassToken", "FirstToken", "GRU", "LayerNorm", "Patches", "PositionEmbedding",
            "TransformerEncoderLayer", "mnist_gru", "mnist_vit"]
__all__ += ["Classification", "ConvTranspose2d", "RECONSTRUCTION_LOSSES", "Reconstruction",
            "TASKS", "mnist_autoencoder"]
