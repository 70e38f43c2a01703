"""Layers that hold parameters and call the functional pairs, the twin of ``torch.nn``.

One file per family, split as ``torch.nn.modules`` is; import from here:
``from scratch import nn; nn.Conv2d``. The contract every module keeps is
in :mod:`scratch.nn.module`.
"""
from scratch.nn.activation import (
           CELU,
           ELU,
           GELU,
           GLU,
           SELU,
           Hardshrink,
           Hardsigmoid,
           Hardswish,
           Hardtanh,
           LeakyReLU,
           LogSigmoid,
           LogSoftmax,
           Mish,
           PReLU,
           ReLU,
           ReLU6,
           Sigmoid,
           SiLU,
           Softmax,
           Softmax2d,
           Softmin,
           Softplus,
           Softshrink,
           Softsign,
           Tanh,
           Tanhshrink,
           Threshold,
)
from scratch.nn.batchnorm import BatchNorm1d, BatchNorm2d
from scratch.nn.container import ModuleDict, ModuleList, Sequential
from scratch.nn.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from scratch.nn.dropout import Dropout, Dropout2d
from scratch.nn.flatten import Flatten, Unflatten
from scratch.nn.instancenorm import InstanceNorm1d, InstanceNorm2d
from scratch.nn.linear import Identity, Linear
from scratch.nn.loss import (
           BCELoss,
           BCEWithLogitsLoss,
           CosineEmbeddingLoss,
           CrossEntropyLoss,
           GaussianNLLLoss,
           HuberLoss,
           KLDivLoss,
           L1Loss,
           MSELoss,
           MultiMarginLoss,
           NLLLoss,
           SmoothL1Loss,
           SoftMarginLoss,
)
from scratch.nn.module import Module
from scratch.nn.normalization import GroupNorm, LocalResponseNorm, RMSNorm
from scratch.nn.padding import (
           CircularPad1d,
           CircularPad2d,
           ConstantPad1d,
           ConstantPad2d,
           ReflectionPad1d,
           ReflectionPad2d,
           ReplicationPad1d,
           ReplicationPad2d,
           ZeroPad1d,
           ZeroPad2d,
)
from scratch.nn.parameter import Buffer, Parameter
from scratch.nn.pixelshuffle import PixelShuffle, PixelUnshuffle
from scratch.nn.pooling import (
           AdaptiveAvgPool1d,
           AdaptiveAvgPool2d,
           AdaptiveMaxPool1d,
           AdaptiveMaxPool2d,
           AvgPool1d,
           AvgPool2d,
           MaxPool1d,
           MaxPool2d,
           MaxUnpool2d,
)
from scratch.nn.residual import Residual
from scratch.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from scratch.nn.sequence import LSTMOutput, RNNOutput, Rows
from scratch.nn.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = ["AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "CrossEntropyLoss", "Flatten",
           "LeakyReLU", "Linear", "MaxPool2d", "Module", "PReLU", "Parameter", "ReLU",
           "Sequential", "Sigmoid", "Tanh"]
__all__ += ["LSTM", "LSTMOutput", "RNN", "RNNOutput", "Rows"]
__all__ += ["Dropout", "Dropout2d", "ELU", "GELU", "LogSoftmax", "NLLLoss", "SiLU", "Softmax"]
__all__ += ["AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Identity"]
__all__ += ["Buffer", "ModuleDict", "ModuleList"]
__all__ += ["Residual"]
__all__ += ["BCELoss", "BCEWithLogitsLoss", "CosineEmbeddingLoss", "GaussianNLLLoss",
            "HuberLoss", "KLDivLoss", "L1Loss", "MSELoss", "MultiMarginLoss", "SmoothL1Loss",
            "SoftMarginLoss"]
__all__ += ["CELU", "GLU", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh", "LogSigmoid",
            "Mish", "ReLU6", "SELU", "Softmax2d", "Softmin", "Softplus", "Softshrink", "Softsign",
            "Tanhshrink", "Threshold"]
__all__ += ["GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "LocalResponseNorm", "RMSNorm"]
# sequences and attention
from scratch.nn.activation import MultiheadAttention  # noqa: E402
from scratch.nn.normalization import LayerNorm  # noqa: E402
from scratch.nn.sequence import GRUOutput  # noqa: E402
from scratch.nn.sparse import Embedding  # noqa: E402
from scratch.nn.transformer import TransformerEncoder, TransformerEncoderLayer  # noqa: E402

__all__ += ["Embedding", "GRU", "GRUCell", "GRUOutput", "LSTMCell", "LayerNorm",
            "MultiheadAttention", "RNNCell", "TransformerEncoder", "TransformerEncoderLayer"]
__all__ += ["CircularPad1d", "CircularPad2d", "ConstantPad1d", "ConstantPad2d", "PixelShuffle",
            "PixelUnshuffle", "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d",
            "ReplicationPad2d", "Unflatten", "ZeroPad1d", "ZeroPad2d"]
__all__ += ["Conv1d", "ConvTranspose1d", "ConvTranspose2d"]
__all__ += ["Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]
__all__ += ["AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AvgPool1d", "MaxPool1d", "MaxUnpool2d"]

__all__ += ["GRUOutput"]
from scratch.nn.vision_transformer import (  # noqa: E402
           ClassToken,
           FirstToken,
           Patches,
           PositionEmbedding,
)

__all__ += ["ClassToken", "FirstToken", "Patches", "PositionEmbedding"]
# normbag: BatchNorm3d, EmbeddingBag
from scratch.nn.batchnorm import BatchNorm3d  # noqa: E402

__all__ += ["BatchNorm3d"]
from scratch.nn.sparse import EmbeddingBag  # noqa: E402

__all__ += ["EmbeddingBag"]
