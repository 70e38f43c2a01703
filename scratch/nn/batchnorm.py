"""Batch normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``."""
from __future__ import annotations

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module, Parameter


class _BatchNorm(Module):
    """Batch statistics in training (updating running stats), running stats in eval.

    ``momentum=None`` gives torch's cumulative moving average.
    """
    layout, ndims = "(N, C, ...)", (2, 3, 4)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, dtype=np.float32):
        super().__init__()
        num_features = checks.count(self, "num_features", num_features)
        dtype = checks.param_dtype(self, dtype)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        if affine:
            self._params["weight"] = Parameter(np.ones(num_features, dtype))
            self._params["bias"] = Parameter(np.zeros(num_features, dtype))
        self._buffers["running_mean"] = np.zeros(num_features, dtype)
        self._buffers["running_var"] = np.ones(num_features, dtype)
        self._buffers["num_batches_tracked"] = np.zeros((), np.int64)

    def forward(self, x):
        w, b = self._params.get("weight"), self._params.get("bias")
        dtype = w.data.dtype if w else self._buffers["running_mean"].dtype
        checks.input_array(self, x, self.layout, self.ndims, dtype=dtype,
                           channels=self.num_features)
        checks.channels(self, x, self.num_features, "num_features")
        momentum = self.momentum
        if self.training:
            checks.batch_stats(self, x)
            self._buffers["num_batches_tracked"] += 1
            if momentum is None:
                momentum = 1.0 / float(self._buffers["num_batches_tracked"])
        return self._keep(*F.batch_norm_forward(
            x, w.data if w else None, b.data if b else None, self._buffers["running_mean"],
            self._buffers["running_var"], self.training, momentum, self.eps))

    def backward(self, dout, input_grad=True):
        dx, dw, db = F.batch_norm_backward(dout, self._take_cache(dout))
        if dw is not None:
            self._params["weight"].grad, self._params["bias"].grad = dw, db
        return dx


class BatchNorm1d(_BatchNorm):
    layout, ndims = "(N, C) or (N, C, L)", (2, 3)


class BatchNorm2d(_BatchNorm):
    layout, ndims = "(N, C, H, W)", (4,)
