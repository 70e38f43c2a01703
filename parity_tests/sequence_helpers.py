"""Helpers of the sequence and attention parity tests (embeddings, layer norm, recurrent
cells, GRU, attention, transformer): torch runs with several outputs, finite differences
of pairs with several outputs, and layer norm's conditioning."""
from __future__ import annotations

import numpy as np
import torch

from parity_tests.helpers import TORCH_DTYPE


def tensors(arrays: dict, dtype, grad=True) -> dict:
    """name -> leaf tensor of ``dtype`` (requiring grad for floating arrays); None stays None,
    integer and boolean arrays pass through unconverted."""
    out = {}
    for name, a in arrays.items():
        if a is None:
            out[name] = None
        elif np.asarray(a).dtype.kind == "f":
            out[name] = torch.tensor(np.asarray(a, dtype), requires_grad=grad)
        else:
            out[name] = torch.from_numpy(np.asarray(a))
    return out


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


class _Pair(torch.autograd.Function):
    """A scratch forward/backward pair with several outputs as one autograd Function."""

    @staticmethod
    def forward(ctx, forward, backward, *ts):
        outs, ctx.cache = forward(*(t.detach().numpy() for t in ts))
        ctx.backward = backward
        return tuple(torch.from_numpy(np.array(o)) for o in outs)

    @staticmethod
    def backward(ctx, *douts):
        grads = ctx.backward([d.numpy() for d in douts], ctx.cache)
        return (None, None, *(None if g is None else torch.from_numpy(np.array(g))
                              for g in grads))


def finite_differences(forward, backward, *arrays):
    """``torch.autograd.gradcheck`` of a scratch pair in float64: ``forward(*arrays) ->
    (outputs tuple, cache)``; ``backward(douts list, cache) -> one gradient per array``.
    Central differences of the scratch forward against the scratch backward: no torch
    layer is involved (an independent second oracle)."""
    ts = [torch.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    assert torch.autograd.gradcheck(lambda *xs: _Pair.apply(forward, backward, *xs), ts,
                                    eps=1e-6, atol=1e-7, rtol=1e-5)


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
