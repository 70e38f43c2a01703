"""Helpers of the sequence and attention parity tests (embeddings, layer norm, recurrent
cells, GRU, attention, transformer): torch runs with several outputs and layer norm's
conditioning (finite differences of pairs with several outputs: ``helpers.check``)."""
from __future__ import annotations

import numpy as np
import torch

from parity_tests.helpers import TORCH_DTYPE
from reference.oracle.counterpart import leaf_tensors


def tensors(arrays: dict, dtype, grad=True) -> dict:
    """name -> leaf tensor of ``dtype`` (requiring grad for floating arrays); None stays None,
    integer and boolean arrays pass through unconverted (the oracle's ``leaf_tensors``)."""
    return leaf_tensors(arrays, dtype, grad)


def backprop(outputs: dict, douts: dict):
    """``sum(out * dout)`` over the named outputs backpropagated (outputs without an
    upstream gradient, or None, are left out)."""
    loss = sum((outputs[k] * torch.from_numpy(np.asarray(g))).sum()
               for k, g in douts.items() if g is not None and outputs.get(k) is not None)
    loss.backward()


def grads_of(named: dict) -> dict:
    """``'d' + name -> .grad`` of each tensor that requires grad."""
    return {f"d{k}": t.grad for k, t in named.items()
            if t is not None and t.requires_grad}


def row_conditioning(x: np.ndarray, k: int, eps: float) -> np.ndarray:
    """Per normalised row (the last ``k`` axes flattened): ``max(1, max|x| / sqrt(var + eps))``,
    how much layer norm amplifies the rounding error of its input (float64, from x alone)."""
    rows = np.asarray(x, np.float64).reshape(-1, int(np.prod(x.shape[x.ndim - k:])))
    scale = np.abs(rows).max(axis=1, initial=0) / np.sqrt(rows.var(axis=1) + eps)
    return np.maximum(1.0, scale)


def row_rstd(x: np.ndarray, k: int, eps: float) -> np.ndarray:
    """Per normalised row: ``max(1, 1 / sqrt(var + eps))``, the factor layer norm's input
    gradient (every term of which is multiplied by it) scales its rounding error by."""
    rows = np.asarray(x, np.float64).reshape(-1, int(np.prod(x.shape[x.ndim - k:])))
    return np.maximum(1.0, 1 / np.sqrt(rows.var(axis=1) + eps))


def torch_dtype(dtype):
    return TORCH_DTYPE[np.dtype(dtype)]
