"""Dropout layers: ``Dropout`` (element-wise) and ``Dropout2d`` (whole channels).

In training mode each layer draws a keep-mask, Bernoulli(1 - p), from its
generator (the keyword-only ``generator=``: a ``numpy.random.Generator`` or an
int seed; default: the one :func:`scratch.manual_seed` seeds, as torch's
layers use torch's global generator) and scales the kept values by
``1 / (1 - p)``. In eval mode, and for ``p == 0``, it is the identity and
draws nothing; ``p == 1`` zeroes everything and draws nothing, as torch.

The mask drawn last is ``layer.mask`` (zeros and ones, float64, of the noise
shape: the input's, or (N, C, 1, 1) for ``Dropout2d``) and ``layer.draws``
counts the masks drawn or taken. Setting ``layer.mask_source`` to a callable
``f(x) -> mask`` makes the layer take its masks from there instead of its
generator; :func:`reference.dropout.share_masks` uses both to let a scratch
model and its torch mirror train with the very same masks.
"""
from __future__ import annotations

import warnings

import numpy as np

from scratch import checks
from scratch import functional as F
from scratch import random as R
from scratch.nn.activation import _inplace
from scratch.nn.module import Module


class _DropoutNd(Module):
    _channelwise = False
    _layout, _min_ndim = "(...)", 0

    def __init__(self, p=0.5, inplace=False, *, generator=None):
        super().__init__()
        self.p = checks.probability(self, "p", p, "dropout probability")
        self.inplace = _inplace(self, inplace)
        self.generator = R.generator(type(self).__name__, generator)
        self.mask = None
        self.draws = 0
        self.mask_source = None

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"

    def _noise_shape(self, x):
        return F.dropout_noise_shape(x.shape, self._channelwise)

    def _mask_for(self, x):
        """The keep-mask for ``x``: drawn, handed in by ``mask_source``, or None (identity)."""
        if not self.training or self.p == 0 or x.size == 0:
            return None
        shape = self._noise_shape(x)
        if self.p == 1:
            self.mask = np.zeros(shape)       # nothing drawn
            return self.mask
        if self.mask_source is not None:
            mask = np.asarray(self.mask_source(x), np.float64)
            if mask.shape != shape:
                raise ValueError(f"{type(self).__name__}: mask_source gave a mask of shape "
                                 f"{mask.shape}, expected {shape} for input of shape "
                                 f"{x.shape}")
        else:
            mask = F.draw_keep_mask(self.generator, shape, self.p)
        self.mask, self.draws = mask, self.draws + 1
        return mask

    def forward(self, x):
        checks.input_array(self, x, self._layout, min_ndim=self._min_ndim)
        out, scale = F.dropout_forward(x, self.p, self._mask_for(x))
        return self._keep(np.asarray(out), (scale,))     # scale None: the identity

    def backward(self, dout, input_grad=True):
        (scale,) = self._take_cache(dout)
        return np.asarray(F.dropout_backward(dout, scale))


class Dropout(_DropoutNd):
    """Zeroes each element with probability ``p`` in training, scales the rest by
    ``1 / (1 - p)``. Any input shape; output of the same shape and dtype.

    ``inplace`` is accepted in torch's position; the output is always a new
    array (see :mod:`scratch.nn.activation` for why).
    """


class Dropout2d(_DropoutNd):
    """Zeroes whole channels: one Bernoulli draw per (sample, channel) of
    (N, C, H, W) input. As torch, a 3-dim input is read as (N, C, L) (with
    torch's warning: torch will read it as unbatched (C, H, W) in a future
    release), and other ranks of at least 2 dims get torch's deprecation warning.
    """
    _channelwise = True
    _layout, _min_ndim = "(N, C, H, W)", 2

    def forward(self, x):
        if isinstance(x, np.ndarray) and x.ndim >= 2 and x.ndim != 4:
            if x.ndim == 3:
                warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                              "channel-wise 1D dropout behavior is desired - input is "
                              "interpreted as shape (N, C, L), where C is the channel dim.",
                              UserWarning, stacklevel=2)
            else:
                warnings.warn(f"dropout2d: Received a {x.ndim}-D input to dropout2d, which is "
                              f"deprecated (torch); dropout2d exists to provide channel-wise "
                              f"dropout on (N, C, H, W) inputs.", UserWarning, stacklevel=2)
        return super().forward(x)
