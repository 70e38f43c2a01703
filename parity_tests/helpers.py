"""The parity suite's harness: thin wrappers over the gradient oracle's comparison core.

One case of a test is one line:

- :func:`assert_pair_matches_torch`: a scratch functional pair against a torch
  function, forward and backward with a random upstream gradient;
- :func:`assert_module_matches_torch`: a scratch module against its torch twin
  (output, input gradient, every parameter gradient and buffer);
- :func:`assert_parity`: named arrays against torch's, when a test runs the two
  sides itself (sequences of states, optimizer steps, several outputs);
  :func:`assert_close`: one array under a test's own explicit bound;
- :func:`check`: finite differences of a scratch pair as the second oracle
  (``torch.autograd.gradcheck``, which compares whole Jacobians itself, no torch
  layer involved), on :func:`spread` inputs.

Every other comparison goes through :func:`reference.oracle.report.compare` and
fails with the oracle's table (which tensor, max abs/rel error, where, the tolerance).
The tolerances, and why they are what they are, live in
:mod:`reference.oracle.tolerance`: here each tensor is judged by the suite's
budget ``atol = ATOL_PER_TERM[dtype] * K`` (absolute), ``rtol = RTOL[dtype]``,
with ``K`` the reduction size behind that tensor (``C*kh*kw`` for a conv
output, ``N*H_out*W_out`` for its weight gradient, ...).

Batch normalisation is the one ill-conditioned piece: ``x - mean`` carries a
rounding error of about ``u * max|x|``, which ``1/sqrt(var + eps)`` then
multiplies (up to 1/sqrt(1e-5) = 316 for a constant channel). Its budget is
multiplied by :func:`batch_norm_conditioning`, computed from the input alone.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from reference.oracle.counterpart import TORCH_DTYPES as TORCH_DTYPE
from reference.oracle.counterpart import leaf_tensors
from reference.oracle.inputs import spread_values
from reference.oracle.report import Report, compare
from reference.oracle.tolerance import ATOL_PER_TERM, GRADCHECK, RTOL  # noqa: F401
from reference.oracle.tolerance import budget as tolerance

DTYPES = [np.float64, np.float32]
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)


def _numpy(value):
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value


def assert_parity(scratch: dict, reference: dict, dtype, reductions: dict | None = None):
    """Assert every named scratch array equals its torch counterpart, and keeps ``dtype``.

    ``scratch``: name -> ndarray; ``reference``: name -> tensor or ndarray (or None
    where both sides must have no gradient); ``reductions``: name -> K (default 1).
    Fails with the oracle's table of every tensor.
    """
    reductions = reductions or {}
    assert scratch.keys() == reference.keys(), (sorted(scratch), sorted(reference))
    rows = []
    for name, expected in reference.items():
        actual = scratch[name]
        if expected is None:
            assert actual is None, f"{name}: scratch has a gradient, torch has none"
            continue
        assert actual is not None, f"{name}: scratch returned None, torch has a value"
        assert np.asarray(actual).dtype == np.dtype(dtype), (
            f"{name}: dtype {np.asarray(actual).dtype}, expected {np.dtype(dtype)}")
        rtol, atol = tolerance(dtype, reductions.get(name, 1))
        rows.append(compare(name, actual, _numpy(expected), rtol, atol, absolute=True))
    Report(f"scratch vs torch ({np.dtype(dtype).name})", rows).assert_ok()


def assert_close(actual, expected, rtol: float, atol: float = 0.0, name: str = "actual",
                 equal_nan: bool = False):
    """One array against the right one under an explicit ``rtol`` and absolute ``atol``
    (a scalar ``expected`` stands for every element), where a test's own bound is not
    the dtype budget of :func:`assert_parity` (bit-for-bit-close paths, a known factor,
    a sequence of states). Fails with the oracle's table."""
    expected = np.asarray(_numpy(expected), np.float64)
    if expected.ndim == 0:
        expected = np.broadcast_to(expected, np.shape(actual))
    row = compare(name, actual, expected, rtol, atol, absolute=True, equal_nan=equal_nan)
    Report(f"{name} vs the right value", [row]).assert_ok()


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
    tensors = leaf_tensors(inputs, dtype)
    out = fn(**tensors, **kwargs)
    grad = torch.tensor(np.asarray(dout, dtype=dtype)) if dout is not None else None
    out.backward(grad)
    grads = {name: (t.grad if isinstance(t, torch.Tensor) and t.requires_grad else None)
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


def assert_pair_matches_torch(forward, backward, torch_fn, inputs: dict, dtype, seed,
                              reductions: dict | None = None):
    """One case of a functional pair against torch, forward and backward.

    ``forward(*inputs.values()) -> (out, cache)`` and ``backward(dout, cache)`` giving
    one gradient per floating input, in order (a lone array for one), against
    ``torch_fn(*tensors)`` on the same inputs (floating ones cast to ``dtype``), with
    ``dout`` drawn from ``seed``. The rows are ``out`` and ``d<name>`` (``dx`` for an
    input named ``x``), judged with ``reductions`` (row -> K, or a function of
    scratch's ``out`` giving that dict). Returns scratch's ``(out, cache)``.
    """
    out, cache = forward(*inputs.values())
    reductions = reductions(out) if callable(reductions) else reductions
    dout = upstream(seed, np.shape(out), dtype)
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, (tuple, list)) else (grads,)
    tensors = leaf_tensors(inputs, dtype)
    t_out = torch_fn(*tensors.values())
    t_out.backward(torch.from_numpy(dout))
    floating = [n for n, t in tensors.items() if isinstance(t, torch.Tensor) and t.requires_grad]
    names = list(inputs) if len(grads) == len(inputs) else floating
    assert len(grads) == len(names), (
        f"backward gave {len(grads)} gradients; expected one per floating input {floating}")
    assert_parity(dict(out=out, **{f"d{n}": g for n, g in zip(names, grads)}),
                  dict(out=t_out, **{f"d{n}": (tensors[n].grad if n in floating else None)
                                     for n in names}),
                  dtype, reductions)
    return out, cache


# --------------------------------------------------------------- finite differences
class _ScratchFunction(torch.autograd.Function):
    """A scratch pair as one autograd Function: ``forward(*arrays, **kwargs) -> (out,
    cache)`` with ``out`` one array (then ``backward(dout, cache)``) or a tuple of them
    (then ``backward([dout, ...], cache)``); backward gives one gradient per array
    (None where an array gets none)."""

    @staticmethod
    def forward(ctx, forward, backward, kwargs, *tensors):
        out, ctx.cache = forward(*(t.detach().numpy() for t in tensors), **kwargs)
        ctx.backward, ctx.several = backward, isinstance(out, (tuple, list))
        outs = out if ctx.several else (out,)
        results = tuple(torch.from_numpy(np.array(o)) for o in outs)
        return results if ctx.several else results[0]

    @staticmethod
    def backward(ctx, *douts):
        douts = [d.numpy() for d in douts]
        grads = ctx.backward(douts if ctx.several else douts[0], ctx.cache)
        grads = grads if isinstance(grads, (tuple, list)) else (grads,)
        return (None, None, None, *(None if g is None else torch.from_numpy(np.array(g))
                                    for g in grads))


def check(forward, backward, *arrays, **kwargs):
    """Finite differences as the second oracle: ``torch.autograd.gradcheck`` (full
    Jacobians, float64, :data:`~reference.oracle.tolerance.GRADCHECK`) of the scratch
    pair wrapped as one Function, so central differences of the scratch forward judge
    the scratch backward with no torch layer involved. ``kwargs`` go to ``forward``."""
    tensors = [torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True)
               for a in arrays]
    fn = lambda *ts: _ScratchFunction.apply(forward, backward, kwargs, *ts)  # noqa: E731
    assert torch.autograd.gradcheck(fn, tensors, **GRADCHECK)


def spread(shape, seed, away_from_zero=False):
    """Distinct values 0.1 apart in random order (no ties, no zeros when asked): where a
    step of 1e-6 never crosses a kink or a tie."""
    return spread_values(np.random.default_rng(seed), shape, away_from_zero)
