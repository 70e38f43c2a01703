"""Build a scratch :class:`~scratch.nn.Sequential` from an :class:`~scratch.arch.Architecture`."""
from __future__ import annotations

import numpy as np

from scratch import arch as A
from scratch import nn


def _layer(spec, in_shape, dtype, rng):
    """The scratch module for one spec, given the per-sample input shape."""
    extra = _activation_or_dropout(spec, rng)
    if extra is not None:
        return extra
    if isinstance(spec, A.Conv2d):
        return nn.Conv2d(in_shape[0], spec.out_channels, spec.kernel_size, spec.stride,
                         spec.padding, spec.dilation, spec.groups, spec.bias, spec.padding_mode,
                         dtype=dtype, generator=rng)
    if isinstance(spec, A.Linear):
        return nn.Linear(in_shape[-1], spec.out_features, spec.bias, dtype=dtype, generator=rng)
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
        return cls(in_shape[0], spec.eps, spec.momentum, spec.affine, spec.track_running_stats,
                   dtype=dtype, bias=spec.bias)
    if isinstance(spec, A.LeakyReLU):
        return nn.LeakyReLU(spec.negative_slope)
    if isinstance(spec, A.PReLU):
        return nn.PReLU(spec.num_parameters, spec.init, dtype=dtype)
    if isinstance(spec, (A.RNN, A.LSTM)):
        return _recurrent(spec, in_shape, dtype, rng)
    if isinstance(spec, A.Flatten):
        return nn.Flatten(spec.start_dim, spec.end_dim)
    simple = {A.ReLU: nn.ReLU, A.Sigmoid: nn.Sigmoid, A.Tanh: nn.Tanh, A.Rows: nn.Rows}
    if type(spec) in simple:
        return simple[type(spec)]()
    raise TypeError(f"no scratch layer for spec {spec!r}")


def _activation_or_dropout(spec, rng):
    """GELU, ELU, SiLU, Softmax, LogSoftmax, Dropout, Dropout2d (None for other specs).

    Dropout layers draw their masks from ``rng``, the generator the weights came
    from: one seed fixes a whole training run, as torch's global generator does.
    """
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
    if isinstance(spec, (A.Dropout, A.Dropout2d)):
        cls = nn.Dropout if isinstance(spec, A.Dropout) else nn.Dropout2d
        return cls(spec.p, generator=rng)
    return None


def build(architecture: A.Architecture, seed: int | np.random.Generator = 0,
          dtype=np.float32) -> nn.Sequential:
    """The scratch network. Its Linear and Conv2d layers draw torch's default
    initialisation at construction, in layer order, from one generator seeded by ``seed``
    (each draws its weight, then its bias), so a seed fixes every weight."""
    if not isinstance(seed, np.random.Generator) and not (
            isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        raise ValueError(f"build: seed must be a whole number >= 0 or a "
                         f"numpy.random.Generator, got {seed!r}")
    rng = np.random.default_rng(seed)
    shapes = architecture.shapes()
    return nn.Sequential({name: _layer(spec, in_shape, np.dtype(dtype), rng)
                          for (name, spec), in_shape in zip(architecture.layers, shapes)})


def _recurrent(spec, in_shape, dtype, rng):
    """RNN / LSTM spec -> RNNOutput / LSTMOutput on (steps, features), drawn from ``rng``."""
    kwargs = dict(num_layers=spec.num_layers, bias=spec.bias, bidirectional=spec.bidirectional,
                  dtype=dtype, generator=rng, last_step=spec.last_step)
    if isinstance(spec, A.RNN):
        return nn.RNNOutput(in_shape[1], spec.hidden_size, nonlinearity=spec.nonlinearity,
                            **kwargs)
    return nn.LSTMOutput(in_shape[1], spec.hidden_size, **kwargs)
