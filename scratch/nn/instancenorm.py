"""Instance normalisation layers: ``InstanceNorm1d``, ``InstanceNorm2d``.

torch's arguments and order (``affine=False, track_running_stats=False`` by default,
unlike batch norm), buffers and repr. Input (N, C, L) / (C, L) for 1d and
(N, C, H, W) / (C, H, W) for 2d (unbatched input is normalised as a batch of one).
In training, or always without running statistics, each (sample, channel) is
normalised over its positions; with ``track_running_stats`` the running buffers
are updated in training and used in eval. As in torch, ``num_batches_tracked``
stays 0 and ``momentum=None`` leaves the running statistics unchanged.
"""
from __future__ import annotations

import warnings

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module, Parameter


class _InstanceNorm(Module):
    no_batch_dim = 2

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = checks.count(self, "num_features", num_features)
        self.eps = checks.positive(self, "eps", eps)
        if momentum is not None:
            checks.number(self, "momentum", momentum)
        self.momentum = momentum
        self.affine = checks.flag(self, "affine", affine)
        self.track_running_stats = checks.flag(self, "track_running_stats",
                                               track_running_stats)
        bias = checks.flag(self, "bias", bias)
        checks.device(self, device)
        self.dtype = checks.param_dtype(self, dtype)
        # torch's empty slots: None parameters without affine (or bias), None buffers untracked
        dtype, tracked = self.dtype, track_running_stats
        self._params["weight"] = Parameter(np.ones(num_features, dtype)) if affine else None
        self._params["bias"] = (Parameter(np.zeros(num_features, dtype)) if affine and bias
                                else None)
        self._buffers["running_mean"] = np.zeros(num_features, dtype) if tracked else None
        self._buffers["running_var"] = np.ones(num_features, dtype) if tracked else None
        self._buffers["num_batches_tracked"] = np.zeros((), np.int64) if tracked else None

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self._params.get('bias') is not None}, "
                f"track_running_stats={self.track_running_stats}")

    def forward(self, x):
        checks.input_array(self, x, dtype=self.dtype if (
            self.affine or self.track_running_stats) else None)
        d = self.no_batch_dim
        if x.ndim not in (d, d + 1):
            raise ValueError(f"expected {d}D or {d + 1}D input (got {x.ndim}D input)")
        feature_dim = x.ndim - d
        if x.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={feature_dim} to match "
                                 f"num_features ({self.num_features}), but got: "
                                 f"{x.shape[feature_dim]}.")
            warnings.warn(f"input's size at dim={feature_dim} does not match num_features. "
                          f"You can silence this warning by not passing in num_features, "
                          f"which is not used because affine=False", UserWarning, stacklevel=2)
        batched = x if x.ndim == d + 1 else x[None]
        use_input_stats = self.training or not self.track_running_stats
        if use_input_stats and int(np.prod(batched.shape[2:])) <= 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input "
                             f"size {list(batched.shape)}")
        w, b = self._params.get("weight"), self._params.get("bias")
        out, cache = F.instance_norm_forward(
            batched, self._buffers.get("running_mean"), self._buffers.get("running_var"),
            w and w.data, b and b.data, use_input_stats,
            0.0 if self.momentum is None else self.momentum, self.eps)
        return self._keep(out if x.ndim == d + 1 else out[0], (cache, x.ndim == d + 1))

    def backward(self, dout, input_grad=True):
        cache, batched = self._take_cache(dout)
        dx, dw, db = F.instance_norm_backward(dout if batched else dout[None], cache)
        if dw is not None:
            self._params["weight"].grad = dw
        if db is not None:
            self._params["bias"].grad = db
        return dx if batched else dx[0]


class InstanceNorm1d(_InstanceNorm):
    no_batch_dim = 2


class InstanceNorm2d(_InstanceNorm):
    no_batch_dim = 3
