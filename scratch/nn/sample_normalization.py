"""Per-sample normalisation layers: ``GroupNorm``, ``RMSNorm``, ``LocalResponseNorm``.

torch's arguments, order, defaults, parameter names (``weight``, ``bias``) and
repr; ``device``: None or ``'cpu'``; ``dtype``: None means float32.
"""
from __future__ import annotations

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module, Parameter


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
