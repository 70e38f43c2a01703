"""Normalisation layers over each sample: ``LocalResponseNorm``, ``LayerNorm``,
``GroupNorm``, ``RMSNorm`` (torch's ``normalization.py``; the batch and instance norms
are in :mod:`scratch.nn.batchnorm` and :mod:`scratch.nn.instancenorm`, as in torch).

torch's arguments, order, defaults, parameter names (``weight``, ``bias``) and
repr; ``device``: None or ``'cpu'``; ``dtype``: None means float32.

``LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
device=None, dtype=None)`` normalises each sample over its last
``len(normalized_shape)`` axes (see :mod:`scratch.functional.normalization`).
``weight`` starts at ones and ``bias`` at zeros, both of ``normalized_shape``;
``elementwise_affine=False`` has neither, ``bias=False`` no bias.
"""
from __future__ import annotations

import numbers

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module, Parameter


def normalized_shape_tuple(layer, value) -> tuple:
    """An int or a sequence of ints (each >= 0) as a tuple, as torch's constructor takes it."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    try:
        shape = tuple(value)
    except TypeError:
        raise TypeError(f"{layer}: normalized_shape must be an int or a sequence of ints, "
                        f"got {value!r}") from None
    for size in shape:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise TypeError(f"{layer}: normalized_shape must be an int or a sequence of ints, "
                            f"got {value!r}")
        if size < 0:
            raise ValueError(f"{layer}: Trying to create tensor with negative dimension "
                             f"{size}: {list(shape)}")
    return tuple(int(s) for s in shape)


class LocalResponseNorm(Module):
    """AlexNet's normalisation across neighbouring channels: input (N, C, *), 3+ dims."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = checks.count(self, "size", size)
        self.alpha = checks.number(self, "alpha", alpha)
        self.beta = checks.number(self, "beta", beta)
        self.k = checks.number(self, "k", k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"

    def forward(self, x):
        checks.input_array(self, x)
        return self._keep(*F.local_response_norm_forward(x, self.size, self.alpha, self.beta,
                                                         self.k))

    def backward(self, dout, input_grad=True):
        return F.local_response_norm_backward(dout, self._take_cache(dout))


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` axes (see the module doc)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        self.normalized_shape = normalized_shape_tuple(name, normalized_shape)
        if checks.number(self, "eps", eps) < 0:
            raise ValueError(f"{name}: eps must be >= 0, got {eps!r}")
        self.elementwise_affine = checks.flag(self, "elementwise_affine", elementwise_affine)
        bias = checks.flag(self, "bias", bias)
        checks.device(self, device)
        self._dtype = checks.param_dtype(self, dtype)
        shape, affine = self.normalized_shape, self.elementwise_affine
        self._params["weight"] = Parameter(np.ones(shape, self._dtype)) if affine else None
        self._params["bias"] = (Parameter(np.zeros(shape, self._dtype)) if affine and bias
                                else None)            # torch's empty slots
        self.eps = eps                        # as given: torch's repr shows it so

    def reset_parameters(self):
        """weight to ones, bias to zeros (torch's)."""
        if self._params["weight"] is not None:
            self._params["weight"].data[...] = 1
        if self._params["bias"] is not None:
            self._params["bias"].data[...] = 0

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine="
                f"{self.elementwise_affine}, bias={self._params.get('bias') is not None}")

    def forward(self, x):
        """x: (*, *normalized_shape) -> the same shape and dtype."""
        shape = self.normalized_shape
        w, b = self._params.get("weight"), self._params.get("bias")
        layout = f"(*, {', '.join(map(str, shape))})"
        checks.input_array(self, x, layout, min_ndim=len(shape),
                           dtype=None if w is None else w.data.dtype)
        if not shape:
            raise ValueError(f"{type(self).__name__}: Expected normalized_shape to be at least "
                             f"1-dimensional, i.e., containing at least one element, but got "
                             f"normalized_shape = []")
        if x.shape[x.ndim - len(shape):] != shape:
            raise ValueError(f"{type(self).__name__}: Given normalized_shape="
                             f"{list(shape)}, expected input with shape [*, "
                             f"{', '.join(map(str, shape))}], but got input of size"
                             f"{list(x.shape)}")
        return self._keep(*F.layer_norm_forward(x, shape, None if w is None else w.data,
                                                None if b is None else b.data, self.eps))

    def backward(self, dout, input_grad=True):
        dx, dw, db = F.layer_norm_backward(dout, self._take_cache(dout))
        if dw is not None:
            self._params["weight"].grad = dw
        if db is not None:
            self._params["bias"].grad = db
        return dx


class GroupNorm(Module):
    """Normalise each sample's channels in ``num_groups`` groups: input (N, C, *).
    torch's keyword-only ``bias=False`` keeps the scale without a shift."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        self.num_groups = checks.count(self, "num_groups", num_groups)
        self.num_channels = checks.count(self, "num_channels", num_channels)
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.eps = checks.positive(self, "eps", eps)
        self.affine = checks.flag(self, "affine", affine)
        bias = checks.flag(self, "bias", bias)
        checks.device(self, device)
        self.dtype = checks.param_dtype(self, dtype)
        self._params["weight"] = Parameter(np.ones(num_channels, self.dtype)) if affine else None
        self._params["bias"] = (Parameter(np.zeros(num_channels, self.dtype)) if affine and bias
                                else None)            # torch's empty slots

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self._params.get('bias') is not None}")

    def forward(self, x):
        checks.input_array(self, x, dtype=self.dtype if self.affine else None)
        if x.ndim < 2:
            raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                               f"{x.ndim}")
        if x.shape[1] != self.num_channels:
            raise RuntimeError(f"Expected weight to be a vector of size equal to the number "
                               f"of channels in input, but got weight of shape "
                               f"[{self.num_channels}] and input of shape {list(x.shape)}")
        if self.training and x.shape[0] * int(np.prod(x.shape[2:])) * (
                self.num_channels // self.num_groups) <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got "
                             f"input size {list(x.shape)}")
        w, b = self._params.get("weight"), self._params.get("bias")
        return self._keep(*F.group_norm_forward(x, self.num_groups, w and w.data,
                                                b and b.data, self.eps))

    def backward(self, dout, input_grad=True):
        dx, dw, db = F.group_norm_backward(dout, self._take_cache(dout))
        if dw is not None:
            self._params["weight"].grad = dw
        if db is not None:
            self._params["bias"].grad = db
        return dx


class RMSNorm(Module):
    """``x / sqrt(mean(x**2) + eps) * weight`` over the trailing ``normalized_shape``."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)) and not isinstance(
                normalized_shape, bool):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = None if eps is None else checks.number(self, "eps", eps)
        self.elementwise_affine = checks.flag(self, "elementwise_affine", elementwise_affine)
        checks.device(self, device)
        self.dtype = checks.param_dtype(self, dtype)
        self._params["weight"] = (Parameter(np.ones(self.normalized_shape, self.dtype))
                                  if elementwise_affine else None)   # torch's empty slot

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")

    def forward(self, x):
        checks.input_array(self, x, dtype=self.dtype if self.elementwise_affine else None)
        w = self._params.get("weight")
        return self._keep(*F.rms_norm_forward(x, self.normalized_shape, w and w.data,
                                              self.eps))

    def backward(self, dout, input_grad=True):
        dx, dw = F.rms_norm_backward(dout, self._take_cache(dout))
        if self.elementwise_affine:
            self._params["weight"].grad = dw
        return dx
