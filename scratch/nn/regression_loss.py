"""Regression loss modules: ``MSELoss``, ``L1Loss``, ``SmoothL1Loss``, ``HuberLoss``,
``GaussianNLLLoss``, and the base class of every loss added with them.

Argument order and defaults are torch's (the deprecated ``size_average`` and
``reduce`` flags mapped to ``reduction`` with torch's warning). ``forward(input,
target, ...)`` returns the loss (0-d, or per element for 'none');
``backward(dloss=1.0)`` returns the input's gradient (targets are constants).
Each prints as torch's: ``MSELoss()``.
"""
from __future__ import annotations

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module


class _Loss(Module):
    """torch's ``_Loss``: ``reduction`` and the forward/backward bookkeeping."""
    _backward = None

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.reduction = F.legacy_reduction(size_average, reduce, reduction, type(self).__name__)
        self._loss_shape = None

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def _input(self, x, what="input"):
        checks.input_array(self, x, what=what)
        return x

    def _finish(self, loss, cache):
        self._cache, self._loss_shape = cache, loss.shape
        return loss

    def backward(self, dloss=1.0, input_grad=True):
        """``dloss`` has the loss's shape: a scalar, or the input's shape for 'none'."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward "
                               f"(each forward allows one backward)")
        checks.grad(self, dloss, self._loss_shape, dtype=None, what="dloss")
        cache, self._cache = self._cache, None
        return type(self)._backward(dloss, cache)


class MSELoss(_Loss):
    """``mean((input - target)**2)``; input and target of one shape."""
    _backward = staticmethod(F.mse_loss_backward)

    def forward(self, input, target):
        return self._finish(*F.mse_loss_forward(self._input(input), target,
                                                reduction=self.reduction))


class L1Loss(_Loss):
    """``mean(|input - target|)``; the gradient at a zero difference is 0, as torch's."""
    _backward = staticmethod(F.l1_loss_backward)

    def forward(self, input, target):
        return self._finish(*F.l1_loss_forward(self._input(input), target,
                                               reduction=self.reduction))


class SmoothL1Loss(_Loss):
    """Quadratic below ``beta``, linear above (``beta=0``: L1)."""
    _backward = staticmethod(F.smooth_l1_loss_backward)

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = checks.number(self, "beta", beta)

    def forward(self, input, target):
        return self._finish(*F.smooth_l1_loss_forward(self._input(input), target,
                                                      reduction=self.reduction, beta=self.beta))


class HuberLoss(_Loss):
    """``0.5 d**2`` below ``delta``, ``delta (|d| - 0.5 delta)`` above; torch's order
    ``HuberLoss(reduction='mean', delta=1.0)``."""
    _backward = staticmethod(F.huber_loss_backward)

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = checks.number(self, "delta", delta)

    def forward(self, input, target):
        return self._finish(*F.huber_loss_forward(self._input(input), target, self.reduction,
                                                  self.delta))


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood of ``target`` under mean ``input`` and variance
    ``var``; keyword-only arguments, as torch's. ``forward(input, target, var)``;
    ``backward`` returns ``(dinput, dvar)`` (``dvar`` None when var is a number)."""
    _backward = staticmethod(F.gaussian_nll_loss_backward)

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction=reduction)
        self.full = checks.flag(self, "full", full)
        self.eps = checks.number(self, "eps", eps)

    def forward(self, input, target, var):
        return self._finish(*F.gaussian_nll_loss_forward(
            self._input(input), target, var, self.full, self.eps, self.reduction))
