"""The named architectures (:data:`ARCHITECTURES`): functions returning an
:class:`~scratch.arch.Architecture` with their defaults, and the residual building
blocks (:func:`basic_block`, :func:`projection`) the ResNet is made of."""
from __future__ import annotations

from scratch.arch.network import Architecture, Residual
from scratch.arch.specs import (
    GRU,
    LSTM,
    RNN,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    ClassToken,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    Dropout,
    FirstToken,
    Flatten,
    LayerNorm,
    Linear,
    LogSoftmax,
    MaxPool1d,
    MaxPool2d,
    Patches,
    PositionEmbedding,
    PReLU,
    ReLU,
    Rows,
    Sigmoid,
    Tanh,
    TransformerEncoderLayer,
)
from scratch.arch.task import Reconstruction


def mnist_cnn(channels: tuple[int, int] = (16, 32), hidden: int = 128,
              num_classes: int = 10) -> Architecture:
    """The default MNIST network: (conv3x3-ReLU-maxpool2) x 2, Linear-ReLU-Linear."""
    c1, c2 = channels
    return Architecture(
        input_shape=(1, 28, 28),
        layers=(
            ("conv1", Conv2d(c1, 3, padding=1)),
            ("relu1", ReLU()),
            ("pool1", MaxPool2d(2)),
            ("conv2", Conv2d(c2, 3, padding=1)),
            ("relu2", ReLU()),
            ("pool2", MaxPool2d(2)),
            ("flatten", Flatten()),
            ("fc1", Linear(hidden)),
            ("relu3", ReLU()),
            ("fc2", Linear(num_classes)),
        ),
    )


def mnist_rnn(cell: str = "rnn", hidden: int = 128, num_classes: int = 10) -> Architecture:
    """MNIST row by row: 28 steps of 28 pixels, a recurrent layer ('rnn': tanh RNN,
    'lstm', 'gru'), and a linear classifier on the last hidden state."""
    layer = {"rnn": RNN(hidden), "lstm": LSTM(hidden), "gru": GRU(hidden)}[cell]
    return Architecture(input_shape=(1, 28, 28),
                        layers=(("rows", Rows()), (cell, layer), ("fc", Linear(num_classes))))


def mnist_lstm(hidden: int = 128, num_classes: int = 10) -> Architecture:
    """:func:`mnist_rnn` with an LSTM: MNIST row by row, LSTM(hidden), Linear on the last
    hidden state."""
    return mnist_rnn("lstm", hidden, num_classes)


def mnist_cnn_bn(channels: tuple[int, int] = (16, 32), hidden: int = 128,
                 num_classes: int = 10) -> Architecture:
    """The default network with batch norm after every conv and hidden linear layer and
    PReLU (one slope per channel) in place of ReLU; convs and fc1 carry no bias (the
    batch norm that follows has its own shift)."""
    c1, c2 = channels
    return Architecture(
        input_shape=(1, 28, 28),
        layers=(
            ("conv1", Conv2d(c1, 3, padding=1, bias=False)),
            ("bn1", BatchNorm2d()),
            ("act1", PReLU(c1)),
            ("pool1", MaxPool2d(2)),
            ("conv2", Conv2d(c2, 3, padding=1, bias=False)),
            ("bn2", BatchNorm2d()),
            ("act2", PReLU(c2)),
            ("pool2", MaxPool2d(2)),
            ("flatten", Flatten()),
            ("fc1", Linear(hidden, bias=False)),
            ("bn3", BatchNorm1d()),
            ("act3", PReLU()),
            ("fc2", Linear(num_classes)),
        ),
    )


def mnist_cnn_avgpool(channels: tuple[int, int] = (16, 32), hidden: int = 128,
                      num_classes: int = 10) -> Architecture:
    """The default network with 2x2 average pooling in place of max pooling."""
    return Architecture(
        input_shape=(1, 28, 28),
        layers=tuple((name, AvgPool2d(2) if isinstance(spec, MaxPool2d) else spec)
                     for name, spec in mnist_cnn(channels, hidden, num_classes).layers),
    )


def lenet5(num_classes: int = 10) -> Architecture:
    """LeNet-5 (LeCun et al., 1998) as usually rebuilt for 28x28 MNIST: conv5x5(6, padding 2)
    -tanh-avgpool2, conv5x5(16)-tanh-avgpool2, then 120-84-10 fully connected with tanh
    (every C3 map sees all S2 maps, and the output is linear, not RBF)."""
    return Architecture(
        input_shape=(1, 28, 28),
        layers=(
            ("conv1", Conv2d(6, 5, padding=2)),
            ("act1", Tanh()),
            ("pool1", AvgPool2d(2)),
            ("conv2", Conv2d(16, 5)),
            ("act2", Tanh()),
            ("pool2", AvgPool2d(2)),
            ("flatten", Flatten()),
            ("fc1", Linear(120)),
            ("act3", Tanh()),
            ("fc2", Linear(84)),
            ("act4", Tanh()),
            ("fc3", Linear(num_classes)),
        ),
    )


def pytorch_examples_mnist(num_classes: int = 10) -> Architecture:
    """The network of pytorch/examples' ``mnist/main.py``: conv3x3(32)-ReLU-conv3x3(64)-ReLU
    -maxpool2-dropout(0.25)-flatten-Linear(9216, 128)-ReLU-dropout(0.5)-Linear(128, 10)
    -LogSoftmax(dim=1) (trained with NLL loss)."""
    return Architecture(
        input_shape=(1, 28, 28),
        layers=(
            ("conv1", Conv2d(32, 3)),
            ("relu1", ReLU()),
            ("conv2", Conv2d(64, 3)),
            ("relu2", ReLU()),
            ("pool", MaxPool2d(2)),
            ("dropout1", Dropout(0.25)),
            ("flatten", Flatten()),
            ("fc1", Linear(128)),
            ("relu3", ReLU()),
            ("dropout2", Dropout(0.5)),
            ("fc2", Linear(num_classes)),
            ("log_softmax", LogSoftmax(dim=1)),
        ),
    )


def projection(out_channels: int, stride: int = 1) -> tuple:
    """A projection shortcut, as torchvision's ``BasicBlock.downsample``: a 1x1 conv with
    ``stride`` and no bias, then batch norm (named ``conv`` and ``bn``)."""
    return (("conv", Conv2d(out_channels, 1, stride, bias=False)), ("bn", BatchNorm2d()))


def basic_block(in_channels: int, out_channels: int, stride: int = 1) -> Residual:
    """torchvision's ``BasicBlock``: conv3x3(stride)-BN-ReLU-conv3x3-BN (convs without
    bias), plus the identity, or a :func:`projection` when the stride or the channel
    count changes; ReLU after the sum."""
    body = (("conv1", Conv2d(out_channels, 3, stride, padding=1, bias=False)),
            ("bn1", BatchNorm2d()),
            ("relu1", ReLU()),
            ("conv2", Conv2d(out_channels, 3, padding=1, bias=False)),
            ("bn2", BatchNorm2d()))
    change = stride != 1 or in_channels != out_channels
    return Residual(body, projection(out_channels, stride) if change else (), relu=True)


def mnist_resnet(channels: tuple[int, int, int] = (8, 16, 32),
                 num_classes: int = 10) -> Architecture:
    """A small ResNet for 28x28 MNIST: a stem as ResNet's (conv3x3-BN-ReLU, then 2x2 max
    pooling: 28 -> 14), three stages of one :func:`basic_block` each (``channels``; the
    second and third halve the map with stride 2 and a projection shortcut: 14 -> 7 -> 4),
    global average pooling, and a Linear classifier."""
    c1, c2, c3 = channels
    return Architecture(
        input_shape=(1, 28, 28),
        layers=(
            ("conv1", Conv2d(c1, 3, padding=1, bias=False)),
            ("bn1", BatchNorm2d()),
            ("relu1", ReLU()),
            ("pool1", MaxPool2d(2)),
            ("stage1", basic_block(c1, c1)),
            ("stage2", basic_block(c1, c2, stride=2)),
            ("stage3", basic_block(c2, c3, stride=2)),
            ("pool", AdaptiveAvgPool2d(1)),
            ("flatten", Flatten()),
            ("fc", Linear(num_classes)),
        ),
    )


ARCHITECTURES = {
    "mnist_cnn": mnist_cnn,
    "mnist_cnn_bn": mnist_cnn_bn,
    "mnist_cnn_avgpool": mnist_cnn_avgpool,
    "lenet5": lenet5,
    "mnist_rnn": mnist_rnn,
    "mnist_lstm": mnist_lstm,
    "pytorch_examples_mnist": pytorch_examples_mnist,
    "mnist_resnet": mnist_resnet,
}
"""Named architectures (name -> function building it with its defaults)."""


def mnist_conv1d(channels: tuple[int, int] = (32, 64), hidden: int = 128,
                 num_classes: int = 10) -> Architecture:
    """MNIST as a sequence for 1-D convolution: ``Rows`` makes the (1, 28, 28) image
    (28, 28), read by ``Conv1d`` as 28 channels (the image rows) along a length of 28 (the
    columns), i.e. 28 steps of 28 features; then (conv3-ReLU-maxpool2) x 2 (28 -> 14 -> 7)
    and Linear-ReLU-Linear, as :func:`mnist_cnn` in one dimension."""
    c1, c2 = channels
    return Architecture(
        input_shape=(1, 28, 28),
        layers=(
            ("rows", Rows()),
            ("conv1", Conv1d(c1, 3, padding=1)),
            ("relu1", ReLU()),
            ("pool1", MaxPool1d(2)),
            ("conv2", Conv1d(c2, 3, padding=1)),
            ("relu2", ReLU()),
            ("pool2", MaxPool1d(2)),
            ("flatten", Flatten()),
            ("fc1", Linear(hidden)),
            ("relu3", ReLU()),
            ("fc2", Linear(num_classes)),
        ),
    )


ARCHITECTURES["mnist_conv1d"] = mnist_conv1d


# --------------------------------------------------------------------------- sequences
def mnist_gru(hidden: int = 128, num_classes: int = 10) -> Architecture:
    """:func:`mnist_rnn` with a GRU: MNIST row by row, GRU(hidden), Linear on the last
    hidden state."""
    return mnist_rnn("gru", hidden, num_classes)


ARCHITECTURES["mnist_gru"] = mnist_gru


def mnist_vit(embed_dim: int = 32, depth: int = 2, heads: int = 4, mlp_dim: int = 64,
              patch: int = 7, num_classes: int = 10) -> Architecture:
    """A tiny vision transformer: ``patch`` x ``patch`` patches (a Conv2d with that kernel
    and stride: 7 -> 16 patches of 28x28) embedded in ``embed_dim`` features, a learned
    class token, learned position embeddings, ``depth`` pre-norm encoder layers (``heads``
    heads, GELU MLP of ``mlp_dim``, no dropout), a final LayerNorm, and a Linear head on
    the class token."""
    encoder = TransformerEncoderLayer(heads, mlp_dim, dropout=0.0, activation="gelu",
                                      norm_first=True)
    return Architecture(
        input_shape=(1, 28, 28),
        layers=(("patch_embed", Conv2d(embed_dim, patch, stride=patch)),
                ("patches", Patches()),
                ("class_token", ClassToken()),
                ("pos_embed", PositionEmbedding()),
                *((f"encoder{i}", encoder) for i in range(depth)),
                ("norm", LayerNorm()),
                ("cls", FirstToken()),
                ("head", Linear(num_classes))))


ARCHITECTURES["mnist_vit"] = mnist_vit


# --------------------------------------------------------------------------- reconstruction
def mnist_autoencoder(channels: tuple[int, int] = (16, 4),
                      loss: str = "BCEWithLogitsLoss") -> Architecture:
    """A small convolutional autoencoder trained to reproduce its input
    (:class:`~scratch.arch.task.Reconstruction`). The encoder halves the map twice with
    strided 3x3 convolutions (28 -> 14 -> 7: a code of ``channels[1]`` x 7 x 7 numbers,
    196 by default, a quarter of the 784 pixels); the decoder doubles it back with 3x3
    transposed convolutions of stride 2 (7 -> 14 -> 28, ``output_padding=1`` choosing the
    even size), ending in one channel. With ``loss='BCEWithLogitsLoss'`` the output holds
    logits; with ``'MSELoss'`` a Sigmoid makes it pixel values."""
    c1, c2 = channels
    head = {"BCEWithLogitsLoss": (), "MSELoss": (("sigmoid", Sigmoid()),)}[loss]
    return Architecture(
        input_shape=(1, 28, 28),
        layers=(
            ("enc1", Conv2d(c1, 3, stride=2, padding=1)),
            ("relu1", ReLU()),
            ("enc2", Conv2d(c2, 3, stride=2, padding=1)),
            ("relu2", ReLU()),
            ("dec1", ConvTranspose2d(c1, 3, stride=2, padding=1, output_padding=1)),
            ("relu3", ReLU()),
            ("dec2", ConvTranspose2d(1, 3, stride=2, padding=1, output_padding=1)),
            *head,
        ),
        task=Reconstruction(loss),
    )


ARCHITECTURES["mnist_autoencoder"] = mnist_autoencoder
