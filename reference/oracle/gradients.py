"""Checks of functions that return the gradients of a scalar loss.

- ``check_gradients(grad_fn, inputs, against=torch_loss)``: against autograd
  of a torch expression of the same loss;
- ``check_gradients(grad_fn, inputs, against=finite_differences(numpy_loss))``:
  against central finite differences of a NumPy loss with no torch twin.

``inputs`` maps names to arrays, scalars or shapes: a tuple of ints is a
shape, drawn from ``seed`` (so give labels as an array, ``np.array([0, 2])``).
"""
from __future__ import annotations

import numpy as np

from reference.oracle.against import (
    FiniteDifferences,
    accepts_old_forms,
    is_counterpart,
    warn_renamed,
)
from reference.oracle.counterpart import label as torch_label
from reference.oracle.counterpart import loss_gradients
from reference.oracle.diagnose import diagnose
from reference.oracle.fd import central
from reference.oracle.inplace import Guard
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


def _old_call(args, kwargs):
    """``check_gradients(grad_fn, loss, inputs, returns)`` -> the new form."""
    if "loss" in kwargs:
        kwargs["against"] = kwargs.pop("loss")
    elif len(args) >= 2 and is_counterpart(args[1]) and "against" not in kwargs:
        kwargs["against"], args = args[1], (args[0], *args[2:])
    else:
        return None
    if len(args) >= 3:
        kwargs["returns"], args = args[2], args[:2]
    return args, kwargs, "grad_fn, inputs, *, against=loss, returns=..."


@accepts_old_forms(_old_call)
def check_gradients(grad_fn, inputs: dict, *, against, returns=None, seed=0,
                    dtype=np.float64, rtol=None, atol=None) -> Report:
    """Check the gradients ``grad_fn`` returns against autograd or finite differences.

    grad_fn: your function, called with the inputs positionally (NumPy arrays),
        in the order of ``inputs``.
    inputs: name -> array, scalar or shape (a tuple of ints, drawn from ``seed``
        with ties and zeros); floating arrays are cast to ``dtype`` and
        differentiated, integer and boolean ones (labels, masks) are passed as
        they are and get no gradient.
    against: a torch expression of the same loss, called with the inputs as
        torch tensors and returning a scalar, e.g.
        ``lambda x, W, b, y: F.cross_entropy(x @ W + b, y)``; or
        ``finite_differences(loss)`` with your NumPy ``loss(*inputs) -> float``
        (drawn inputs then distinct and away from zero, float64).
    returns: what ``grad_fn`` returns, in order: ``"loss"`` or the name of the
        input each gradient belongs to, e.g. ``("W", "b", "x")``. When
        ``grad_fn`` returns a dict keyed that way, leave it None.
    """
    if isinstance(against, FiniteDifferences):
        if against.loss is None:
            raise OracleError("against=finite_differences() needs your NumPy loss here: "
                              "against=oracle.finite_differences(loss)")
        return _numerically(grad_fn, against.loss, inputs, returns, seed, against.eps, rtol,
                            atol)
    prepared = _prepare(inputs, dtype, seed, tied_values)
    t_loss, t_grads = loss_gradients(against, prepared, dtype)
    rtol, atol_scale = tolerance(dtype, rtol, atol)
    title = (f"{function_name(grad_fn)} vs autograd of {torch_label(against)} "
             f"({np.dtype(dtype).name})")
    mean = batch_averaged(lambda p: loss_gradients(against, p, dtype)[0], prepared, t_loss)
    return _report(grad_fn, prepared, returns, t_loss, t_grads, inputs, rtol, atol_scale, dtype,
                   title, mean_over=batch_of(prepared) if mean else 0)


def check_gradients_numerically(grad_fn, loss, inputs: dict, returns=None, *, seed=0,
                                eps=1e-6, rtol=None, atol=None) -> Report:
    """Deprecated: ``check_gradients(grad_fn, inputs, against=finite_differences(loss))``."""
    warn_renamed("oracle.check_gradients_numerically(grad_fn, loss, inputs, ...)",
                 "oracle.check_gradients(grad_fn, inputs, "
                 "against=oracle.finite_differences(loss), returns=...)")
    return _numerically(grad_fn, loss, inputs, returns, seed, eps, rtol, atol)


def _numerically(grad_fn, loss, inputs, returns, seed, eps, rtol, atol) -> Report:
    """Central finite differences of your NumPy ``loss``: every element of every
    floating input nudged by ``+-eps`` (float64)."""
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
    mean = batch_averaged(lambda p: value(**p), prepared, t_loss)
    return _report(grad_fn, prepared, returns, t_loss, t_grads, inputs, rtol, atol_scale,
                   np.float64, title, mean_over=batch_of(prepared) if mean else 0)


def batch_of(prepared: dict) -> int | None:
    """N: the first axis of the first input with two or more axes."""
    return next((np.shape(v)[0] for v in prepared.values() if np.ndim(v) >= 2), None)


def batch_averaged(loss_value, prepared: dict, t_loss: float) -> bool:
    """Whether the loss is an average over the batch, established: every input whose
    first axis is N given twice along it leaves the loss unchanged (a sum doubles)."""
    n = batch_of(prepared)
    if n is None or n < 2 or t_loss == 0:
        return False
    twice = {k: (np.concatenate([v, v]) if isinstance(v, np.ndarray) and v.ndim >= 1
                 and v.shape[0] == n else v) for k, v in prepared.items()}
    try:
        again = loss_value(twice)
    except Exception:
        return False
    return abs(again - t_loss) <= 1e-9 * max(1.0, abs(t_loss))


def _report(grad_fn, prepared, returns, t_loss, t_grads, inputs, rtol, atol_scale, dtype,
            title, mean_over=None) -> Report:
    guard = Guard()
    label = function_name(grad_fn)
    result = grad_fn(*(guard.hand(n, v, f"input {n!r}") for n, v in prepared.items()))
    guard.check_modified(label)
    returned = _name_returns(result, returns, label)
    guard.check_aliasing({("loss" if n == "loss" else f"d{n}"): v for n, v in returned.items()},
                         label)
    for name in returned:
        if name != "loss" and name not in t_grads:
            what = "is not an input" if name not in inputs else "is not a floating input"
            raise OracleError(f"returns names {name!r}, which {what}; the floating inputs "
                              f"are {sorted(t_grads)}")
    batch = batch_of(prepared) if mean_over is None else mean_over
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
    return Report(title, rows, _dtype_notes(actuals, dtype), inputs=drawn, in_place=guard.found)


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
