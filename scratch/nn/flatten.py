"""``Flatten``: (N, ...) -> (N, prod(...))."""
from __future__ import annotations

from scratch import checks
from scratch import functional as F
from scratch.nn.activation import _Pointwise


class Flatten(_Pointwise):
    """(N, ...) -> (N, prod(...))."""
    _forward, _backward = F.flatten_forward, F.flatten_backward

    def forward(self, x):
        checks.input_array(self, x, "(N, ...)", min_ndim=2)
        return self._keep(*F.flatten_forward(x))
