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

from reference.oracle.against import FiniteDifferences, warn_renamed
from reference.oracle.diagnose import diagnose
from reference.oracle.inplace import Guard
from reference.oracle.report import FINITE_DIFFERENCE_TOLERANCE, Report, compare


def check_module_numerically(mine, x, *, params=None, randomize=True, dout=None, seed=0,
                             eps=1e-6, rtol=None, atol=None) -> Report:
    """Deprecated: ``check_module(mine, x, params, against=finite_differences(eps=eps))``."""
    from reference.oracle.layers import check_module
    warn_renamed("oracle.check_module_numerically(mine, x, ...)",
                 "oracle.check_module(mine, x, params, against=oracle.finite_differences())")
    return check_module(mine, x, params, against=FiniteDifferences(eps), randomize=randomize,
                        dout=dout, seed=seed, rtol=rtol, atol=atol)


def check_pair_numerically(forward, backward, x, params=None, *, args=(), kwargs=None,
                           dout=None, seed=0, eps=1e-6, rtol=None, atol=None) -> Report:
    """Deprecated: ``check_pair(forward, backward, x, params, against=finite_differences())``."""
    from reference.oracle.layers import check_pair
    warn_renamed("oracle.check_pair_numerically(forward, backward, x, params, ...)",
                 "oracle.check_pair(forward, backward, x, params, "
                 "against=oracle.finite_differences())")
    return check_pair(forward, backward, x, params, against=FiniteDifferences(eps), args=args,
                      kwargs=kwargs, dout=dout, seed=seed, rtol=rtol, atol=atol)


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


def fd_report(under_test, x, values, make_dout, seed, eps, rtol, atol) -> Report:
    """The finite-difference check of a module or pair (see the module docstring)."""
    guard = Guard()
    out = under_test.forward(guard.hand("x", x),
                             {n: guard.hand(n, v, f"parameter {n!r}") for n, v in values.items()})
    guard.check_modified(under_test.forward_label)
    dout = make_dout(out.shape)
    dx, grads, raw = under_test.backward(guard.hand("dout", dout))
    guard.check_modified(under_test.backward_label)
    guard.check_aliasing(raw, under_test.backward_label)

    def projected(x_, values_):
        return float(np.sum(under_test.forward(x_, values_) * dout))

    expected, actual = {}, {}
    if under_test.x_grad:
        expected["dx"], actual["dx"] = central(lambda a: projected(a, values), x, eps), dx
    for name, value in values.items():
        expected[f"d{name}"] = central(
            lambda a, name=name: projected(x.copy(), {**values, name: a}), value, eps)
        actual[f"d{name}"] = grads[name]
    under_test.forward(x.copy(), {n: v.copy() for n, v in values.items()})  # leave values in place
    default = FINITE_DIFFERENCE_TOLERANCE
    rtol, atol_scale = (default[0] if rtol is None else rtol,
                        default[1] if atol is None else atol)
    rows = [compare(k, actual[k], expected[k], rtol, atol_scale) for k in expected]
    for r in rows:
        if r.verdict != "ok":
            r.diagnoses = diagnose(actual[r.tensor], expected[r.tensor], rtol, atol_scale,
                                   spatial=r.tensor == "dx")
    title = (f"{under_test.label} vs central finite differences (eps {eps:g}, float64, "
             f"upstream seed {seed}, x {x.shape})")
    return Report(title, rows, in_place=guard.found)
