"""The torch mirror of a scratch model, built from the same Architecture.

One loop for every spec, as ``scratch.model``'s: the module is :data:`TWINS`'s or
``torch.nn``'s class named ``spec.layer``, with ``spec.arguments(input shape)``; a chain of
specs (a residual block's body or shortcut) becomes an ``nn.Sequential`` by the same loop.
"""
from __future__ import annotations

import functools
import inspect
from collections import OrderedDict

import torch
from torch import nn

from reference import dropout
from scratch import arch as A

BATCH_NORM_HAS_BIAS = "bias" in inspect.signature(nn.BatchNorm2d.__init__).parameters
"""Whether this torch's batch norm takes ``bias=`` (a shift-free scale; newer torch)."""


def _torch_arguments_known(cls, kwargs, spec) -> None:
    """Refuse, with the torch version, an argument this torch's module does not take
    (BatchNorm's ``bias=False`` before torch had that keyword)."""
    params = inspect.signature(cls).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    unknown = [name for name in kwargs if name not in params]
    if unknown:
        raise ValueError(f"{spec.layer} with {', '.join(f'{k}={kwargs[k]!r}' for k in unknown)}"
                         f" needs torch's {'/'.join(unknown)}= keyword, which torch "
                         f"{torch.__version__} lacks; use a newer torch")


def _module(spec, in_shape) -> nn.Module:
    """The torch module for one spec: ``TWINS`` or ``torch.nn`` by ``spec.layer``."""
    cls = TWINS.get(spec.layer) or getattr(nn, spec.layer)
    kwargs = {name: _chain(value.layers, value.input_shape) if isinstance(value, A.Chain)
              else value for name, value in spec.arguments(in_shape).items()}
    _torch_arguments_known(cls, kwargs, spec)
    return cls(**kwargs)


def _chain(layers, input_shape) -> nn.Sequential:
    shapes = A.walk(layers, input_shape)
    return nn.Sequential(OrderedDict((name, _module(spec, shape))
                                     for (name, spec), shape in zip(layers, shapes)))


def build(architecture: A.Architecture, dtype=torch.float32, device="cpu") -> nn.Sequential:
    """``nn.Sequential`` with the architecture's layer names, so state_dict keys match scratch's.

    Weights get torch's own default initialisation; copy scratch weights in with
    :func:`reference.convert.load_numpy_state` to make the twins identical.
    """
    return _chain(architecture.layers, architecture.input_shape).to(device=device, dtype=dtype)


class Residual(nn.Module):
    """The torch twin of ``scratch.nn.Residual``: ``relu(body(x) + shortcut(x))`` (no ReLU
    when ``relu=False``); the shortcut defaults to the identity. autograd adds the two
    branches' gradients of ``x``."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None, relu: bool = True):
        super().__init__()
        self.body = body
        self.shortcut = nn.Identity() if shortcut is None else shortcut
        self.relu = relu

    def extra_repr(self):
        return f"relu={self.relu}"

    def forward(self, x):
        out = self.body(x) + self.shortcut(x)
        return torch.relu(out) if self.relu else out


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


TWINS = {"Rows": functools.partial(nn.Flatten, 1, 2), "RNNOutput": RNNOutput,
         "LSTMOutput": LSTMOutput, "Dropout": dropout.Dropout, "Dropout2d": dropout.Dropout2d,
         "Residual": Residual}
"""The mirror's module for each ``spec.layer`` that ``torch.nn`` lacks or that the mirror
replaces (dropout that can share its masks with scratch); the others are ``torch.nn``'s."""


class GRUOutput(_Output, nn.GRU):
    """The torch twin of ``scratch.nn.GRUOutput``; state_dict keys are nn.GRU's."""


TWINS["GRUOutput"] = GRUOutput
from reference import vision_transformer as _vit  # noqa: E402

TWINS.update({name: getattr(_vit, name) for name in ("Patches", "ClassToken",
                                                     "PositionEmbedding", "FirstToken",
                                                     "TransformerEncoderLayer")})
