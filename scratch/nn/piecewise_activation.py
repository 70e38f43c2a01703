"""Piecewise-linear activation layers: ``Hardtanh``, ``ReLU6``, ``Threshold``,
``Hardshrink``, ``Softshrink``, ``Hardsigmoid``, ``Hardswish``.

torch's arguments, order, defaults and repr; any input shape (0-d included),
output of the input's shape and dtype. ``inplace`` is accepted where torch has it
and, as for every scratch activation, the input is left unchanged (see
:mod:`scratch.nn.activation`).
"""
from __future__ import annotations

import warnings

from scratch import checks
from scratch import functional as F
from scratch.nn.activation import _inplace, _Pointwise


class Hardtanh(_Pointwise):
    """``clip(x, min_val, max_val)``; ``min_value``/``max_value`` are torch's deprecated
    spellings, taken with its FutureWarning."""
    _backward = F.hardtanh_backward

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False, min_value=None,
                 max_value=None):
        super().__init__()
        for old, new in ((min_value, "min_val"), (max_value, "max_val")):
            if old is not None:
                warnings.warn(f"keyword argument `{new[:3]}_value` is deprecated and renamed "
                              f"to `{new}`", FutureWarning, stacklevel=2)
        min_val = min_val if min_value is None else min_value
        max_val = max_val if max_value is None else max_value
        self.min_val = checks.number(self, "min_val", min_val)
        self.max_val = checks.number(self, "max_val", max_val)
        self.inplace = _inplace(self, inplace)
        if self.max_val <= self.min_val:
            raise AssertionError(f"max_val ({self.max_val}) must be greater than min_val "
                                 f"({self.min_val})")

    def extra_repr(self):
        return (f"min_val={self.min_val}, max_val={self.max_val}"
                + (", inplace=True" if self.inplace else ""))

    def _run(self, x):
        return F.hardtanh_forward(x, self.min_val, self.max_val)


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``; gradient 0 at both bends, as torch's."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Threshold(_Pointwise):
    """``x`` where ``x > threshold``, else ``value``; both arguments required, as torch's."""
    _backward = F.threshold_backward

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold = checks.number(self, "threshold", threshold)
        self.value = checks.number(self, "value", value)
        self.inplace = _inplace(self, inplace)

    def extra_repr(self):
        return (f"threshold={self.threshold}, value={self.value}"
                + (", inplace=True" if self.inplace else ""))

    def _run(self, x):
        return F.threshold_forward(x, self.threshold, self.value)


class Hardshrink(_Pointwise):
    """``x`` where ``|x| > lambd``, else 0."""
    _backward = F.hardshrink_backward

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = checks.number(self, "lambd", lambd)

    def extra_repr(self):
        return f"{self.lambd}"

    def _run(self, x):
        return F.hardshrink_forward(x, self.lambd)


class Softshrink(Hardshrink):
    """``x -+ lambd`` outside ``[-lambd, lambd]``, else 0; ``lambd >= 0``."""
    _backward = F.softshrink_backward

    def _run(self, x):
        return F.softshrink_forward(x, self.lambd)


class Hardsigmoid(_Pointwise):
    """``clip(x + 3, 0, 6) / 6``. Prints as torch's: ``Hardsigmoid()`` even with
    ``inplace=True``."""
    _forward, _backward = F.hardsigmoid_forward, F.hardsigmoid_backward

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = _inplace(self, inplace)

    def extra_repr(self):
        return ""


class Hardswish(Hardsigmoid):
    """``x * clip(x + 3, 0, 6) / 6`` (MobileNetV3)."""
    _forward, _backward = F.hardswish_forward, F.hardswish_backward
