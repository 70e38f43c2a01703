"""The torch mirror of a scratch model, built from the same Architecture."""
from __future__ import annotations

import inspect
from collections import OrderedDict

import torch
from torch import nn

from reference import dropout
from scratch import arch as A
from scratch.windows import pair

BATCH_NORM_HAS_BIAS = "bias" in inspect.signature(nn.BatchNorm2d.__init__).parameters
"""Whether this torch's batch norm takes ``bias=`` (a shift-free scale; newer torch)."""


def _layer(spec, in_shape) -> nn.Module:
    extra = _activation_or_dropout(spec)
    if extra is not None:
        return extra
    if isinstance(spec, A.Conv2d):
        padding = spec.padding if isinstance(spec.padding, str) else pair(spec.padding)
        return nn.Conv2d(in_shape[0], spec.out_channels, pair(spec.kernel_size),
                         pair(spec.stride), padding, pair(spec.dilation), spec.groups,
                         spec.bias, spec.padding_mode)
    if isinstance(spec, A.Linear):
        return nn.Linear(in_shape[-1], spec.out_features, bias=spec.bias)
    if isinstance(spec, A.MaxPool2d):
        return nn.MaxPool2d(spec.kernel_size, spec.stride, spec.padding, spec.dilation,
                            ceil_mode=spec.ceil_mode)
    if isinstance(spec, A.AvgPool2d):
        return nn.AvgPool2d(spec.kernel_size, spec.stride, spec.padding, spec.ceil_mode,
                            spec.count_include_pad, spec.divisor_override)
    if isinstance(spec, A.AdaptiveAvgPool2d):
        return nn.AdaptiveAvgPool2d(spec.output_size)
    if isinstance(spec, A.AdaptiveMaxPool2d):
        return nn.AdaptiveMaxPool2d(spec.output_size)
    if isinstance(spec, (A.BatchNorm1d, A.BatchNorm2d)):
        cls = nn.BatchNorm1d if isinstance(spec, A.BatchNorm1d) else nn.BatchNorm2d
        if spec.bias:   # torch's default; older torch (2.11) has no bias= keyword
            return cls(in_shape[0], spec.eps, spec.momentum, spec.affine,
                       spec.track_running_stats)
        if not BATCH_NORM_HAS_BIAS:
            raise ValueError(f"BatchNorm with bias=False needs torch's bias= keyword, which "
                             f"torch {torch.__version__} lacks; use a newer torch")
        return cls(in_shape[0], spec.eps, spec.momentum, spec.affine, spec.track_running_stats,
                   bias=False)
    if isinstance(spec, A.LeakyReLU):
        return nn.LeakyReLU(spec.negative_slope)
    if isinstance(spec, A.PReLU):
        return nn.PReLU(spec.num_parameters, spec.init)
    if isinstance(spec, (A.RNN, A.LSTM)):
        return _recurrent(spec, in_shape)
    if isinstance(spec, A.Flatten):
        return nn.Flatten(spec.start_dim, spec.end_dim)
    simple = {A.ReLU: nn.ReLU, A.Sigmoid: nn.Sigmoid, A.Tanh: nn.Tanh}
    if isinstance(spec, A.Rows):
        return nn.Flatten(1, 2)
    if type(spec) in simple:
        return simple[type(spec)]()
    raise TypeError(f"no torch layer for spec {spec!r}")


def _activation_or_dropout(spec):
    """GELU, ELU, SiLU, Softmax, LogSoftmax, and the mask-sharing dropout layers of
    :mod:`reference.dropout` (torch's own when left alone); None for other specs."""
    if isinstance(spec, A.GELU):
        return nn.GELU(spec.approximate)
    if isinstance(spec, A.ELU):
        return nn.ELU(spec.alpha)
    if isinstance(spec, A.SiLU):
        return nn.SiLU()
    if isinstance(spec, A.Softmax):
        return nn.Softmax(spec.dim)
    if isinstance(spec, A.LogSoftmax):
        return nn.LogSoftmax(spec.dim)
    if isinstance(spec, A.Dropout):
        return dropout.Dropout(spec.p)
    if isinstance(spec, A.Dropout2d):
        return dropout.Dropout2d(spec.p)
    return None


def build(architecture: A.Architecture, dtype=torch.float32, device="cpu") -> nn.Sequential:
    """``nn.Sequential`` with the architecture's layer names, so state_dict keys match scratch's.

    Weights get torch's own default initialisation; copy scratch weights in with
    :func:`reference.convert.load_numpy_state` to make the twins identical.
    """
    shapes = architecture.shapes()
    layers = OrderedDict((name, _layer(spec, shape))
                         for (name, spec), shape in zip(architecture.layers, shapes))
    return nn.Sequential(layers).to(device=device, dtype=dtype)


class _Output:
    """Over nn.RNN / nn.LSTM (batch_first): forward(x) -> output[:, -1] or the whole output."""

    def __init__(self, *args, last_step=True, **kwargs):
        super().__init__(*args, batch_first=True, **kwargs)
        self.last_step = last_step

    def forward(self, x):
        out = super().forward(x)[0]
        return out[:, -1] if self.last_step else out


class RNNOutput(_Output, nn.RNN):
    """The torch twin of ``scratch.nn.RNNOutput``; state_dict keys are nn.RNN's."""


class LSTMOutput(_Output, nn.LSTM):
    """The torch twin of ``scratch.nn.LSTMOutput``; state_dict keys are nn.LSTM's."""


def _recurrent(spec, in_shape) -> nn.Module:
    kwargs = dict(num_layers=spec.num_layers, bias=spec.bias, bidirectional=spec.bidirectional,
                  last_step=spec.last_step)
    if isinstance(spec, A.RNN):
        return RNNOutput(in_shape[1], spec.hidden_size, nonlinearity=spec.nonlinearity, **kwargs)
    return LSTMOutput(in_shape[1], spec.hidden_size, **kwargs)
