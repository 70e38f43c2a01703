"""Finite differences as a second, independent oracle (float64): ``check(forward,
backward, *arrays, **kwargs)`` wraps a scratch forward/backward pair in a
``torch.autograd.Function`` and runs ``torch.autograd.gradcheck`` on it (no torch layer
involved), and ``spread`` draws inputs whose values are distinct and 0.1 apart, so a
step of 1e-6 never crosses a kink or a tie."""
from __future__ import annotations

import numpy as np
import torch


class ScratchFunction(torch.autograd.Function):
    """Runs ``forward(*arrays, **kwargs) -> (out, cache)`` and ``backward(dout, cache)``."""

    @staticmethod
    def forward(ctx, forward, backward, kwargs, *tensors):
        out, ctx.cache = forward(*(t.detach().numpy() for t in tensors), **kwargs)
        ctx.backward = backward
        return torch.from_numpy(np.array(out))

    @staticmethod
    def backward(ctx, dout):
        grads = ctx.backward(dout.numpy(), ctx.cache)
        grads = grads if isinstance(grads, (tuple, list)) else (grads,)
        return (None, None, None, *(torch.from_numpy(np.array(g)) for g in grads))


def check(forward, backward, *arrays, **kwargs):
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    fn = lambda *ts: ScratchFunction.apply(forward, backward, kwargs, *ts)  # noqa: E731
    assert torch.autograd.gradcheck(fn, tensors, eps=1e-6, atol=1e-7, rtol=1e-5)


def spread(shape, seed, away_from_zero=False):
    """Distinct values 0.1 apart in random order (no ties, no zeros when asked)."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    values = (rng.permutation(size) - size / 2 + 0.5) * 0.1
    if away_from_zero:
        values += np.where(values >= 0, 0.05, -0.05)
    return values.reshape(shape)
