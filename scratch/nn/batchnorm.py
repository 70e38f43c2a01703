"""Batch normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``, ``BatchNorm3d``."""
from __future__ import annotations

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module, Parameter


class _BatchNorm(Module):
    """Batch statistics in training (updating running stats), running stats in eval.

    torch's arguments in torch's order, and torch's keyword-only ``bias``
    (``affine=True, bias=False``: a learned scale without a shift).
    ``momentum=None`` gives torch's cumulative moving average.
    ``track_running_stats=False``: no buffers at all (torch's state_dict has
    none either) and batch statistics in eval mode too. ``eps`` must be
    positive (torch accepts ``eps=0`` at construction and refuses it at the
    first training forward; scratch refuses it at once). ``device``: None or
    ``'cpu'``; ``dtype``: None means float32.
    """
    layout, ndims = "(N, C, ...)", (2, 3, 4)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        num_features = checks.count(self, "num_features", num_features)
        self.eps = checks.positive(self, "eps", eps)
        if momentum is not None:
            checks.number(self, "momentum", momentum)
        self.affine = checks.flag(self, "affine", affine)
        self.track_running_stats = checks.flag(self, "track_running_stats",
                                               track_running_stats)
        bias = checks.flag(self, "bias", bias)
        checks.device(self, device)
        dtype = checks.param_dtype(self, dtype)
        self.num_features, self.momentum, self.dtype = num_features, momentum, dtype
        # torch's empty slots: None parameters without affine (or bias), None buffers untracked
        self._params["weight"] = Parameter(np.ones(num_features, dtype)) if affine else None
        self._params["bias"] = (Parameter(np.zeros(num_features, dtype)) if affine and bias
                                else None)
        tracked = track_running_stats
        self._buffers["running_mean"] = np.zeros(num_features, dtype) if tracked else None
        self._buffers["running_var"] = np.ones(num_features, dtype) if tracked else None
        self._buffers["num_batches_tracked"] = np.zeros((), np.int64) if tracked else None

    def _complete_state(self, state, prefix):
        """torch's: a checkpoint without ``num_batches_tracked`` (saved before torch had
        it) keeps the current count instead of reporting the key missing."""
        count = self._buffers.get("num_batches_tracked")
        if self.track_running_stats:
            state.setdefault(prefix + "num_batches_tracked",
                             np.zeros((), np.int64) if count is None else count)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self._params.get('bias') is not None}, "
                f"track_running_stats={self.track_running_stats}")

    def forward(self, x):
        w, b = self._params.get("weight"), self._params.get("bias")
        dtype = (w.data.dtype if w else self._buffers["running_mean"].dtype
                 if self.track_running_stats else self.dtype)
        checks.input_array(self, x, self.layout, self.ndims, dtype=dtype,
                           channels=self.num_features)
        checks.channels(self, x, self.num_features, "num_features")
        batch_stats = self.training or not self.track_running_stats
        momentum = self.momentum
        if batch_stats:
            checks.batch_stats(self, x, "in training mode" if self.training else
                               "batch statistics in eval mode: track_running_stats=False")
        if self.training and self.track_running_stats:
            self._buffers["num_batches_tracked"] += 1
            if momentum is None:
                momentum = 1.0 / float(self._buffers["num_batches_tracked"])
        return self._keep(*F.batch_norm_forward(
            x, w.data if w else None, b.data if b else None,
            self._buffers.get("running_mean"), self._buffers.get("running_var"),
            batch_stats, momentum, self.eps))

    def backward(self, dout, input_grad=True):
        dx, dw, db = F.batch_norm_backward(dout, self._take_cache(dout))
        if dw is not None:
            self._params["weight"].grad = dw
        if db is not None:
            self._params["bias"].grad = db
        return dx


class BatchNorm1d(_BatchNorm):
    layout, ndims = "(N, C) or (N, C, L)", (2, 3)


class BatchNorm2d(_BatchNorm):
    layout, ndims = "(N, C, H, W)", (4,)


class BatchNorm3d(_BatchNorm):
    """Volumetric batch norm: statistics per channel over (N, D, H, W), as torch's."""
    layout, ndims = "(N, C, D, H, W)", (5,)
