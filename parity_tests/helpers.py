"""The one comparison helper of the parity suite, and the torch side of each check.

Tolerances
----------
Both implementations round every operation, in different orders, so they may
differ by the rounding error of the longest sum behind an element: a value
that sums ``K`` products of magnitude at most ``M`` carries an error of at most
about ``K * u * M`` per implementation in practice (``u`` is the unit roundoff:
1.1e-16 in float64, 6.0e-8 in float32). Our strategies keep inputs within
[-4, 4], weights within [-1, 1] and upstream gradients within about [-4, 4],
so ``M <= 16`` and each tensor is compared with

    atol = ATOL_PER_TERM[dtype] * K,   ATOL_PER_TERM = 8 * u * 16 rounded up,
    rtol = RTOL[dtype]                  (a few hundred ulps),

where ``K`` is the reduction size behind that tensor (``C*kh*kw`` for a conv
output, ``N*H_out*W_out`` for its weight gradient, ...). float64 is therefore
tight (2e-14 per term), float32 no looser than its arithmetic allows.

Batch normalisation is the one ill-conditioned piece: ``x - mean`` carries a
rounding error of about ``u * max|x|``, which ``1/sqrt(var + eps)`` then
multiplies (up to 1/sqrt(1e-5) = 316 for a constant channel). Its budget is
multiplied by :func:`batch_norm_conditioning`, computed from the input alone.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

ATOL_PER_TERM = {np.dtype(np.float64): 2e-14, np.dtype(np.float32): 1e-5}
RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}
DTYPES = [np.float64, np.float32]
TORCH_DTYPE = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)


def tolerance(dtype, reduction: int = 1) -> tuple[float, float]:
    """``(rtol, atol)`` for a tensor of ``dtype`` produced by sums of ``reduction`` terms."""
    dtype = np.dtype(dtype)
    return RTOL[dtype], ATOL_PER_TERM[dtype] * max(int(reduction), 1)


def assert_parity(scratch: dict, reference: dict, dtype, reductions: dict | None = None):
    """Assert every named scratch array equals its torch counterpart, and keeps ``dtype``.

    ``scratch``: name -> ndarray; ``reference``: name -> tensor (or None where
    both sides must have no gradient); ``reductions``: name -> K (default 1).
    """
    reductions = reductions or {}
    assert scratch.keys() == reference.keys(), (sorted(scratch), sorted(reference))
    for name, expected in reference.items():
        actual = scratch[name]
        if expected is None:
            assert actual is None, f"{name}: scratch has a gradient, torch has none"
            continue
        assert actual is not None, f"{name}: scratch returned None, torch has a value"
        assert np.asarray(actual).dtype == np.dtype(dtype), (
            f"{name}: dtype {np.asarray(actual).dtype}, expected {np.dtype(dtype)}")
        rtol, atol = tolerance(dtype, reductions.get(name, 1))
        torch.testing.assert_close(
            torch.from_numpy(np.array(actual)), expected.detach().cpu(),
            rtol=rtol, atol=atol, check_dtype=False,
            msg=lambda m, name=name: f"{name} differs from torch:\n{m}")


def batch_norm_conditioning(x: np.ndarray, eps: float = 1e-5) -> float:
    """``max(1, max|x| / sqrt(min_channel_var + eps))``: how much batch norm amplifies
    the rounding error of its input (computed in float64 from the input alone)."""
    x = np.asarray(x, dtype=np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    return max(1.0, float(np.abs(x).max() / np.sqrt(x.var(axis=axes).min() + eps)))


def torch_run(fn, inputs: dict, dout: np.ndarray | None, dtype, **kwargs):
    """Run ``fn(**tensors, **kwargs)`` in torch and backpropagate ``dout``.

    Floating inputs become leaf tensors that require grad (None inputs pass
    through). Returns ``(out, grads)`` with ``grads[name]`` the tensor's .grad.
    """
    tensors = {}
    for name, value in inputs.items():
        if value is None or not np.issubdtype(np.asarray(value).dtype, np.floating):
            tensors[name] = None if value is None else torch.from_numpy(np.asarray(value))
        else:
            tensors[name] = torch.tensor(np.asarray(value, dtype=dtype), requires_grad=True)
    out = fn(**tensors, **kwargs)
    grad = torch.tensor(np.asarray(dout, dtype=dtype)) if dout is not None else None
    out.backward(grad)
    grads = {name: (t.grad if t is not None and t.requires_grad else None)
             for name, t in tensors.items()}
    return out, grads


def upstream(seed: int, shape, dtype) -> np.ndarray:
    """A random upstream gradient (standard normal, never all ones)."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def same_state_twins(scratch, twin, dtype, seed):
    """Give a scratch module and its torch twin the same random floating state (running
    variances kept positive); the twin is cast to ``dtype``. Returns the twin."""
    twin = twin.to(TORCH_DTYPE[np.dtype(dtype)])
    rng = np.random.default_rng(seed)
    state = {key: (rng.uniform(-1, 1, v.shape).astype(dtype) if v.dtype.kind == "f" else v)
             for key, v in scratch.state_dict().items()}
    if "running_var" in state:
        state["running_var"] = 1 + np.abs(state["running_var"])
    scratch.load_state_dict(state)
    twin.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return twin


def cast(*arrays, dtype):
    """``arrays`` in ``dtype`` (None stays None)."""
    return [None if a is None else a.astype(dtype) for a in arrays]


def assert_module_matches_torch(scratch, twin, x, dtype, seed, reduction=1):
    """One forward/backward of both modules on ``x`` with a random upstream gradient:
    output, input gradient, every parameter gradient and every buffer agree (integer
    buffers exactly), and both have the same state_dict keys."""
    out = scratch.forward(x)
    dout = upstream(seed, out.shape, dtype)
    dx = scratch.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    t_out = twin(tx)
    twin.zero_grad()
    t_out.backward(torch.from_numpy(dout))
    grads = {f"grad:{n}": p.grad for n, p in scratch.named_parameters()}
    t_grads = {f"grad:{n}": p.grad for n, p in twin.named_parameters()}
    state, t_state = scratch.state_dict(), twin.state_dict()
    assert list(state) == list(t_state)
    floats = {n: v for n, v in state.items() if v.dtype.kind == "f"}
    assert_parity(dict(out=out, dx=dx, **grads, **floats),
                  dict(out=t_out, dx=tx.grad, **t_grads, **{n: t_state[n] for n in floats}),
                  dtype, reductions={n: reduction for n in ["out", "dx", *grads, *floats]})
    for n in state.keys() - floats.keys():
        assert int(state[n]) == int(t_state[n]), n


def _to_torch(value):
    return torch.from_numpy(value) if isinstance(value, np.ndarray) else value


class TorchNamespace:
    """``torch.nn`` called the way the error cases call ``scratch.nn``: ``ns.Linear(3, 2)``
    builds torch's module from the same arguments (arrays as tensors) and returns a
    function of NumPy inputs."""

    def __getattr__(self, cls):
        def make(*args, **kwargs):
            module = getattr(torch.nn, cls)(*map(_to_torch, args),
                                            **{k: _to_torch(v) for k, v in kwargs.items()})
            return lambda *xs: module(*map(_to_torch, xs))
        return make


def assert_refused_alike(call, error):
    """``call(scratch.nn)`` and ``call`` on torch's namespace both raise ``error``."""
    from scratch import nn
    with pytest.raises(error):
        call(nn)
    with pytest.raises(error):
        call(TorchNamespace())
