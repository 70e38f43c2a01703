"""``Residual``: a block whose two branches see the same input and whose outputs add."""
from __future__ import annotations

from typing import NamedTuple

from scratch import checks
from scratch import functional as F
from scratch.nn.linear import Identity
from scratch.nn.module import Module


class ResidualCache(NamedTuple):
    relu_mask: object        # (N, ...) bool: where the sum was positive; None without ReLU


class Residual(Module):
    """``relu(body(x) + shortcut(x))``, or without the ReLU when ``relu=False``.

    ``body`` and ``shortcut`` are modules (a ``Sequential`` each, as the builder makes
    them); ``shortcut`` defaults to the identity. A ResNet basic block is a body of
    conv-BN-ReLU-conv-BN and a shortcut of nothing or a 1x1 conv and a BN.

    Forward: ``out = body(x) + shortcut(x)``, ``y = max(out, 0)``.
    Backward: ``dout`` passes ReLU's mask, then goes down *both* branches, since ``x``
    reached the output along both; the input gradient is the sum of the two branches'
    input gradients, ``dx = body.backward(d) + shortcut.backward(d)``, and each branch
    sets its own parameters' gradients. The cache holds only ReLU's mask: each branch
    keeps its own.
    """

    def __init__(self, body: Module, shortcut: Module | None = None, relu: bool = True):
        super().__init__()
        shortcut = Identity() if shortcut is None else shortcut
        for what, module in (("body", body), ("shortcut", shortcut)):
            if not isinstance(module, Module):
                raise TypeError(f"Residual: {what} must be a scratch.nn.Module, got "
                                f"{type(module).__name__}")
        self.body = body
        self.shortcut = shortcut
        self.relu = checks.flag(self, "relu", relu)

    def extra_repr(self):
        return f"relu={self.relu}"

    def forward(self, x):
        body = self.body.forward(x)
        shortcut = self.shortcut.forward(x)
        if body.shape != shortcut.shape:
            raise ValueError(f"Residual: the body gives shape {body.shape} but the shortcut "
                             f"gives {shortcut.shape}; the two are added, so they must agree "
                             f"(a shortcut that changes channels or size needs a projection, "
                             f"a 1x1 conv with the body's stride)")
        out = body + shortcut
        mask = None
        if self.relu:
            out, mask = F.relu_forward(out)
        return self._keep(out, ResidualCache(mask))

    def backward(self, dout, input_grad=True):
        """``dx`` (None with ``input_grad=False``); sets both branches' parameter gradients."""
        cache = self._take_cache(dout)
        if cache.relu_mask is not None:
            dout = F.relu_backward(dout, cache.relu_mask)
        dx_body = self.body.backward(dout, input_grad=input_grad)
        dx_shortcut = self.shortcut.backward(dout, input_grad=input_grad)
        if not input_grad:
            return None
        return dx_body + dx_shortcut
