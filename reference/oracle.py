"""Torch as a gradient oracle for hand-written NumPy code.

Three shapes of code are checked against a torch counterpart you name:

- :func:`check_module`: an object with ``forward(x)`` and ``backward(dout) -> dx``
  that stores its parameter gradients (scratch's layers, or your own class);
- :func:`check_pair`: CS231n-style ``forward(x, *params, ...) -> (out, cache)``
  and ``backward(dout, cache) -> (dx, *dparams)``;
- :func:`check_gradients`: a function that returns gradients of a scalar loss,
  against autograd of a torch expression of the same loss.

Each returns a :class:`Report`: one row per tensor (the output, ``dx`` and
``d<name>`` for each of your parameters, in your layout) with the largest
absolute and relative error, the index of the worst element, the tolerance
and a verdict, plus a diagnosis where the evidence names the bug. Checks run
in float64 with a random upstream gradient. ``report.assert_ok()`` raises
AssertionError carrying the table. Calls that cannot be checked (shapes that
disagree, a missing gradient, NaN, a mapping to a parameter that does not
exist) raise :class:`OracleError` saying what was wrong and what was expected.

Without a torch counterpart, :mod:`reference.oracle_fd` checks the same
objects against central finite differences; :mod:`reference.oracle_search`
runs any check under hypothesis and reports the smallest failing example.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from reference.oracle_diagnose import diagnose
from reference.oracle_fd import check_module_numerically, check_pair_numerically  # noqa: F401
from reference.oracle_inputs import prepare, prepare_params, tied_values, upstream_maker
from reference.oracle_params import (  # noqa: F401
    Attributes,
    Dicts,
    NamedParameters,
    Param,
    no_accessor_error,
    resolve_mapping,
    to_torch_layout,
)
from reference.oracle_report import (  # noqa: F401
    OracleError,
    Report,
    Row,
    check_finite,
    compare,
    out_of_tolerance,
    tolerance,
)
from reference.oracle_torch import Counterpart, loss_gradients, single_threaded
from reference.oracle_torch import label as torch_label
from reference.oracle_user import ModuleUnderTest, PairUnderTest, function_name

TIES_MESSAGES = {
    False: ("sends gradient to every tied maximum: yours equals the derivative taken from "
            "above (x + eps), which routes a window's gradient to each of its tied maxima; "
            "torch routes it to the first one only"),
    True: ("passes gradient at the kink: yours equals the derivative taken from above "
           "(x + eps), e.g. ReLU's gradient let through at x == 0; torch lets none through "
           "there"),
}
MAX_TIES_PROBE = 2048  # elements of x; the probe runs torch's forward once per element


def check_module(mine, counterpart, x, *, params=None, mapping=None, randomize=True,
                 dout=None, seed=0, dtype=np.float64, rtol=None, atol=None) -> Report:
    """Compare ``mine.forward``/``mine.backward`` with ``counterpart`` under autograd.

    mine: has ``forward(x) -> out`` and ``backward(dout) -> dx`` and stores its
        parameter gradients where ``params`` (an accessor: :class:`NamedParameters`,
        :class:`Dicts`, :class:`Attributes`; found from ``mine`` when None) reads them.
    counterpart: a ``torch.nn.Module`` (never modified) or ``f(x, **params)``.
    x: the input, or its shape (then drawn from ``seed``, with ties and zeros).
    mapping: your parameter name -> torch's name or :class:`Param` where they differ.
    randomize: overwrite your parameters with values drawn uniform in [-1, 1]
        (zero-initialised weights hide most backward bugs); False keeps yours.
        Either way they are cast to ``dtype`` and written back into ``mine``.
    dout: the upstream gradient; default standard normal drawn from ``seed``.
    rtol, atol: override the tolerance (see :mod:`reference.oracle_report`).
    """
    under_test = ModuleUnderTest(mine, params)
    rng = np.random.default_rng(seed)
    values = under_test.values()
    if randomize:
        values = {n: np.shape(v) for n, v in values.items()}
    values = prepare_params(values, rng, dtype)
    x = prepare("x", x, rng, dtype, tied_values)
    return _layer_report(under_test, counterpart, x, values, mapping,
                         upstream_maker(dout, seed, dtype), seed, dtype, rtol, atol)


def check_pair(forward, backward, counterpart, x, params=None, *, args=(), kwargs=None,
               mapping=None, dout=None, seed=0, dtype=np.float64, rtol=None,
               atol=None) -> Report:
    """Compare a CS231n-style pair with ``counterpart`` under autograd.

    Calls ``forward(x, *params.values(), *args, **kwargs) -> (out, cache)`` and
    ``backward(dout, cache)``, which returns ``(dx, *dparams)`` in the order of
    ``params`` (or dx alone when there are none).
    params: name -> array, or -> shape to draw uniform in [-1, 1] from ``seed``.
    counterpart: ``f(x, **params)`` in torch (or a ``torch.nn.Module``); the
        settings your pair takes in ``args``/``kwargs`` (stride, pad, ...) go
        into ``f`` by closure, e.g. ``lambda x, w, b: F.conv2d(x, w, b, 1, 1)``.
    Other arguments as for :func:`check_module`.
    """
    params = dict(params or {})
    under_test = PairUnderTest(forward, backward, list(params), args, kwargs)
    rng = np.random.default_rng(seed)
    values = prepare_params(params, rng, dtype)
    x = prepare("x", x, rng, dtype, tied_values)
    return _layer_report(under_test, counterpart, x, values, mapping,
                         upstream_maker(dout, seed, dtype), seed, dtype, rtol, atol)


def _layer_report(under_test, counterpart, x, values, mapping, make_dout, seed, dtype,
                  rtol, atol) -> Report:
    cp = Counterpart(counterpart, dtype)
    if not under_test.params_found and cp.required:
        raise no_accessor_error(under_test.obj, f"{cp.label} has parameters")
    resolved = resolve_mapping(under_test.names, cp.shapes, cp.required, mapping, cp.label)
    tvalues = to_torch_layout(values, resolved, cp.shapes, cp.label)
    t_out, dout, t_dx, t_grads = cp.run(x, tvalues, make_dout)
    out = under_test.forward(x.copy(), {n: v.copy() for n, v in values.items()})
    if out.shape != t_out.shape:
        raise OracleError(_out_shape_message(under_test.label, cp.label, out.shape,
                                             t_out.shape, x.shape))
    dx, grads = under_test.backward(dout.copy())
    expected = {"out": t_out, "dx": t_dx}
    actual = {"out": out, "dx": dx}
    for name, param in resolved.items():
        expected[f"d{name}"] = param.backward(t_grads[param.torch_name])
        actual[f"d{name}"] = grads[name]
    rtol, atol_scale = tolerance(dtype, rtol, atol)
    rows = [compare(k, actual[k], expected[k], rtol, atol_scale) for k in expected]
    if not all(r.verdict == "ok" for r in rows):
        probe_ties = _only_ties_differ(x, dx, t_dx, rtol, atol_scale)
        candidates = _torch_candidates(cp, counterpart, x, tvalues, t_grads, resolved, dout,
                                       {r.tensor for r in rows if r.verdict != "ok"}, probe_ties)
        batch = x.shape[0] if x.ndim >= 2 else None
        for r in rows:
            if r.verdict != "ok":
                r.diagnoses = diagnose(actual[r.tensor], expected[r.tensor], rtol, atol_scale,
                                       batch=batch, spatial=r.tensor == "dx",
                                       candidates=candidates[r.tensor])
    title = (f"{under_test.label} vs {cp.label} ({np.dtype(dtype).name}, "
             f"upstream seed {seed}, x {x.shape})")
    return Report(title, rows, _dtype_notes(actual, dtype))


def _out_shape_message(mine, theirs, shape, t_shape, x_shape) -> str:
    message = (f"{mine}'s output has shape {shape}, but {theirs} gives {t_shape} for the "
               f"same x {x_shape}; expected equal shapes: configure the counterpart like "
               f"your code (stride, padding, ...)")
    if len(shape) == len(t_shape) == 4 and shape[:2] == t_shape[:2]:
        diff = {a - b for a, b in zip(shape[2:], t_shape[2:])}
        if diff in ({2}, {-2}):
            message += " (every spatial size differs by 2: a padding off by one?)"
    return message


def _dtype_notes(actual: dict, dtype) -> list[str]:
    return [f"your {name} has dtype {np.asarray(a).dtype}; the check runs in "
            f"{np.dtype(dtype).name}, so it is judged at that precision"
            for name, a in actual.items() if np.asarray(a).dtype != np.dtype(dtype)]


def _only_ties_differ(x, dx, expected, rtol, atol_scale) -> bool:
    """dx is wrong, and only where x is zero or repeats a value: the signature of a tie bug."""
    if dx.shape != expected.shape or x.size > MAX_TIES_PROBE:
        return False
    wrong = out_of_tolerance(dx, expected, rtol, atol_scale)
    _, index, counts = np.unique(x, return_inverse=True, return_counts=True)
    tied = (counts[index.reshape(x.shape)] > 1) | (x == 0)
    return bool(wrong.any() and not (wrong & ~tied).any())


def _torch_candidates(cp, counterpart, x, tvalues, grads, resolved, dout, failing,
                      probe_ties) -> dict:
    """Wrong answers computed by torch: a flipped kernel, a derivative from above."""
    candidates = defaultdict(list)
    kernels = [t for t, v in tvalues.items() if v.ndim == 4 and v.shape[-2:] != (1, 1)]
    if kernels:
        def flip(a):
            return np.ascontiguousarray(a[..., ::-1, ::-1])
        flipped = {t: (flip(v) if t in kernels else v) for t, v in tvalues.items()}
        f_out, _, f_dx, f_grads = cp.run(x, flipped, lambda shape: dout)
        names = ", ".join(kernels)
        candidates["out"].append((f_out, f"equals torch's output with the kernel ({names}) "
                                         f"flipped in both spatial axes: yours is a "
                                         f"convolution, torch's a cross-correlation"))
        candidates["dx"].append((f_dx, f"looks like a missing kernel flip: equals torch's dx "
                                       f"for the kernel ({names}) flipped in both spatial "
                                       f"axes"))
        for name, param in resolved.items():
            if param.torch_name in kernels:
                message = ("is the right gradient flipped in both spatial axes: a kernel "
                           "flip too many or too few")
                candidates[f"d{name}"] += [(param.backward(flip(grads[param.torch_name])),
                                            message),
                                           (param.backward(flip(f_grads[param.torch_name])),
                                            message)]
    if probe_ties:
        elementwise = dout.shape == x.shape  # no windows, so a tie can only be a kink
        candidates["dx"].append((_derivative_from_above(counterpart, x, tvalues, dout),
                                 TIES_MESSAGES[elementwise]))
    return candidates


def _derivative_from_above(counterpart, x, tvalues, dout, eps=2.0 ** -20) -> np.ndarray:
    """``(f(x + eps e_i) - f(x)) / eps`` projected on ``dout``, element by element, in float64.

    For a piecewise-linear ``f`` (max pooling, ReLU) and an ``eps`` below the
    gaps between distinct values, this is exact: a tied maximum raised by eps
    becomes the maximum, so every tie gets its window's gradient.
    """
    cp64 = Counterpart(counterpart, np.float64)
    x = x.astype(np.float64)
    params = {t: v.astype(np.float64) for t, v in tvalues.items()}
    grad = np.empty(x.size)
    with single_threaded():
        base = cp64.forward(x, params)
        for i in range(x.size):
            shifted = x.copy()
            shifted.flat[i] += eps
            grad[i] = np.sum((cp64.forward(shifted, params) - base) * dout) / eps
    return grad.reshape(x.shape)


def check_gradients(grad_fn, loss, inputs: dict, returns=None, *, dtype=np.float64,
                    rtol=None, atol=None) -> Report:
    """Compare the gradients ``grad_fn`` returns with autograd of a torch expression.

    inputs: name -> array (or scalar); floating arrays are cast to ``dtype`` and
        differentiated, integer ones (labels) are passed as they are. Both
        ``grad_fn`` and ``loss`` are called with the inputs positionally, in
        this order: ``grad_fn`` with NumPy arrays, ``loss`` with torch tensors.
    loss: returns a scalar tensor, e.g. ``lambda x, W, b, y: F.cross_entropy(x @ W + b, y)``.
    returns: what ``grad_fn`` returns, in order: ``"loss"`` or the name of the
        input each gradient belongs to, e.g. ``("W", "b", "x")``. When
        ``grad_fn`` returns a dict keyed that way, leave it None.
    """
    prepared = {n: (check_finite(f"input {n!r}", v).astype(dtype)
                    if np.issubdtype(np.asarray(v).dtype, np.floating) else v)
                for n, v in inputs.items()}
    t_loss, t_grads = loss_gradients(loss, prepared, dtype)
    result = grad_fn(*(v.copy() if isinstance(v, np.ndarray) else v for v in prepared.values()))
    label = function_name(grad_fn)
    returned = _name_returns(result, returns, label)
    for name in returned:
        if name != "loss" and name not in t_grads:
            what = "is not an input" if name not in inputs else "is not a floating input"
            raise OracleError(f"returns names {name!r}, which {what}; the floating inputs "
                              f"are {sorted(t_grads)}")
    rtol, atol_scale = tolerance(dtype, rtol, atol)
    batch = next((np.shape(v)[0] for v in prepared.values() if np.ndim(v) >= 2), None)
    rows, actuals = [], {}
    for name, value in returned.items():
        expected = np.asarray(t_loss) if name == "loss" else t_grads[name]
        tensor = "loss" if name == "loss" else f"d{name}"
        actuals[tensor] = actual = check_finite(f"the {tensor} returned by {label}", value)
        row = compare(tensor, actual, expected, rtol, atol_scale)
        if row.verdict != "ok":
            row.diagnoses = diagnose(actual, expected, rtol, atol_scale, batch=batch)
        rows.append(row)
    title = f"{label} vs autograd of {torch_label(loss)} ({np.dtype(dtype).name})"
    return Report(title, rows, _dtype_notes(actuals, dtype))


def _name_returns(result, returns, label) -> dict:
    if isinstance(result, dict):
        return dict(result)
    values = result if isinstance(result, (tuple, list)) else (result,)
    if returns is None:
        raise OracleError(f"{label} returned {len(values)} value(s) but returns= is not "
                          f"given; expected returns naming each, e.g. ('loss', 'x')")
    returns = list(returns)
    if len(values) != len(returns):
        raise OracleError(f"{label} returned {len(values)} value(s); expected "
                          f"{len(returns)}: {returns}")
    for name, value in zip(returns, values):
        if value is None:
            raise OracleError(f"{label} returned None for {name!r}; expected an array")
    return dict(zip(returns, values))
