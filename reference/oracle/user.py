"""Running your code: a module-like object, or a CS231n-style forward/backward pair.

Both are wrapped behind one interface, used by the torch comparison and by
the finite-difference check alike:

- ``names``: your parameter names, in order;
- ``forward(x, values) -> out``: sets the parameters to ``values`` and runs forward;
- ``backward(dout) -> (dx, {name: gradient})``: runs backward after that forward.

Whatever your code returns is checked for the mistakes that stop a
comparison (a tuple where an array belongs, a missing gradient, NaN), and
an :class:`~reference.oracle.report.OracleError` names what was wrong.
"""
from __future__ import annotations

import numpy as np

from reference.oracle.inplace import Guard
from reference.oracle.params import find_accessor
from reference.oracle.report import NondeterministicError, OracleError, allclose, check_finite

_LIBRARIES = ("numpy", "torch", "builtins", "math", "reference.oracle")


def function_name(fn) -> str:
    """How messages name your function: its ``__name__``; for a lambda (glue around
    your code), the first function of yours it calls, e.g. "your lambda calling
    fc_backward", else "your lambda"."""
    name = getattr(fn, "__name__", None) or type(fn).__name__
    if name != "<lambda>":
        return name
    called = _called_function(fn)
    return f"your lambda calling {called}" if called else "your lambda"


def _called_function(fn) -> str | None:
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    cells = dict(zip(code.co_freevars, [c.cell_contents for c in fn.__closure__ or ()]))
    for name in code.co_freevars + code.co_names:
        target = cells.get(name, fn.__globals__.get(name))
        module = getattr(target, "__module__", "") or ""
        if callable(target) and not module.startswith(_LIBRARIES) and not isinstance(
                target, type):
            return getattr(target, "__name__", name)
    return None


def _array(value, tensor: str, function: str) -> np.ndarray:
    if isinstance(value, (tuple, list)):
        raise OracleError(f"{function} returned a {type(value).__name__} of {len(value)}; "
                          f"expected one array ({tensor})")
    return check_finite(f"the {tensor} returned by {function}", value)


class ModuleUnderTest:
    """An object with ``forward(x)`` and ``backward(dout) -> dx`` that stores its gradients.

    ``params`` is an accessor from :mod:`reference.oracle.params` (found from
    the object's shape when None; ``access`` stays None, and the object is
    taken to have no parameters, when nothing fits). Gradients are cleared
    before each backward, so a stale one is never taken for a fresh one.
    """

    def __init__(self, obj, params=None):
        for method in ("forward", "backward"):
            if not callable(getattr(obj, method, None)):
                raise OracleError(f"{type(obj).__name__} has no {method}() method; expected "
                                  f"forward(x) -> out and backward(dout) -> dx (for a pair of "
                                  f"functions use check_pair)")
        self.obj, self.access = obj, find_accessor(obj, params)
        self.params_found = self.access is not None
        self.names = list(self.access.names(obj)) if self.params_found else []
        self.label = type(obj).__name__
        self.backward_label = f"{self.label}.backward"
        self.forward_label = f"{self.label}.forward"
        self.x_grad = True   # False for an integer or boolean x: no dx expected
        self._shapes = {}

    def values(self) -> dict[str, np.ndarray]:
        return {n: np.asarray(self.access.get(self.obj, n)) for n in self.names}

    def forward(self, x, values):
        for name, value in values.items():
            self.access.set(self.obj, name, value)
        self._shapes = {n: np.shape(v) for n, v in values.items()}
        out = self.obj.forward(x)
        if isinstance(out, tuple) and len(out) == 2:
            raise OracleError(f"{self.label}.forward returned a pair (out, cache?); "
                              f"expected out alone (for CS231n-style pairs use check_pair)")
        return _array(out, "out", f"{self.label}.forward")

    def backward(self, dout):
        """``(dx, {name: gradient}, raw)``; ``raw``: the arrays as your code returned them."""
        for name in self.names:
            self.access.clear(self.obj, name)
        dx = self.obj.backward(dout)
        raw_dx = dx
        if isinstance(dx, tuple):
            raise OracleError(f"{self.label}.backward returned a tuple of {len(dx)}; expected "
                              f"dx alone, with parameter gradients stored on the object (for "
                              f"functions that return their gradients use check_pair)")
        if dx is None and self.x_grad:
            raise OracleError(f"{self.label}.backward returned None; expected dx, the "
                              f"gradient of the input")
        grads = {}
        for name in self.names:
            g = self.access.grad(self.obj, name)
            if g is None:
                raise OracleError(
                    f"{self.label}.backward did not set a gradient for {name!r} "
                    f"({self.access.where(name)} is missing); expected an array of shape "
                    f"{self._shapes.get(name)}, like {name}")
            grads[name] = check_finite(f"the gradient of {name!r} ({self.access.where(name)})",
                                       g)
        raw = {f"d{n}": self.access.grad(self.obj, n) for n in self.names}
        if not self.x_grad:
            return None, grads, raw
        return _array(dx, "dx", f"{self.label}.backward"), grads, {"dx": raw_dx, **raw}


class PairUnderTest:
    """``forward(x, *params, *args, **kwargs) -> (out, cache)`` and
    ``backward(dout, cache) -> (dx, *dparams)`` (dx alone without parameters)."""

    def __init__(self, forward, backward, names, args=(), kwargs=None):
        if not callable(forward) or not callable(backward):
            raise OracleError("forward and backward must both be functions")
        self.fwd, self.bwd, self.names = forward, backward, list(names)
        self.params_found = True
        self.args, self.kwargs = tuple(args), dict(kwargs or {})
        self.label = function_name(forward)
        self.forward_label = self.label
        self.backward_label = function_name(backward)
        self.x_grad = True   # False for an integer or boolean x: no dx expected
        self._cache = None
        self._shapes = {}

    def forward(self, x, values):
        self._shapes = {n: np.shape(v) for n, v in values.items()}
        result = self.fwd(x, *(values[n] for n in self.names), *self.args, **self.kwargs)
        if not (isinstance(result, tuple) and len(result) == 2):
            got = (f"a tuple of {len(result)}" if isinstance(result, tuple)
                   else type(result).__name__)
            raise OracleError(f"{self.label} returned {got}; expected (out, cache)")
        out, self._cache = result
        return _array(out, "out", self.label)

    def backward(self, dout):
        """``(dx, {name: gradient}, raw)``; ``raw``: the arrays as your code returned them."""
        name = function_name(self.bwd)
        result = self.bwd(dout, self._cache)
        want = 1 + len(self.names)
        result = result if isinstance(result, (tuple, list)) else (result,)
        if not self.x_grad and len(result) == len(self.names):
            result = (None, *result)   # no dx for an integer x: dparams alone is right
        if len(result) != want:
            listed = ", ".join(["dx"] + [f"d{n}" for n in self.names])
            raise OracleError(f"{name} returned {len(result)} value(s); expected {want}: "
                              f"{listed} (dx, then one gradient per parameter in the order "
                              f"of params)")
        grads = {}
        for n, g in zip(self.names, result[1:]):
            if g is None:
                raise OracleError(f"{name} returned None for the gradient of {n!r}; expected "
                                  f"an array of shape {self._shapes.get(n)}, like {n}")
            grads[n] = check_finite(f"the gradient of {n!r} returned by {name}", g)
        raw = {f"d{n}": g for n, g in zip(self.names, result[1:])}
        if not self.x_grad:
            return None, grads, raw
        if result[0] is None:
            raise OracleError(f"{name} returned None for dx; expected the gradient of x")
        return _array(result[0], "dx", name), grads, {"dx": result[0], **raw}


def run_twice(under_test, x, values, dout, rtol, atol_scale, allow_views=False):
    """``(out, dx, grads, in_place)`` from forward and backward, run twice on the same input.

    Each run hands your code fresh arrays and watches them
    (:class:`~reference.oracle.inplace.Guard`): ``in_place`` lists what the
    first run's forward or backward modified, and the returned gradients
    that share memory with an array it was given (``dout`` not counted with
    ``allow_views``) or with each other. A second answer that differs from
    the first is not a wrong gradient but code that is not a function of
    its input (iterating over a set, reading a global, an unseeded random
    draw): it raises :class:`~reference.oracle.report.NondeterministicError`.
    """
    runs, guards = [], []
    for _ in range(2):
        guard = Guard()
        x_in = guard.hand("x", x)
        values_in = {n: guard.hand(n, v, f"parameter {n!r}") for n, v in values.items()}
        out = under_test.forward(x_in, values_in)
        guard.check_modified(under_test.forward_label)
        dout_in = guard.hand("dout", dout)
        dx, grads, raw = under_test.backward(dout_in)
        guard.check_modified(under_test.backward_label)
        shared = [n for n in guard.passed if not (allow_views and n == "dout")]
        guard.check_aliasing(raw, under_test.backward_label, shared)
        runs.append({"out": out, **({"dx": dx} if dx is not None else {}),
                     **{f"d{n}": g for n, g in grads.items()}})
        guards.append(guard)
    first, second = runs
    for tensor, a in first.items():
        b = second[tensor]
        if np.shape(a) != np.shape(b) or not allclose(b, a, rtol, atol_scale):
            which = (f"{under_test.label}'s forward" if tensor == "out"
                     else f"{under_test.backward_label}")
            where = ""
            if np.shape(a) == np.shape(b):
                i = np.unravel_index(int(np.argmax(np.abs(np.asarray(a, float) - b))), np.shape(a))
                index = ", ".join(map(str, i))
                where = f": {tensor}[{index}] was {a[i]:.6g}, then {b[i]:.6g}"
            raise NondeterministicError(
                f"{which} returned different {tensor} for the same input, run twice{where}. "
                f"Your code is not a function of its input (iterating over a set, state kept "
                f"between calls, an unseeded random draw?); make it deterministic first, "
                f"then check its gradients")
    return (first["out"], first.get("dx"), {n: first[f"d{n}"] for n in values},
            guards[0].found)
