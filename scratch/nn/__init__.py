"""Layers that hold parameters and call the functional pairs, the twin of ``torch.nn``.

One file per family, split as ``torch.nn.modules`` is; import from here:
``from scratch import nn; nn.Conv2d``. The contract every module keeps is
in :mod:`scratch.nn.module`.
"""
from scratch.nn.activation import (
           ELU,
           GELU,
           LeakyReLU,
           LogSoftmax,
           PReLU,
           ReLU,
           Sigmoid,
           SiLU,
           Softmax,
           Tanh,
)
from scratch.nn.batchnorm import BatchNorm1d, BatchNorm2d
from scratch.nn.container import Sequential
from scratch.nn.conv import Conv2d
from scratch.nn.dropout import Dropout, Dropout2d
from scratch.nn.flatten import Flatten
from scratch.nn.linear import Identity, Linear
from scratch.nn.loss import CrossEntropyLoss, NLLLoss
from scratch.nn.module import Module, Parameter
from scratch.nn.pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from scratch.nn.rnn import LSTM, RNN
from scratch.nn.sequence import LSTMOutput, RNNOutput, Rows

__all__ = ["AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "CrossEntropyLoss", "Flatten",
           "LeakyReLU", "Linear", "MaxPool2d", "Module", "PReLU", "Parameter", "ReLU",
           "Sequential", "Sigmoid", "Tanh"]
__all__ += ["LSTM", "LSTMOutput", "RNN", "RNNOutput", "Rows"]
__all__ += ["Dropout", "Dropout2d", "ELU", "GELU", "LogSoftmax", "NLLLoss", "SiLU", "Softmax"]
__all__ += ["AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Identity"]
# sequences and attention
from scratch.nn.attention import MultiheadAttention  # noqa: E402
from scratch.nn.gru import GRU  # noqa: E402
from scratch.nn.layernorm import LayerNorm  # noqa: E402
from scratch.nn.rnn_cell import GRUCell, LSTMCell, RNNCell  # noqa: E402
from scratch.nn.sequence import GRUOutput  # noqa: E402
from scratch.nn.sparse import Embedding  # noqa: E402
from scratch.nn.transformer import TransformerEncoder, TransformerEncoderLayer  # noqa: E402

__all__ += ["Embedding", "GRU", "GRUCell", "GRUOutput", "LSTMCell", "LayerNorm",
            "MultiheadAttention", "RNNCell", "TransformerEncoder", "TransformerEncoderLayer"]
