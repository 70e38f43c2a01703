"""Every tolerance the oracle and the parity suite judge by, with why it is what it is.

Both sides round every operation, in different orders, so a correct gradient
may differ from torch's by the rounding error of the longest sum behind an
element, while a real bug moves it by O(1). One element passes when

    |actual - expected| <= atol + rtol * |expected|

(``torch.testing.assert_close``'s rule; :func:`reference.oracle.report.compare`
applies it). Three budgets decide ``rtol`` and ``atol``:

- :data:`TOLERANCES`, the oracle's default for code it knows nothing about
  (a user's loops, any summation order): ``atol`` is a *scale*, multiplied by
  ``max(1, max|expected|)`` so that a gradient whose values are all large or
  all small is judged alike. Loose enough for any sane summation order of a
  layer-sized sum, tight enough that a factor, a sign or a transposition fails.
- :data:`ATOL_PER_TERM` and :data:`RTOL`, the parity suite's budget, where the
  reduction size ``K`` behind each tensor is known: a value that sums ``K``
  products of magnitude at most ``M`` carries an error of at most about
  ``K * u * M`` per implementation (``u`` the unit roundoff: 1.1e-16 in
  float64, 6.0e-8 in float32). The suite's strategies keep inputs within
  [-4, 4], weights within [-1, 1] and upstream gradients within about [-4, 4],
  so ``M <= 16`` and ``atol = ATOL_PER_TERM[dtype] * K`` (absolute, not scaled),
  ``ATOL_PER_TERM = 8 * u * 16`` rounded up, ``rtol`` a few hundred ulps.
  float64 is therefore tight (2e-14 per term), float32 no looser than its
  arithmetic allows.
- :data:`FINITE_DIFFERENCE_TOLERANCE` and :data:`GRADCHECK`: against central
  differences in float64 with step ``eps = 1e-6``, whose truncation error is
  ``O(eps^2 f''')`` and rounding error ``O(u / eps) ~ 1e-10`` per quotient:
  1e-5 relative leaves room for both; ``GRADCHECK`` holds the settings of
  ``torch.autograd.gradcheck`` (full Jacobians, element by element, absolute
  ``atol``).
"""
from __future__ import annotations

import numpy as np

# The oracle's default: (rtol, atol_scale) per dtype.
TOLERANCES = {np.dtype(np.float64): (1e-7, 1e-7), np.dtype(np.float32): (1e-4, 1e-4)}
FINITE_DIFFERENCE_TOLERANCE = (1e-5, 1e-5)

# The parity suite's budget: absolute atol per term of the reduction, and rtol.
ATOL_PER_TERM = {np.dtype(np.float64): 2e-14, np.dtype(np.float32): 1e-5}
RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}

# torch.autograd.gradcheck of a scratch pair, float64.
GRADCHECK = dict(eps=1e-6, atol=1e-7, rtol=1e-5)


def tolerance(dtype, rtol=None, atol=None) -> tuple[float, float]:
    """The oracle's ``(rtol, atol_scale)`` for ``dtype``, overridden where given."""
    default = TOLERANCES.get(np.dtype(dtype), TOLERANCES[np.dtype(np.float64)])
    return (default[0] if rtol is None else rtol, default[1] if atol is None else atol)


def budget(dtype, reduction: int = 1) -> tuple[float, float]:
    """The parity suite's ``(rtol, atol)`` for a tensor of ``dtype`` produced by sums of
    ``reduction`` terms (``atol`` absolute)."""
    dtype = np.dtype(dtype)
    return RTOL[dtype], ATOL_PER_TERM[dtype] * max(int(reduction), 1)


def absolute_tolerance(expected, atol_scale: float) -> float:
    """``atol_scale * max(1, max|expected|)``."""
    return atol_scale * max(1.0, float(np.abs(expected).max(initial=0.0)))
