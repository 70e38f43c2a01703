"""Activation layers: ``ReLU``, ``LeakyReLU``, ``PReLU``, ``Sigmoid``, ``Tanh``, ``GELU``,
``ELU``, ``SiLU``, ``Softmax``, ``LogSoftmax``.

Every layer takes any input shape, a 0-d array included, and returns an
ndarray of the input's shape and dtype (never a NumPy scalar). ``inplace``
is accepted where torch has it, in torch's position, but the output is always
a new array and the input is left unchanged: NumPy has no autograd version
counter to catch an array that a later in-place layer overwrites while an
earlier layer still keeps it for backward (Sigmoid and Tanh keep their output),
which is the error torch raises in that case.
"""
from __future__ import annotations

import warnings

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module, Parameter


def _inplace(layer, value) -> bool:
    """torch's ``inplace`` flag, which must be a bool (a misplaced positional argument
    is caught here); it does not change what the layer computes (see above)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{type(layer).__name__}: inplace must be True or False, got {value!r}")
    return bool(value)


class _Pointwise(Module):
    """A parameter-free layer given by a functional pair."""
    _forward = _backward = None
    inplace = False

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""

    def _run(self, x):
        """``(out, cache)`` of the functional forward for this layer's arguments."""
        return type(self)._forward(x)

    def forward(self, x):
        checks.input_array(self, x)
        out, cache = self._run(x)
        return self._keep(np.asarray(out), cache)

    def backward(self, dout, input_grad=True):
        return np.asarray(type(self)._backward(dout, self._take_cache(dout)))


class ReLU(_Pointwise):
    _forward, _backward = F.relu_forward, F.relu_backward

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = _inplace(self, inplace)


class Sigmoid(_Pointwise):
    _forward, _backward = F.sigmoid_forward, F.sigmoid_backward


class Tanh(_Pointwise):
    _forward, _backward = F.tanh_forward, F.tanh_backward


class LeakyReLU(_Pointwise):
    _backward = F.leaky_relu_backward

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = checks.number(self, "negative_slope", negative_slope)
        self.inplace = _inplace(self, inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")

    def _run(self, x):
        return F.leaky_relu_forward(x, self.negative_slope)


class PReLU(Module):
    """Learned negative slope: ``weight`` (num_parameters,), one per channel or shared."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        """torch's arguments in torch's order; ``device``: None or ``'cpu'``; ``dtype``:
        None means float32."""
        super().__init__()
        self.num_parameters = checks.count(self, "num_parameters", num_parameters)
        if not (device is None or (isinstance(device, str) and device == "cpu")):
            raise ValueError(f"PReLU: device must be None or 'cpu' (scratch computes with "
                             f"NumPy on the CPU), got {device!r}")
        dtype = checks.param_dtype(self, np.float32 if dtype is None else dtype)
        self._params["weight"] = Parameter(np.full(num_parameters, init, dtype))

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"

    def forward(self, x):
        """Any shape with one shared slope; (N, num_parameters, ...) with one per channel."""
        w = self._params["weight"].data
        if self.num_parameters == 1:
            checks.input_array(self, x, dtype=w.dtype)
        else:
            checks.input_array(self, x, "(N, C, ...)", min_ndim=2, dtype=w.dtype,
                               channels=self.num_parameters)
            checks.channels(self, x, self.num_parameters, "num_parameters")
        out, cache = F.prelu_forward(x, w)
        return self._keep(np.asarray(out), cache)

    def backward(self, dout, input_grad=True):
        dx, dw = F.prelu_backward(dout, self._take_cache(dout))
        self._params["weight"].grad = dw
        return np.asarray(dx)


class GELU(_Pointwise):
    """``x * Phi(x)``; ``approximate='tanh'`` is torch's tanh approximation."""
    _backward = F.gelu_backward

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = checks.choice(self, "approximate", approximate, ("none", "tanh"))

    def extra_repr(self):
        return f"approximate={self.approximate!r}"

    def _run(self, x):
        return F.gelu_forward(x, self.approximate)


class ELU(_Pointwise):
    """``x`` where ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    _backward = F.elu_backward

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = checks.number(self, "alpha", alpha)
        self.inplace = _inplace(self, inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")

    def _run(self, x):
        return F.elu_forward(x, self.alpha)


class SiLU(_Pointwise):
    """``x * sigmoid(x)`` (swish)."""
    _forward, _backward = F.silu_forward, F.silu_backward

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = _inplace(self, inplace)


def _legacy_softmax_dim(name, ndim):
    """torch's choice when ``dim`` is not given (deprecated there, with this warning)."""
    dim = 0 if ndim in (0, 1, 3) else 1
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  f"to include dim=X as an argument.", UserWarning, stacklevel=4)
    return dim


class _SoftmaxBase(_Pointwise):
    def __init__(self, dim=None):
        super().__init__()
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, (int, np.integer))):
            raise TypeError(f"{type(self).__name__}: dim must be an int, got {dim!r}")
        self.dim = None if dim is None else int(dim)

    def extra_repr(self):
        return f"dim={self.dim}"

    def _run(self, x):
        name = type(self).__name__
        dim = (self.dim if self.dim is not None
               else _legacy_softmax_dim(name.lower(), x.ndim))
        F.softmax_dim(dim, x.ndim, name)
        return type(self)._forward(x, dim)


class Softmax(_SoftmaxBase):
    """``exp(x) / sum(exp(x), dim)``. ``dim=None`` picks torch's legacy axis with its
    deprecation warning (0 for 0-, 1- and 3-dim input, else 1); pass ``dim``."""
    _forward, _backward = F.softmax_forward, F.softmax_backward


class LogSoftmax(_SoftmaxBase):
    """``x - logsumexp(x, dim)``, stable; feed it to :class:`~scratch.nn.NLLLoss`."""
    _forward, _backward = F.log_softmax_forward, F.log_softmax_backward
