"""``LayerNorm``, as ``torch.nn.LayerNorm`` (torch keeps it in normalization.py).

``LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
device=None, dtype=None)``: normalises each sample over its last
``len(normalized_shape)`` axes (see :mod:`scratch.functional.layernorm`).
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
