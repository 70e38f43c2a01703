"""Central finite differences: a gradient check that needs no torch counterpart.

For code with no torch twin. The forward of your module or pair is
projected on a random upstream gradient, ``L = sum(out * dout)``, and every
element of ``x`` and of each parameter is nudged by ``+-eps``:

    dL/da_i ~= (L(a + eps e_i) - L(a - eps e_i)) / (2 eps)

in float64, which your backward's ``dx`` and parameter gradients must match.
The report has the same rows as a torch check, without ``out`` (nothing to
compare it with). Drawn inputs are distinct and away from zero; inputs you
give should be too, since at a tie (max pooling) or a kink (ReLU at 0) a
difference quotient means nothing.
"""
from __future__ import annotations

import numpy as np

from reference.oracle.diagnose import diagnose
from reference.oracle.inputs import prepare, prepare_params, spread_values, upstream_maker
from reference.oracle.params import no_accessor_error
from reference.oracle.report import FINITE_DIFFERENCE_TOLERANCE, Report, compare
from reference.oracle.user import ModuleUnderTest, PairUnderTest


def check_module_numerically(mine, x, *, params=None, randomize=True, dout=None, seed=0,
                             eps=1e-6, rtol=None, atol=None) -> Report:
    """Check ``mine.backward`` against finite differences of ``mine.forward``.

    Arguments as for :func:`reference.oracle.check_module`, without a
    counterpart or dtype (always float64); ``eps`` is the step.
    """
    under_test = ModuleUnderTest(mine, params)
    if not under_test.params_found:
        raise no_accessor_error(mine, "finite differences must perturb them")
    rng = np.random.default_rng(seed)
    values = under_test.values()
    if randomize:
        values = {n: np.shape(v) for n, v in values.items()}
    values = prepare_params(values, rng, np.float64)
    x = prepare("x", x, rng, np.float64, spread_values)
    return _report(under_test, x, values, upstream_maker(dout, seed, np.float64), seed, eps,
                   rtol, atol)


def check_pair_numerically(forward, backward, x, params=None, *, args=(), kwargs=None,
                           dout=None, seed=0, eps=1e-6, rtol=None, atol=None) -> Report:
    """Check a CS231n-style pair's backward against finite differences of its forward.

    Arguments as for :func:`reference.oracle.check_pair`, without a counterpart.
    """
    params = dict(params or {})
    under_test = PairUnderTest(forward, backward, list(params), args, kwargs)
    rng = np.random.default_rng(seed)
    values = prepare_params(params, rng, np.float64)
    x = prepare("x", x, rng, np.float64, spread_values)
    return _report(under_test, x, values, upstream_maker(dout, seed, np.float64), seed, eps,
                   rtol, atol)


def central(projected, a: np.ndarray, eps: float) -> np.ndarray:
    """Central differences of the scalar ``projected(a)`` with respect to every element of ``a``."""
    a = a.copy()
    flat = a.reshape(-1)
    grad = np.empty(a.size)
    for i in range(a.size):
        original = flat[i]
        flat[i] = original + eps
        above = projected(a.copy())
        flat[i] = original - eps
        below = projected(a.copy())
        flat[i] = original
        grad[i] = (above - below) / (2 * eps)
    return grad.reshape(a.shape)


def _report(under_test, x, values, make_dout, seed, eps, rtol, atol) -> Report:
    out = under_test.forward(x.copy(), {n: v.copy() for n, v in values.items()})
    dout = make_dout(out.shape)
    dx, grads = under_test.backward(dout.copy())

    def projected(x_, values_):
        return float(np.sum(under_test.forward(x_, values_) * dout))

    expected = {"dx": central(lambda a: projected(a, values), x, eps)}
    actual = {"dx": dx}
    for name, value in values.items():
        expected[f"d{name}"] = central(
            lambda a, name=name: projected(x.copy(), {**values, name: a}), value, eps)
        actual[f"d{name}"] = grads[name]
    under_test.forward(x.copy(), {n: v.copy() for n, v in values.items()})  # leave values in place
    default = FINITE_DIFFERENCE_TOLERANCE
    rtol, atol_scale = (default[0] if rtol is None else rtol,
                        default[1] if atol is None else atol)
    rows = [compare(k, actual[k], expected[k], rtol, atol_scale) for k in expected]
    batch = x.shape[0] if x.ndim >= 2 else None
    for r in rows:
        if r.verdict != "ok":
            r.diagnoses = diagnose(actual[r.tensor], expected[r.tensor], rtol, atol_scale,
                                   batch=batch, spatial=r.tensor == "dx")
    title = (f"{under_test.label} vs central finite differences (eps {eps:g}, float64, "
             f"upstream seed {seed}, x {x.shape})")
    return Report(title, rows)
