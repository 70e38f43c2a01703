"""Activation layers: ``ReLU``, ``LeakyReLU``, ``PReLU``, ``Sigmoid``, ``Tanh``."""
from __future__ import annotations

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module, Parameter


class _Pointwise(Module):
    """A parameter-free layer given by a functional pair."""
    _forward = _backward = None

    def forward(self, x):
        checks.input_array(self, x)
        return self._keep(*type(self)._forward(x))

    def backward(self, dout, input_grad=True):
        return type(self)._backward(dout, self._take_cache(dout))


class ReLU(_Pointwise):
    _forward, _backward = F.relu_forward, F.relu_backward


class Sigmoid(_Pointwise):
    _forward, _backward = F.sigmoid_forward, F.sigmoid_backward


class Tanh(_Pointwise):
    _forward, _backward = F.tanh_forward, F.tanh_backward


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = checks.number(self, "negative_slope", negative_slope)

    def forward(self, x):
        checks.input_array(self, x)
        return self._keep(*F.leaky_relu_forward(x, self.negative_slope))

    def backward(self, dout, input_grad=True):
        return F.leaky_relu_backward(dout, self._take_cache(dout))


class PReLU(Module):
    """Learned negative slope: ``weight`` (num_parameters,), one per channel or shared."""

    def __init__(self, num_parameters=1, init=0.25, dtype=np.float32):
        super().__init__()
        self.num_parameters = checks.count(self, "num_parameters", num_parameters)
        dtype = checks.param_dtype(self, dtype)
        self._params["weight"] = Parameter(np.full(num_parameters, init, dtype))

    def forward(self, x):
        """Any shape with one shared slope; (N, num_parameters, ...) with one per channel."""
        w = self._params["weight"].data
        if self.num_parameters == 1:
            checks.input_array(self, x, dtype=w.dtype)
        else:
            checks.input_array(self, x, "(N, C, ...)", min_ndim=2, dtype=w.dtype,
                               channels=self.num_parameters)
            checks.channels(self, x, self.num_parameters, "num_parameters")
        return self._keep(*F.prelu_forward(x, w))

    def backward(self, dout, input_grad=True):
        dx, dw = F.prelu_backward(dout, self._take_cache(dout))
        self._params["weight"].grad = dw
        return dx
