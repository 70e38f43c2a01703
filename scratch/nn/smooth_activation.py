"""Smooth activation layers: ``Softplus``, ``Mish``, ``LogSigmoid``, ``SELU``, ``CELU``,
``Softsign``, ``Tanhshrink``, ``GLU``, ``Softmin``, ``Softmax2d``.

torch's arguments, order, defaults and repr; outputs of the input's dtype.
``inplace`` is accepted where torch has it; the input is left unchanged.
"""
from __future__ import annotations

from scratch import checks
from scratch import functional as F
from scratch.nn.activation import _inplace, _Pointwise, _SoftmaxBase


class Softplus(_Pointwise):
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold``."""
    _backward = F.softplus_backward

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = checks.number(self, "beta", beta)
        self.threshold = checks.number(self, "threshold", threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"

    def _run(self, x):
        return F.softplus_forward(x, self.beta, self.threshold)


class _Flagged(_Pointwise):
    """A layer whose only argument is ``inplace``."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = _inplace(self, inplace)


class Mish(_Flagged):
    """``x tanh(softplus(x))``."""
    _forward, _backward = F.mish_forward, F.mish_backward


class SELU(_Flagged):
    """Scaled ELU with torch's fixed alpha and scale."""
    _forward, _backward = F.selu_forward, F.selu_backward


class LogSigmoid(_Pointwise):
    """``log(sigmoid(x))``, stable."""
    _forward, _backward = F.log_sigmoid_forward, F.log_sigmoid_backward


class Softsign(_Pointwise):
    """``x / (1 + |x|)``."""
    _forward, _backward = F.softsign_forward, F.softsign_backward


class Tanhshrink(_Pointwise):
    """``x - tanh(x)``."""
    _forward, _backward = F.tanhshrink_forward, F.tanhshrink_backward


class CELU(_Pointwise):
    """``x`` above 0, ``alpha (exp(x / alpha) - 1)`` below."""
    _backward = F.celu_backward

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = checks.number(self, "alpha", alpha)
        self.inplace = _inplace(self, inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")

    def _run(self, x):
        return F.celu_forward(x, self.alpha)


class GLU(_Pointwise):
    """``a * sigmoid(b)`` for the halves ``a, b`` of the input along ``dim``."""
    _backward = F.glu_backward

    def __init__(self, dim=-1):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"GLU: dim must be an int, got {dim!r}")
        self.dim = dim

    def extra_repr(self):
        return f"dim={self.dim}"

    def _run(self, x):
        return F.glu_forward(x, self.dim)


class Softmin(_SoftmaxBase):
    """``softmax(-x, dim)``; ``dim=None`` picks torch's legacy axis with its warning."""
    _forward, _backward = F.softmin_forward, F.softmin_backward


class Softmax2d(_Pointwise):
    """Softmax over the channels of (C, H, W) or (N, C, H, W)."""
    _forward, _backward = F.softmax2d_forward, F.softmax2d_backward
