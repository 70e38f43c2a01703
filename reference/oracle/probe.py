"""Where torch's function has a tie or a kink at ``x``, and the wrong answers found there.

The derivative of ``f`` taken from above and from below, element by element,

    J+[i, j] = (f(x + eps e_i) - f(x))_j / eps,   J-[i, j] = (f(x) - f(x - eps e_i))_j / eps,

(in float64, with ``eps`` far below the gaps between the drawn values, so
exact for piecewise-linear ``f``) differ exactly where ``f`` is not
differentiable. An output element ``j`` with ``J+[:, j] != J-[:, j]`` is

- a **tied maximum** when two or more elements of x, all equal, take part
  (a pooling window whose maximum appears twice);
- an **exact zero at a kink** when one element of x takes part and it is 0
  (ReLU, LeakyReLU, PReLU, ELU with alpha != 1 at x == 0);
- some other kink otherwise (a ReLU after a convolution, a clamp at 1).

These counts are the report's coverage line. From the same columns and
torch's own gradient there, the wrong answers hand-written code gives at
ties and kinks are built: every tied maximum served, the last one served,
the gradient split among them, the other branch's slope at a kink, nothing
let through at a kink. Probing costs two forward calls per element of x, so
inputs above :data:`MAX_PROBE` elements are not probed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from reference.oracle.counterpart import Counterpart, single_threaded
from reference.oracle.report import OracleError

MAX_PROBE = 2048        # elements of x
MAX_JACOBIAN = 4_000_000  # elements of x times elements of the output
EPS = 2.0 ** -20
KINKED = 1e-3           # a one-sided derivative gap above this (times the scale) is a kink


@dataclass
class Coverage:
    """What an input covered: counts, and the output elements behind them."""
    probed: bool
    why_not: str = ""
    tied_windows: int = 0
    zeros_at_kink: int = 0
    other_kinks: int = 0
    columns: dict = field(default_factory=dict)   # output index -> tuple of x indices

    @property
    def any(self) -> bool:
        return bool(self.tied_windows or self.zeros_at_kink or self.other_kinks)

    def describe(self) -> str:
        if not self.probed:
            return f"not probed ({self.why_not})"
        parts = [f"{self.tied_windows} window(s) with tied maxima" if self.tied_windows else "",
                 f"{self.zeros_at_kink} exact zero(s) at a kink" if self.zeros_at_kink else "",
                 f"{self.other_kinks} other output element(s) at a kink"
                 if self.other_kinks else ""]
        parts = [p for p in parts if p]
        return ", ".join(parts) if parts else "no tie and no kink at this x"


LOOP_BELOW = 256  # a plain loop beats vmap's set-up for fewer inputs than this


def _forward_batch(cp: Counterpart, xs: torch.Tensor, params: dict) -> torch.Tensor:
    """``f`` on every ``xs[k]``: a loop for few, else one vmap call (a loop where vmap
    cannot run ``f``)."""
    t = {n: torch.as_tensor(v, dtype=torch.float64) for n, v in params.items()}
    with torch.no_grad():
        if len(xs) >= LOOP_BELOW:
            try:
                return torch.func.vmap(lambda a: cp._call(a, t))(xs)
            except Exception:
                pass
        with single_threaded():
            return torch.stack([cp._call(a, t) for a in xs])


def one_sided(counterpart, x: np.ndarray, params: dict):
    """``(J+, J-)`` as (x.size, out.size) arrays, or None when too large to probe or
    when torch's function cannot run in float64 (a float32 constant inside it)."""
    try:
        return _one_sided(counterpart, x, params)
    except OracleError:
        return None


def _one_sided(counterpart, x: np.ndarray, params: dict):
    cp = Counterpart(counterpart, np.float64)
    base = torch.as_tensor(cp.forward(x, params))
    n = x.size
    if n == 0 or n > MAX_PROBE or n * base.numel() > MAX_JACOBIAN:
        return None
    tx = torch.as_tensor(x, dtype=torch.float64)
    steps = EPS * torch.eye(n, dtype=torch.float64).reshape(n, *x.shape)
    above = _forward_batch(cp, tx.unsqueeze(0) + steps, params).reshape(n, -1)
    below = _forward_batch(cp, tx.unsqueeze(0) - steps, params).reshape(n, -1)
    flat = base.reshape(1, -1)
    return ((above - flat) / EPS).numpy(), ((flat - below) / EPS).numpy()


def coverage_of(x: np.ndarray, jacobians) -> Coverage:
    if jacobians is None:
        why = (f"x has more than {MAX_PROBE} elements, or x times the output more than "
               f"{MAX_JACOBIAN}" if x.size > MAX_PROBE or x.size ** 2 > MAX_JACOBIAN else
               "torch's function did not run in float64")
        return Coverage(probed=False, why_not=why)
    plus, minus = jacobians
    scale = max(1.0, float(np.abs(plus).max(initial=0.0)))
    gap = np.abs(plus - minus) > KINKED * scale          # (x.size, out.size)
    flat = x.reshape(-1)
    cov = Coverage(probed=True)
    for j in np.flatnonzero(gap.any(axis=0)):
        members = tuple(int(i) for i in np.flatnonzero(gap[:, j]))
        cov.columns[int(j)] = members
        if len(members) >= 2 and np.all(flat[list(members)] == flat[members[0]]):
            cov.tied_windows += 1
        elif len(members) == 1 and flat[members[0]] == 0:
            cov.zeros_at_kink += 1
        else:
            cov.other_kinks += 1
    return cov


def torch_columns(counterpart, x, params, columns) -> dict:
    """torch's autograd Jacobian column ``d out_j / d x`` for each output index ``j``."""
    cp = Counterpart(counterpart, np.float64)
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    t = {n: torch.as_tensor(v, dtype=torch.float64) for n, v in params.items()}
    out = cp._call(tx, t).reshape(-1)
    result = {}
    for j in columns:
        (g,) = torch.autograd.grad(out[j], tx, retain_graph=True, allow_unused=True)
        result[j] = np.zeros(x.size) if g is None else g.reshape(-1).numpy()
    return result


def candidates(counterpart, x, params, dout, t_dx, jacobians, cov: Coverage) -> list:
    """``(dx, message)``: the wrong answers a tie or kink bug gives, built on torch's dx."""
    if not cov.columns:
        return []
    plus, minus = jacobians
    try:
        columns = torch_columns(counterpart, x, params, list(cov.columns))
    except OracleError:
        return []
    d = np.asarray(dout, np.float64).reshape(-1)
    flat = x.reshape(-1)
    ties = {j: m for j, m in cov.columns.items()
            if len(m) >= 2 and np.all(flat[list(m)] == flat[m[0]])}
    kinks = {j: m for j, m in cov.columns.items() if j not in ties}
    base = np.asarray(t_dx, np.float64).reshape(-1)

    def build(chosen, column_for):
        dx = base.copy()
        for j in chosen:
            dx += d[j] * (column_for(j) - columns[j])
        return dx.reshape(x.shape)

    def weight(j):
        return float(columns[j][list(cov.columns[j])].sum())

    def only(j, indices, w):
        col = columns[j].copy()
        col[list(cov.columns[j])] = 0.0
        col[list(indices)] += w
        return col

    found = []
    n_ties, n_kinks = len(ties), len(kinks)
    if ties:
        found += [
            (build(ties, lambda j: plus[:, j]),
             f"sends gradient to every tied maximum ({n_ties} window(s) hold ties here): yours "
             f"equals the derivative taken from above (x + eps); torch routes each window's "
             f"gradient to one maximum only, the first in the window"),
            (build(ties, lambda j: only(j, [cov.columns[j][-1]], weight(j))),
             f"sends each window's gradient to its last tied maximum ({n_ties} window(s) hold "
             f"ties here); torch sends it to the first one (as np.argmax picks the first)"),
            (build(ties, lambda j: only(j, cov.columns[j], weight(j) / len(cov.columns[j]))),
             f"splits each window's gradient equally among its tied maxima ({n_ties} window(s) "
             f"hold ties here); torch sends all of it to the first one"),
        ]
    if kinks:
        zeros = sum(1 for m in kinks.values() if len(m) == 1 and flat[m[0]] == 0)
        where = (f"({zeros} element(s) of x exactly 0)" if zeros == n_kinks
                 else f"({n_kinks} output element(s))")
        below_branch = "x < 0: 0 for ReLU, the negative slope for LeakyReLU/PReLU, alpha for ELU"
        found += [
            (build(kinks, lambda j: plus[:, j]),
             f"passes gradient at the kink {where}: yours takes the slope from above (the "
             f"x > 0 branch, as a `x >= 0` mask does); torch takes the slope from below there "
             f"({below_branch})"),
            (build(kinks, lambda j: minus[:, j]),
             f"takes the other branch at the kink {where}: yours takes the slope from below "
             f"(the x < 0 branch); torch takes the "
             f"slope from above there (the x > 0 branch)"),
            (build(kinks, lambda j: np.zeros(x.size)),
             f"lets no gradient through at the kink {where}: yours is 0; torch passes its "
             f"slope from below times dout there ({below_branch})"),
        ]
    return found
