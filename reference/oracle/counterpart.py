"""The torch side of a check: a ``torch.nn`` module or a function, run by autograd.

A counterpart is either a ``torch.nn.Module`` (its parameters are replaced by
yours for the call, through ``torch.func.functional_call``; a deep copy is
used, so the module you pass is never changed) or a function
``f(x, **params)`` of torch tensors, e.g.
``lambda x, weight, bias: F.conv2d(x, weight, bias, stride=2)``, whose
keyword names are the parameter names.
"""
from __future__ import annotations

import contextlib
import copy
import inspect

import numpy as np
import torch

from reference.oracle.report import OracleError, check_finite

TORCH_DTYPES = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}


def torch_dtype(dtype) -> torch.dtype:
    try:
        return TORCH_DTYPES[np.dtype(dtype)]
    except KeyError:
        raise OracleError(f"dtype must be float64 or float32, got {np.dtype(dtype)}") from None


@contextlib.contextmanager
def single_threaded():
    """One intra-op thread for a loop of many tiny calls, where waking the thread pool
    costs far more than the arithmetic; the previous setting is restored."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def keyword_names(fn, skip: int) -> tuple[list[str] | None, set[str]]:
    """``(accepted, required)`` parameter names of ``fn`` after the first ``skip``.

    ``accepted`` is None when ``fn`` takes ``**kwargs`` or has no inspectable
    signature (then any name is accepted); ``required`` are those without a default.
    """
    try:
        params = list(inspect.signature(fn).parameters.values())[skip:]
    except (TypeError, ValueError):
        return None, set()
    named = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    required = {p.name for p in named if p.default is p.empty}
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None, required
    return [p.name for p in named], required


def label(obj) -> str:
    """How messages name a counterpart: ``torch.nn.Linear``, ``torch.log``, ``torch lambda``."""
    if isinstance(obj, torch.nn.Module):
        return f"torch.nn.{type(obj).__name__}" if type(obj).__module__.startswith(
            "torch.nn") else type(obj).__name__
    name = getattr(obj, "__name__", None) or repr(obj)
    if name.endswith("<lambda>"):
        return "torch lambda"
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("torch"):
        return f"{module}.{getattr(obj, '__name__', name)}"
    return name


class Counterpart:
    """A torch module or function ``f(x, **params)`` evaluated in ``dtype``.

    ``shapes``: parameter name -> shape (None where only the name is known),
    or None when any name is accepted; ``required``: the names that must be
    given (a function's keywords without a default).
    """

    def __init__(self, counterpart, dtype):
        self.dtype = torch_dtype(dtype)
        self.label = label(counterpart)
        if isinstance(counterpart, torch.nn.Module):
            self.module = copy.deepcopy(counterpart).to(self.dtype)
            self.shapes = {n: tuple(p.shape) for n, p in self.module.named_parameters()}
            self.required = set(self.shapes)
        elif callable(counterpart):
            self.module, self.fn = None, counterpart
            names, self.required = keyword_names(counterpart, skip=1)
            self.shapes = None if names is None else dict.fromkeys(names)
        else:
            raise OracleError(f"the torch counterpart must be a torch.nn.Module or a function "
                              f"f(x, **params); got {type(counterpart).__name__}")

    def _call(self, x: torch.Tensor, params: dict) -> torch.Tensor:
        try:
            if self.module is not None:
                out = torch.func.functional_call(self.module, params, (x,))
            else:
                out = self.fn(x, **params)
        except Exception as e:  # torch's own message, with what it was given
            shapes = ", ".join(f"{n} {tuple(t.shape)}" for n, t in params.items())
            raise OracleError(f"the torch counterpart ({self.label}) raised "
                              f"{type(e).__name__}: {e}\n  it was called with x "
                              f"{tuple(x.shape)}{', ' + shapes if shapes else ''}") from e
        if not isinstance(out, torch.Tensor):
            raise OracleError(f"the torch counterpart ({self.label}) returned "
                              f"{type(out).__name__}; expected one tensor")
        return out

    def forward(self, x: np.ndarray, params: dict) -> np.ndarray:
        """The output alone, no gradients."""
        with torch.no_grad():
            t = {n: torch.as_tensor(v, dtype=self.dtype) for n, v in params.items()}
            tx = (torch.as_tensor(x, dtype=self.dtype) if np.issubdtype(
                np.asarray(x).dtype, np.floating) else torch.as_tensor(np.asarray(x)))
            return self._call(tx, t).numpy().copy()

    def run(self, x: np.ndarray, params: dict, make_dout):
        """Forward, then backpropagate ``make_dout(out.shape)``.

        Returns ``(out, dout, dx, grads)`` as float arrays; a parameter the
        output does not depend on gets a zero gradient. An integer or boolean
        ``x`` goes to torch as it is (int64 or bool) and ``dx`` is None.
        """
        floating = np.issubdtype(np.asarray(x).dtype, np.floating)
        tx = (torch.tensor(x, dtype=self.dtype, requires_grad=True) if floating
              else torch.as_tensor(np.asarray(x)))  # token ids, indices, masks: untouched
        t = {n: torch.tensor(v, dtype=self.dtype, requires_grad=True) for n, v in params.items()}
        out = self._call(tx, t)
        dout = np.asarray(make_dout(tuple(out.shape)))
        if dout.shape != tuple(out.shape):
            raise OracleError(f"dout has shape {dout.shape}; torch's output has shape "
                              f"{tuple(out.shape)}")
        if not out.requires_grad:
            raise OracleError(f"the output of {self.label} does not depend on x or any "
                              f"parameter; expected a differentiable expression")
        out.backward(torch.as_tensor(dout, dtype=self.dtype))
        grads = {n: (v.grad if v.grad is not None else torch.zeros_like(v)).numpy()
                 for n, v in t.items()}
        dx = (None if not floating else tx.grad.numpy() if tx.grad is not None
              else np.zeros(x.shape))
        result = out.detach().numpy()
        checked = [("output", result), *([("dx", dx)] if dx is not None else []),
                   *((f"d{n}", g) for n, g in grads.items())]
        for what, a in checked:
            try:
                check_finite(f"torch's {what}", a)
            except OracleError as e:
                raise OracleError(f"{e}: the inputs are outside what {self.label} is defined "
                                  f"for") from None
        return result, dout, dx, grads


def leaf_tensors(inputs: dict, dtype, grad: bool = True) -> dict:
    """name -> torch's input: a floating array becomes a leaf tensor of ``dtype`` that
    requires grad (when ``grad``); an integer or boolean one (labels, indices, a mask)
    a tensor as it is; None and anything else (a string option) pass through."""
    tdtype = torch_dtype(dtype)
    tensors = {}
    for name, value in inputs.items():
        a = None if value is None else np.asarray(value)
        if a is not None and np.issubdtype(a.dtype, np.floating):
            tensors[name] = torch.tensor(a, dtype=tdtype, requires_grad=grad)
        elif a is not None and (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            tensors[name] = torch.as_tensor(a)
        else:
            tensors[name] = value
    return tensors


def loss_gradients(loss, inputs: dict, dtype):
    """Autograd of a scalar torch expression ``loss(*inputs)`` (float inputs require grad).

    Returns ``(loss value, {name: gradient})`` for every floating input.
    """
    tensors = leaf_tensors(inputs, dtype)
    try:
        value = loss(*tensors.values())
    except Exception as e:
        shapes = ", ".join(f"{n} {np.shape(v)}" for n, v in inputs.items())
        raise OracleError(f"the torch loss ({label(loss)}) raised {type(e).__name__}: {e}\n"
                          f"  it was called with {shapes}") from e
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise OracleError(f"the torch loss ({label(loss)}) returned {shape}; expected a scalar "
                          f"tensor (reduce it, e.g. with .mean() or .sum())")
    value.reshape(()).backward()
    grads = {n: (t.grad.numpy() if t.grad is not None else np.zeros(t.shape))
             for n, t in tensors.items() if isinstance(t, torch.Tensor) and t.requires_grad}
    return value.detach().item(), grads
