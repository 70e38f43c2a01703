"""Gradient clipping, the twin of ``torch.nn.utils.clip_grad``.

``parameters`` is a Parameter or an iterable of them; parameters whose
``.grad`` is None are skipped. Gradients are changed in place.
"""
from __future__ import annotations

import types
import warnings

import numpy as np

from scratch.nn.module import Parameter


def _as_list(parameters) -> list:
    if isinstance(parameters, Parameter):
        return [parameters]
    is_generator = isinstance(parameters, types.GeneratorType)
    parameters = list(parameters)
    if is_generator and not parameters:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                      stacklevel=3)
    return parameters


def _vector_norm(x: np.ndarray, norm_type: float) -> np.ndarray:
    """``torch.linalg.vector_norm(x, norm_type)`` of all elements, a 0-d array of x's
    dtype: inf -> max|x|, -inf -> min|x|, 0 -> number of nonzeros, else
    ``(sum |x|**p) ** (1/p)`` (2: the square root of a dot product)."""
    a = np.abs(np.ravel(x))
    if norm_type == np.inf:
        value = a.max() if a.size else 0.0
    elif norm_type == -np.inf:
        value = a.min() if a.size else np.inf
    elif norm_type == 0:
        value = np.count_nonzero(a)
    elif norm_type == 1:
        value = a.sum()
    elif norm_type == 2:
        value = np.sqrt(np.dot(a, a))
    else:
        p = x.dtype.type(norm_type)
        value = np.sum(a ** p) ** (1 / p)
    return np.asarray(value, x.dtype)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None) -> np.ndarray:
    """The ``norm_type`` norm of all the arrays together, as one vector: the norm of their
    norms. A 0-d array (float32 when there is nothing to measure, as torch)."""
    tensors = [tensors] if isinstance(tensors, np.ndarray) else list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return np.zeros((), np.float32)
    norms = [_vector_norm(np.asarray(t), norm_type) for t in tensors]
    total = _vector_norm(np.stack(norms), norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           "`parameters` is non-finite, so it cannot be clipped. To disable "
                           "this error and scale the gradients by the non-finite norm anyway, "
                           "set `error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters, max_norm: float, total_norm, foreach=None) -> None:
    """Scale every gradient by ``min(max_norm / (total_norm + 1e-6), 1)``, computed in
    ``total_norm``'s dtype and applied in each gradient's dtype."""
    parameters = [parameters] if isinstance(parameters, Parameter) else parameters
    grads = [p for p in parameters if p.grad is not None]
    if not grads:
        return
    total_norm = np.asarray(total_norm)
    as_norm = total_norm.dtype.type
    coef = np.minimum(as_norm(float(max_norm)) / (total_norm + as_norm(1e-6)), as_norm(1.0))
    for p in grads:
        p.grad = np.asarray(p.grad)
        with np.errstate(invalid="ignore"):  # a non-finite norm scales silently, as torch
            p.grad *= coef.astype(p.grad.dtype)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> np.ndarray:
    """Scale the gradients so that their total ``norm_type`` norm is at most ``max_norm``
    (never up: the factor is capped at 1, and 1e-6 is added to the norm); returns the
    total norm before clipping as a 0-d array. ``error_if_nonfinite`` raises
    RuntimeError instead of scaling by a NaN or infinite norm."""
    parameters = _as_list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]`` in place."""
    parameters = [parameters] if isinstance(parameters, Parameter) else parameters
    clip_value = float(clip_value)
    for p in parameters:
        if p.grad is not None:
            p.grad = np.asarray(p.grad)
            np.clip(p.grad, -clip_value, clip_value, out=p.grad)
