"""Checks of hand-written layers against a torch counterpart: modules and CS231n pairs.

- :func:`check_module`: an object with ``forward(x)`` and ``backward(dout) -> dx``
  that stores its parameter gradients (scratch's layers, or your own class);
- :func:`check_pair`: CS231n-style ``forward(x, *params, ...) -> (out, cache)``
  and ``backward(dout, cache) -> (dx, *dparams)``.

Both take your code, then the input, then the parameters, then keywords;
``against=`` names a torch module, a torch function or finite differences.

Both run your code twice on the same input (a different answer the second
time is reported as such, never as a wrong gradient), probe torch's function
for the ties and kinks ``x`` covers (:mod:`reference.oracle.probe`), and
return a :class:`~reference.oracle.report.Report`.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from reference.oracle import probe
from reference.oracle.against import FiniteDifferences, accepts_old_forms, is_counterpart
from reference.oracle.counterpart import Counterpart
from reference.oracle.diagnose import batch_norm_variance_term, diagnose, unbiased_batch_norm
from reference.oracle.fd import fd_report
from reference.oracle.inputs import (
    is_floating,
    is_shape,
    prepare,
    prepare_params,
    spread_values,
    tied_values,
    upstream_maker,
)
from reference.oracle.names import customary_mapping
from reference.oracle.params import no_accessor_error, resolve_mapping, to_torch_layout
from reference.oracle.report import OracleError, Report, compare, tolerance
from reference.oracle.user import ModuleUnderTest, PairUnderTest, run_twice


def _old_module_call(args, kwargs):
    """``check_module(mine, counterpart, x, *, params=...)`` -> the new form."""
    if "counterpart" in kwargs:
        kwargs["against"] = kwargs.pop("counterpart")
    elif len(args) >= 2 and is_counterpart(args[1]) and "against" not in kwargs:
        kwargs["against"], args = args[1], (args[0], *args[2:])
    else:
        return None
    return args, kwargs, "mine, x, params=None, *, against=counterpart, ..."


@accepts_old_forms(_old_module_call)
def check_module(mine, x, params=None, *, against, mapping=None, randomize=True, dout=None,
                 seed=0, dtype=np.float64, rtol=None, atol=None, allow_views=False) -> Report:
    """Check ``mine.forward``/``mine.backward`` against torch autograd or finite differences.

    mine: has ``forward(x) -> out`` and ``backward(dout) -> dx`` and stores its
        parameter gradients where ``params`` reads them.
    x: the input, or its shape: then drawn from ``seed`` (the same seed draws
        x, the parameters and dout), with tied maxima and exact zeros planted
        (:func:`reference.oracle.inputs.tied_values`). An integer or boolean
        array (token ids, indices) is passed through untouched and gets no
        gradient: ``backward`` may then return None.
    params: where ``mine`` keeps its parameters and gradients, an accessor
        (:class:`NamedParameters`, :class:`Dicts`, :class:`Attributes`);
        found from ``mine`` when None.
    against: a ``torch.nn.Module`` (never modified), a torch function
        ``f(x, **params)``, or :func:`finite_differences`.
    mapping: your parameter name -> torch's name or :class:`Param` where they differ.
    randomize: overwrite your parameters with values drawn uniform in [-1, 1]
        (zero-initialised weights hide most backward bugs); False keeps yours.
        Either way they are cast to ``dtype`` and written back into ``mine``.
    dout: the upstream gradient; default standard normal drawn from ``seed``.
    dtype: float64 (tight) or float32; finite differences run in float64 only.
    rtol, atol: override the tolerance (see :mod:`reference.oracle.report`).
    allow_views: a returned gradient may share memory with ``dout`` (a
        pass-through or reshape layer returning ``dout`` or a view of it, as
        torch's ``Identity`` and ``Flatten`` do); still flagged when two
        returned gradients share memory or an array is modified.

    Returns a :class:`Report`: one row per tensor (``out``, ``dx``, ``d<name>``),
    and an in-place verdict when your code wrote into x, dout or a parameter,
    or returned a gradient sharing memory with dout or another gradient.
    """
    under_test = ModuleUnderTest(mine, params)
    rng = np.random.default_rng(seed)
    values = under_test.values()
    if randomize:
        values = {n: np.shape(v) for n, v in values.items()}
    fd = _finite_differences(against, dtype)
    if fd is not None:
        if not under_test.params_found:
            raise no_accessor_error(mine, "finite differences must perturb them")
        values = prepare_params(values, rng, np.float64)
        x = prepare("x", x, rng, np.float64, spread_values, keep_integers=True)
        under_test.x_grad = is_floating(x)
        return fd_report(under_test, x, values, upstream_maker(dout, seed, np.float64), seed,
                         fd.eps, rtol, atol)
    values = prepare_params(values, rng, dtype)
    drawn = is_shape(x)
    x = prepare("x", x, rng, dtype, tied_values, keep_integers=True)
    under_test.x_grad = is_floating(x)
    return _layer_report(under_test, against, x, values, mapping,
                         upstream_maker(dout, seed, dtype), seed, dtype, rtol, atol, drawn,
                         allow_views)


def _finite_differences(against, dtype):
    if not isinstance(against, FiniteDifferences):
        return None
    if np.dtype(dtype) != np.float64:
        raise OracleError(f"finite differences run in float64 only; got dtype "
                          f"{np.dtype(dtype).name} (compare float32 against torch instead)")
    return against


def _old_pair_call(args, kwargs):
    """``check_pair(forward, backward, counterpart, x, params, ...)`` -> the new form."""
    if "counterpart" in kwargs:
        kwargs["against"] = kwargs.pop("counterpart")
    elif len(args) >= 3 and is_counterpart(args[2]) and "against" not in kwargs:
        kwargs["against"], args = args[2], (*args[:2], *args[3:])
    else:
        return None
    return args, kwargs, "forward, backward, x, params=None, *, against=counterpart, ..."


@accepts_old_forms(_old_pair_call)
def check_pair(forward, backward, x, params=None, *, against, args=(), kwargs=None,
               mapping=None, dout=None, seed=0, dtype=np.float64, rtol=None, atol=None,
               allow_views=False) -> Report:
    """Check a CS231n-style pair against torch autograd or finite differences.

    forward: ``forward(x, *params.values(), *args, **kwargs) -> (out, cache)``.
    backward: ``backward(dout, cache) -> (dx, *dparams)``: the order of ``params``
        must be the order of backward's return, since gradients are matched by
        position. With an integer or boolean ``x`` (token ids, indices, a
        mask), which gets no gradient, ``backward`` returns ``dparams`` alone
        (or None in dx's place).
    x: the input (an array, or a shape drawn from ``seed``).
    params: name -> array, or -> shape to draw uniform in [-1, 1] from ``seed``.
    against: ``f(x, **params)`` in torch (or a ``torch.nn.Module``), called
        with x positionally and each parameter by its keyword name (your name,
        or torch's where ``mapping`` renames it); the settings your pair
        takes in ``args``/``kwargs`` (stride, pad, ...) go into ``f`` by
        closure, e.g. ``lambda x, w, b: F.conv2d(x, w, b, 1, 1)``; or
        :func:`finite_differences`.
    Other arguments as for :func:`check_module`.
    """
    params = dict(params or {})
    under_test = PairUnderTest(forward, backward, list(params), args, kwargs)
    rng = np.random.default_rng(seed)
    fd = _finite_differences(against, dtype)
    if fd is not None:
        values = prepare_params(params, rng, np.float64)
        x = prepare("x", x, rng, np.float64, spread_values, keep_integers=True)
        under_test.x_grad = is_floating(x)
        return fd_report(under_test, x, values, upstream_maker(dout, seed, np.float64), seed,
                         fd.eps, rtol, atol)
    values = prepare_params(params, rng, dtype)
    drawn = is_shape(x)
    x = prepare("x", x, rng, dtype, tied_values, keep_integers=True)
    under_test.x_grad = is_floating(x)
    return _layer_report(under_test, against, x, values, mapping,
                         upstream_maker(dout, seed, dtype), seed, dtype, rtol, atol, drawn,
                         allow_views)


def _layer_report(under_test, counterpart, x, values, mapping, make_dout, seed, dtype,
                  rtol, atol, drawn, allow_views=False) -> Report:
    cp = Counterpart(counterpart, dtype)
    if not under_test.params_found and cp.required:
        raise no_accessor_error(under_test.obj, f"{cp.label} has parameters")
    mapping = customary_mapping(cp.module, values, cp.shapes, mapping)   # gamma -> weight
    resolved = resolve_mapping(under_test.names, cp.shapes, cp.required, mapping, cp.label)
    tvalues = to_torch_layout(values, resolved, cp.shapes, cp.label)
    t_out, dout, t_dx, t_grads = cp.run(x, tvalues, make_dout)
    rtol, atol_scale = tolerance(dtype, rtol, atol)
    out, dx, grads, in_place = run_twice(under_test, x, values, dout, rtol, atol_scale,
                                         allow_views)
    if out.shape != t_out.shape:
        raise OracleError(_out_shape_message(under_test.label, cp.label, out.shape,
                                             t_out.shape, x.shape))
    expected = {"out": t_out, **({"dx": t_dx} if under_test.x_grad else {})}
    actual = {"out": out, **({"dx": dx} if under_test.x_grad else {})}
    for name, param in resolved.items():
        expected[f"d{name}"] = param.backward(t_grads[param.torch_name])
        actual[f"d{name}"] = grads[name]
    rows = [compare(k, actual[k], expected[k], rtol, atol_scale) for k in expected]
    t64 = {n: v.astype(np.float64) for n, v in tvalues.items()}
    if under_test.x_grad:
        x64 = x.astype(np.float64)
        jacobians = probe.one_sided(counterpart, x64, t64)
        coverage = probe.coverage_of(x64, jacobians)
    else:
        jacobians, coverage = None, probe.Coverage(
            probed=False, why_not=f"x is {x.dtype.name}: passed through, no gradient")
    if not all(r.verdict == "ok" for r in rows):
        candidates = _kernel_candidates(cp, x, tvalues, t_grads, resolved, dout)
        if coverage.columns and under_test.x_grad:
            candidates["dx"] += probe.candidates(counterpart, x64, t64, dout, t_dx, jacobians,
                                                 coverage)
        batch = x.shape[0] if _batch_averaged(cp, x, tvalues, t_out) else None
        for r in rows:
            if r.verdict != "ok":
                r.diagnoses = diagnose(actual[r.tensor], expected[r.tensor], rtol, atol_scale,
                                       batch=batch, spatial=r.tensor == "dx",
                                       candidates=candidates[r.tensor])
        hint = unbiased_batch_norm(out, t_out, x, rtol, atol_scale)
        if hint:
            rows[0].diagnoses.append(hint)
        if under_test.x_grad and rows[0].ok and not rows[1].ok:
            hint = batch_norm_variance_term(dx, t_dx, x, rtol, atol_scale)
            if hint:
                rows[1].diagnoses.append(hint)
    title = (f"{under_test.label} vs {cp.label} ({np.dtype(dtype).name}, "
             f"seed {seed}, {'x ' if drawn else 'your x '}{x.shape}{' drawn' if drawn else ''})")
    notes = [f"coverage: {coverage.describe()}"]
    changed = [f.tensor for f in in_place if f.kind == "modified"
               and f.by == under_test.forward_label]
    if changed and not all(r.ok for r in rows):
        for r in rows:   # yours ran on other values than torch's: no cause is established
            r.diagnoses = []
        notes.append(f"no diagnosis: your forward modified {', '.join(changed)} in "
                     f"place, so your backward saw other values than torch's; fix that first")
    if not drawn and coverage.probed and not coverage.any:
        notes += _no_coverage_warning(counterpart, x, t64)
    notes += _dtype_notes(actual, dtype)
    return Report(title, rows, notes, inputs={"x": x}, info={"coverage": coverage},
                  in_place=in_place)


def _no_coverage_warning(counterpart, x, tvalues) -> list[str]:
    """A warning when a drawn x of the same shape would have covered a tie or kink."""
    drawn = tied_values(np.random.default_rng(0), x.shape)
    covered = probe.coverage_of(drawn, probe.one_sided(counterpart, drawn, tvalues))
    if not covered.any:
        return []
    return [f"WARNING: your x covers no tie and no kink of torch's function, so a bug there "
            f"(a gradient to every tied maximum, a `>=` at ReLU's kink) would pass unseen; "
            f"a drawn x of the same shape covers {covered.describe()} (pass the shape "
            f"{x.shape} instead of an array, or put ties and zeros in yours)"]


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


def _kernel_candidates(cp, x, tvalues, grads, resolved, dout) -> dict:
    """Wrong answers computed by torch with the kernel flipped in both spatial axes."""
    candidates = defaultdict(list)
    kernels = [t for t, v in tvalues.items() if v.ndim == 4 and v.shape[-2:] != (1, 1)]
    if not kernels:
        return candidates

    def flip(a):
        return np.ascontiguousarray(a[..., ::-1, ::-1])
    flipped = {t: (flip(v) if t in kernels else v) for t, v in tvalues.items()}
    f_out, _, f_dx, f_grads = cp.run(x, flipped, lambda shape: dout)
    names = ", ".join(kernels)
    candidates["out"].append((f_out, f"equals torch's output with the kernel ({names}) "
                                     f"flipped in both spatial axes: yours is a "
                                     f"convolution, torch's a cross-correlation"))
    candidates["dx"].append((f_dx, f"looks like a missing kernel flip: equals torch's dx "
                                   f"for the kernel ({names}) flipped in both spatial axes"))
    for name, param in resolved.items():
        if param.torch_name in kernels:
            right = grads[param.torch_name]
            swapped = np.ascontiguousarray(np.swapaxes(right, -1, -2))
            message = ("is the right gradient flipped in both spatial axes: a kernel flip "
                       "too many or too few")
            # "flipped" only where the flip is told apart from a transposition of the two
            # spatial axes (for a kernel whose gradient is symmetric enough they coincide)
            flipped = [flip(right), flip(f_grads[param.torch_name])]
            if any(c.shape == swapped.shape and np.allclose(c, swapped, rtol=1e-6, atol=1e-9)
                   for c in flipped):
                continue   # neither cause is established at this input
            candidates[f"d{name}"] += [(param.backward(c), message) for c in flipped]
            candidates[f"d{name}"].append((param.backward(swapped), (
                "is the right gradient with its two spatial axes swapped (kernel rows and "
                "columns transposed: an index order i, j against j, i)")))
    return candidates


def _batch_averaged(cp, x, tvalues, t_out) -> bool:
    """Whether torch's output is an average over the batch (axis 0 of x), established:
    a scalar output that stays the same when every example is given twice. Only then
    is a factor of N called a missing division by the batch size."""
    if np.ndim(t_out) != 0 or x.ndim < 1 or x.shape[0] < 2:
        return False
    try:
        twice = cp.forward(np.concatenate([x, x]), tvalues)
    except OracleError:
        return False
    return bool(np.ndim(twice) == 0 and abs(float(twice) - float(t_out))
                <= 1e-9 * max(1.0, abs(float(t_out))) and float(t_out) != 0.0)
