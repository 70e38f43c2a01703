"""Checks of functions that return the gradients of a scalar loss.

- :func:`check_gradients`: against autograd of a torch expression of the same loss;
- :func:`check_gradients_numerically`: against central finite differences of
  a NumPy loss, for a loss with no torch twin.

``inputs`` maps names to arrays, scalars or shapes: a tuple of ints is a
shape, drawn from ``seed`` (so give labels as an array, ``np.array([0, 2])``).
"""
from __future__ import annotations

import numpy as np

from reference.oracle.counterpart import label as torch_label
from reference.oracle.counterpart import loss_gradients
from reference.oracle.diagnose import diagnose
from reference.oracle.fd import central
from reference.oracle.inputs import is_shape, spread_values, tied_values
from reference.oracle.report import (
    FINITE_DIFFERENCE_TOLERANCE,
    OracleError,
    Report,
    check_finite,
    compare,
    tolerance,
)
from reference.oracle.user import function_name


def _prepare(inputs: dict, dtype, seed, draw) -> dict:
    rng = np.random.default_rng(seed)
    prepared = {}
    for name, value in inputs.items():
        if is_shape(value):
            prepared[name] = draw(rng, value).astype(dtype)
        elif np.issubdtype(np.asarray(value).dtype, np.floating):
            prepared[name] = check_finite(f"input {name!r}", value).astype(dtype)
        else:
            prepared[name] = value
    return prepared


def check_gradients(grad_fn, loss, inputs: dict, returns=None, *, seed=0, dtype=np.float64,
                    rtol=None, atol=None) -> Report:
    """Compare the gradients ``grad_fn`` returns with autograd of a torch expression.

    inputs: name -> array, scalar or shape (a tuple of ints, drawn from ``seed``
        with ties and zeros); floating arrays are cast to ``dtype`` and
        differentiated, integer ones (labels) are passed as they are. Both
        ``grad_fn`` and ``loss`` are called with the inputs positionally, in
        this order: ``grad_fn`` with NumPy arrays, ``loss`` with torch tensors.
    loss: returns a scalar tensor, e.g. ``lambda x, W, b, y: F.cross_entropy(x @ W + b, y)``.
    returns: what ``grad_fn`` returns, in order: ``"loss"`` or the name of the
        input each gradient belongs to, e.g. ``("W", "b", "x")``. When
        ``grad_fn`` returns a dict keyed that way, leave it None.
    """
    prepared = _prepare(inputs, dtype, seed, tied_values)
    t_loss, t_grads = loss_gradients(loss, prepared, dtype)
    rtol, atol_scale = tolerance(dtype, rtol, atol)
    title = f"{function_name(grad_fn)} vs autograd of {torch_label(loss)} ({np.dtype(dtype).name})"
    return _report(grad_fn, prepared, returns, t_loss, t_grads, inputs, rtol, atol_scale, dtype,
                   title)


def check_gradients_numerically(grad_fn, loss, inputs: dict, returns=None, *, seed=0,
                                eps=1e-6, rtol=None, atol=None) -> Report:
    """Compare the gradients ``grad_fn`` returns with central finite differences of ``loss``.

    For a loss with no torch twin: ``loss(*inputs)`` is your NumPy loss,
    returning a float; every element of every floating input is nudged by
    ``+-eps`` (float64). Drawn inputs are distinct and away from zero, since a
    difference quotient means nothing at a tie or a kink. Other arguments as
    for :func:`check_gradients`.
    """
    prepared = _prepare(inputs, np.float64, seed, spread_values)
    floating = [n for n, v in prepared.items() if isinstance(v, np.ndarray)
                and np.issubdtype(v.dtype, np.floating)]

    def value(**changed):
        args = {**prepared, **changed}
        out = np.asarray(loss(*(a.copy() if isinstance(a, np.ndarray) else a
                                for a in args.values())), np.float64)
        if out.size != 1:
            raise OracleError(f"the loss ({function_name(loss)}) returned shape {out.shape}; "
                              f"expected a scalar")
        return float(out.reshape(()))
    t_loss = value()
    t_grads = {n: central(lambda a, n=n: value(**{n: a}), prepared[n], eps) for n in floating}
    default = FINITE_DIFFERENCE_TOLERANCE
    rtol, atol_scale = (default[0] if rtol is None else rtol,
                        default[1] if atol is None else atol)
    title = (f"{function_name(grad_fn)} vs central finite differences of "
             f"{function_name(loss)} (eps {eps:g}, float64)")
    return _report(grad_fn, prepared, returns, t_loss, t_grads, inputs, rtol, atol_scale,
                   np.float64, title)


def _report(grad_fn, prepared, returns, t_loss, t_grads, inputs, rtol, atol_scale, dtype,
            title) -> Report:
    result = grad_fn(*(v.copy() if isinstance(v, np.ndarray) else v for v in prepared.values()))
    label = function_name(grad_fn)
    returned = _name_returns(result, returns, label)
    for name in returned:
        if name != "loss" and name not in t_grads:
            what = "is not an input" if name not in inputs else "is not a floating input"
            raise OracleError(f"returns names {name!r}, which {what}; the floating inputs "
                              f"are {sorted(t_grads)}")
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
    drawn = {n: prepared[n] for n, v in inputs.items() if is_shape(v)}
    return Report(title, rows, _dtype_notes(actuals, dtype), inputs=drawn)


def _dtype_notes(actual: dict, dtype) -> list[str]:
    return [f"your {name} has dtype {np.asarray(a).dtype}; the check runs in "
            f"{np.dtype(dtype).name}, so it is judged at that precision"
            for name, a in actual.items() if np.asarray(a).dtype != np.dtype(dtype)]


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
