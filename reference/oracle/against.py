"""What a check compares against, and the old call forms that still work for one release.

Every check takes the same ``against=`` keyword:

- a ``torch.nn.Module`` (its parameters replaced by yours through
  ``torch.func.functional_call``; the module you pass is never changed);
- a torch function, e.g. ``torch.nn.functional.relu`` or
  ``lambda x, w, b: F.conv2d(x, w, b, padding=1)``;
- :func:`finite_differences`, for code with no torch twin.

The checks of version 2 took the torch counterpart in another position in
each check (``check_module(mine, counterpart, x)``,
``check_pair(forward, backward, counterpart, x, params)``, ...). Those forms
still run, with a ``DeprecationWarning`` that spells the new call; they
will be removed in the next release.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch


@dataclass(frozen=True)
class FiniteDifferences:
    """Compare with central finite differences instead of torch (see :func:`finite_differences`).

    eps: the step; loss: for :func:`~reference.oracle.check_gradients`, your
    NumPy loss ``loss(*inputs) -> float`` (None for layers, whose forward is
    differentiated).
    """
    eps: float = 1e-6
    loss: Callable | None = None


def finite_differences(loss=None, *, eps: float = 1e-6) -> FiniteDifferences:
    """``against=oracle.finite_differences()``: central differences, in float64.

    For a layer (``check_module``, ``check_pair``) the forward is projected on
    the upstream gradient and nudged by ``+-eps``; for ``check_gradients``
    give your NumPy ``loss``, which is differentiated instead.
    """
    return FiniteDifferences(eps, loss)


def is_counterpart(value) -> bool:
    """A torch module or a function: what the old forms passed where the input now goes."""
    if isinstance(value, (torch.nn.Module, FiniteDifferences)):
        return True
    return callable(value) and not isinstance(value, (np.ndarray, tuple, list, dict, type))


def accepts_old_forms(translate):
    """Decorate a check so that ``translate(args, kwargs)`` may rewrite an old call.

    ``translate`` returns None for a call in the new form, else
    ``(args, kwargs, new_form)``: the call is run as rewritten and a
    ``DeprecationWarning`` names ``new_form``.
    """
    def wrap(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            moved = translate(args, dict(kwargs))
            if moved is not None:
                args, kwargs, new_form = moved
                warnings.warn(
                    f"this call form of oracle.{fn.__name__} is deprecated and will be removed "
                    f"in the next release; write oracle.{fn.__name__}({new_form})",
                    DeprecationWarning, stacklevel=2)
            return fn(*args, **kwargs)
        return call
    return wrap


def warn_renamed(old: str, new: str) -> None:
    """A ``DeprecationWarning`` for a function or keyword replaced by ``new``."""
    warnings.warn(f"{old} is deprecated and will be removed in the next release; write {new}",
                  DeprecationWarning, stacklevel=3)
