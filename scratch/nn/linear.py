"""Fully connected layer: ``Linear``."""
from __future__ import annotations

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module, Parameter


class Linear(Module):
    """``x @ weight.T + bias``: ``weight`` (out, in), ``bias`` (out,)."""

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32):
        super().__init__()
        self.in_features = checks.count(self, "in_features", in_features)
        self.out_features = checks.count(self, "out_features", out_features)
        dtype = checks.param_dtype(self, dtype)
        self._params["weight"] = Parameter(np.zeros((out_features, in_features), dtype))
        if bias:
            self._params["bias"] = Parameter(np.zeros(out_features, dtype))

    def forward(self, x):
        """x: (N, in_features) of the weight's dtype -> (N, out_features)."""
        w, b = self._params["weight"].data, self._params.get("bias")
        checks.input_array(self, x, "(N, in_features)", (2,), dtype=w.dtype,
                           channels=self.in_features)
        checks.channels(self, x, self.in_features, "in_features", "input features")
        return self._keep(*F.linear_forward(x, w, b.data if b else None))

    def backward(self, dout, input_grad=True):
        dx, dw, db = F.linear_backward(dout, self._take_cache(dout), input_grad)
        self._params["weight"].grad = dw
        if db is not None:
            self._params["bias"].grad = db
        return dx
