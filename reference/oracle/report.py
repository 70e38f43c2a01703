"""The oracle's verdict: one row per compared tensor, printed as a table.

A row compares your array (``actual``) with the right one (``expected``:
torch autograd's, or central finite differences). The relative error of an
element is ``|actual - expected| / |expected|`` (inf where the right value is
0 and yours is off by more than ``atol``). An element passes when

    |actual - expected| <= atol + rtol * |expected|,   atol = atol_scale * max(1, max|expected|)

(``torch.testing.assert_close``'s rule, with ``atol`` scaled to the tensor's
magnitude so that a gradient whose values are all large or all small is
judged alike; :func:`compare` with ``absolute=True`` takes ``atol`` as it is,
for the parity suite's budgets). The *worst* element is the one furthest
outside its tolerance; the table prints its index, and a line under a
failing row gives both values there. The tolerances themselves, and why,
are in :mod:`reference.oracle.tolerance`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import numpy as np

from reference.oracle.tolerance import (  # noqa: F401  (re-exported: report.TOLERANCES, ...)
    FINITE_DIFFERENCE_TOLERANCE,
    TOLERANCES,
    absolute_tolerance,
    tolerance,
)


class OracleError(ValueError):
    """The check could not be run as called: says what was wrong and what was expected."""


class NondeterministicError(OracleError):
    """Your code returned different answers for the same input, run twice."""


@dataclass
class Row:
    """One compared tensor. ``shape`` is yours; ``expected_shape`` the right one."""
    tensor: str
    shape: tuple
    expected_shape: tuple
    max_abs: float
    max_rel: float
    worst: tuple | None
    actual_at_worst: float | None
    expected_at_worst: float | None
    rtol: float
    atol: float
    ok: bool
    diagnoses: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.shape != self.expected_shape:
            return "WRONG SHAPE"
        return "ok" if self.ok else "WRONG"


def out_of_tolerance(actual, expected, rtol: float, atol_scale: float) -> np.ndarray:
    """Boolean mask of the elements that break the row rule (same shapes)."""
    atol = absolute_tolerance(expected, atol_scale)
    return np.abs(actual - expected) > atol + rtol * np.abs(expected)


def allclose(actual, expected, rtol: float, atol_scale: float) -> bool:
    """The row rule above, for two arrays of the same shape."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        return False
    atol = absolute_tolerance(expected, atol_scale)
    return bool(np.all(np.abs(actual - expected) <= atol + rtol * np.abs(expected)))


def compare(tensor: str, actual, expected, rtol: float, atol_scale: float,
            absolute: bool = False, equal_nan: bool = False) -> Row:
    """Compare two arrays element by element (shapes may differ: the row then fails).

    ``atol_scale`` is scaled by the magnitude of ``expected`` (the row rule above),
    or, with ``absolute=True``, used as the absolute ``atol`` itself. Elements equal
    to the right value (equal infinities included) have no error; NaN passes only
    against NaN, and only with ``equal_nan=True``.
    """
    actual, expected = np.asarray(actual), np.asarray(expected, np.float64)
    atol = atol_scale if absolute else absolute_tolerance(expected, atol_scale)
    if actual.shape != expected.shape:
        return Row(tensor, actual.shape, expected.shape, np.nan, np.nan, None, None, None,
                   rtol, atol, False)
    a = actual.astype(np.float64)
    if a.size == 0:
        return Row(tensor, a.shape, a.shape, 0.0, 0.0, None, None, None, rtol, atol, True)
    with np.errstate(divide="ignore", invalid="ignore"):
        same = (a == expected) | (equal_nan & np.isnan(a) & np.isnan(expected))
        err = np.where(same, 0.0, np.abs(a - expected))
        rel = np.where(expected != 0, err / np.abs(expected), np.where(err > atol, np.inf, 0.0))
        excess = err / (atol + rtol * np.abs(expected))
    excess, rel = np.where(err == 0, 0.0, excess), np.where(err == 0, 0.0, rel)
    max_rel = float(rel.max(initial=0.0))
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(excess)), a.shape))
    return Row(tensor, a.shape, a.shape, float(err.max()), max_rel, worst,
               float(a[worst]), float(expected[worst]), rtol, atol,
               bool(excess.max() <= 1.0))


@dataclass
class Report:
    """Every row of one check, the notes about the run, and a verdict.

    ``str(report)`` is the table; ``report.ok`` is True when every row passed;
    ``report.assert_ok()`` raises AssertionError carrying the table otherwise
    (a plain assertion, so pytest shows it as a failed test). In Jupyter the
    report renders as an HTML table (``_repr_html_``). ``inputs``: the
    arrays the check ran on (printed when small, so a drawn x can be read);
    ``extra``: further tables (the per-time-step table of a recurrence);
    ``info``: facts a program may read (``first_wrong_h``, ``last_wrong_dx``
    of a recurrence; ``coverage`` of a layer check). ``in_place``: the
    in-place and aliasing findings (:class:`~reference.oracle.inplace.InPlace`),
    a verdict of their own: a report with any is not ok, even when every
    row is right.
    """
    title: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    inputs: dict = field(default_factory=dict)
    extra: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    in_place: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (all(r.ok and r.shape == r.expected_shape for r in self.rows)
                and not self.in_place)

    @property
    def failures(self) -> list[Row]:
        return [r for r in self.rows if r.verdict != "ok"]

    def row(self, tensor: str) -> Row:
        for r in self.rows:
            if r.tensor == tensor:
                return r
        raise KeyError(f"no row {tensor!r}; rows are {[r.tensor for r in self.rows]}")

    def assert_ok(self) -> "Report":
        if not self.ok:
            raise AssertionError(str(self))
        return self

    def __str__(self) -> str:
        header = ("tensor", "shape", "max abs err", "max rel err", "worst at", "tolerance",
                  "verdict")
        cells = [header] + [_cells(r) for r in self.rows]
        widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
        lines = [self.title]
        for c in cells:
            lines.append("  ".join(v.ljust(w) for v, w in zip(c, widths)).rstrip())
        for r in self.rows:
            lines += ["  " + line for line in _details(r)]
        if self.in_place:
            lines.append("in place:")
            lines += [f"  {f.message}" for f in self.in_place]
        lines += self.extra
        lines += [f"note: {n}" for n in self.notes]
        lines += _input_lines(self.inputs)
        lines.append(self.verdict)
        return "\n".join(lines)

    @property
    def verdict(self) -> str:
        """``verdict: correct``, or what is wrong: the failing rows, then
        ``MODIFIED IN PLACE: dout (by relu_backward)`` / ``SHARES MEMORY: dx (...)``."""
        if self.ok:
            return "verdict: correct"
        parts = []
        if self.failures:
            parts.append(f"WRONG in {', '.join(r.tensor for r in self.failures)}")
        for kind, title in (("modified", "MODIFIED IN PLACE"), ("shares memory",
                                                               "SHARES MEMORY")):
            hits = list(dict.fromkeys(f"{f.tensor} (by {f.by})" for f in self.in_place
                                      if f.kind == kind))
            if hits:
                parts.append(f"{title}: {', '.join(hits)}")
        return "verdict: " + "; ".join(parts)

    def _repr_html_(self) -> str:
        """The table as HTML, for Jupyter: failing rows in red, diagnoses under them."""
        header = ("tensor", "shape", "max abs err", "max rel err", "worst at", "tolerance",
                  "verdict")
        cells = "".join(f"<th>{escape(h)}</th>" for h in header)
        body = []
        for r in self.rows:
            style = "" if r.verdict == "ok" else ' style="color:#b00020;font-weight:bold"'
            body.append(f"<tr{style}>" + "".join(f"<td>{escape(c)}</td>" for c in _cells(r))
                        + "</tr>")
            for line in _details(r):
                body.append(f'<tr><td colspan="7" style="text-align:left">{escape(line)}'
                            f"</td></tr>")
        extra = "".join(f"<pre>{escape(t)}</pre>" for t in self.extra)
        if self.in_place:
            extra = ("<p><b>in place:</b></p><ul>" + "".join(
                f'<li style="color:#b00020">{escape(f.message)}</li>' for f in self.in_place)
                + "</ul>" + extra)
        notes = "".join(f"<li>{escape(n)}</li>" for n in self.notes)
        inputs = "\n".join(_input_lines(self.inputs))
        return (f"<div><p><b>{escape(self.title)}</b></p><table><thead><tr>{cells}</tr>"
                f"</thead><tbody>{''.join(body)}</tbody></table>{extra}"
                + (f"<ul>{notes}</ul>" if notes else "")
                + (f"<pre>{escape(inputs)}</pre>" if inputs else "")
                + f"<p><b>{escape(self.verdict)}</b></p></div>")


SHOW_INPUTS = 64  # inputs with at most this many elements are printed in full


def _input_lines(inputs: dict) -> list[str]:
    lines = []
    with np.printoptions(precision=6, threshold=SHOW_INPUTS, linewidth=100):
        for name, value in inputs.items():
            a = np.asarray(value)
            if a.size <= SHOW_INPUTS:
                lines.append(f"{name} = " + repr(a).replace("\n", "\n" + " " * (len(name) + 3)))
            else:
                lines.append(f"{name}: shape {a.shape}, values in [{a.min():.3g}, "
                             f"{a.max():.3g}] (report.inputs[{name!r}] holds it)")
    return lines


def _number(v: float) -> str:
    return "-" if v is None or np.isnan(v) else f"{v:.2e}"


def _cells(r: Row) -> tuple:
    shape = str(r.shape) if r.shape == r.expected_shape else f"{r.shape} != {r.expected_shape}"
    worst = "-" if r.worst is None else str(r.worst)
    return (r.tensor, shape, _number(r.max_abs), _number(r.max_rel), worst,
            f"rtol {r.rtol:.0e}, atol {r.atol:.1e}", r.verdict)


def _details(r: Row) -> list[str]:
    lines = []
    if r.verdict == "WRONG SHAPE":
        lines.append(f"{r.tensor}: yours has shape {r.shape}, expected {r.expected_shape}")
    elif r.verdict == "WRONG":
        at = f"[{', '.join(map(str, r.worst))}]" if r.worst else ""
        digits = 6 if f"{r.actual_at_worst:.6g}" != f"{r.expected_at_worst:.6g}" else 17
        lines.append(f"{r.tensor}{at}: yours {r.actual_at_worst:.{digits}g}, "
                     f"expected {r.expected_at_worst:.{digits}g}")
    return lines + [f"{r.tensor}: {d}" for d in r.diagnoses]


def check_finite(what: str, array, expected_shape=None) -> np.ndarray:
    """Raise OracleError naming ``what`` and the first NaN/inf index, else return the array."""
    if array is None:
        raise OracleError(f"{what} is missing (None); expected an array"
                          + (f" of shape {expected_shape}" if expected_shape else ""))
    a = np.asarray(array)
    if not np.issubdtype(a.dtype, np.number):
        raise OracleError(f"{what} has dtype {a.dtype}; expected a floating-point array")
    bad = ~np.isfinite(a)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(a[first]) else "inf"
        raise OracleError(f"{what} contains {kind} at index {first} ({int(bad.sum())} of "
                          f"{a.size} elements not finite); expected finite values")
    return a
