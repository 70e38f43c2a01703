"""Run an oracle check under hypothesis and report the smallest input where it fails.

    from reference import oracle
    from reference.oracle import strategies as S

    oracle.search(lambda case, seed: oracle.check_pair(
                      conv_forward, conv_backward, torch_conv, case["x"],
                      {"w": case["w"], "b": case["b"]}, args=(case["stride"], case["pad"]),
                      seed=seed),
                  case=S.conv_cases(), seed=S.seeds())

``check`` receives one drawn value per keyword strategy and returns a
:class:`~reference.oracle.report.Report` (any check of this package). A
failing report, an :class:`~reference.oracle.report.OracleError` or an
exception from your code makes hypothesis shrink the example; the smallest
one is raised as :class:`OracleFailure`, with the example and the table.
Diagnoses found on the first failing example (before shrinking, where
tensors are larger and the evidence richer) are kept on the shrunk report
where its own rows found none. A check that fails once and passes when run
again on the same example is reported as code that answers differently for
the same input. Needs hypothesis (the ``test`` extra).
"""
from __future__ import annotations

import numpy as np

from reference.oracle.report import NondeterministicError, OracleError, Report


class OracleFailure(Exception):
    """The smallest failing example, and its report (None when the check raised).

    Deliberately not an AssertionError: an ``except AssertionError`` around
    a search (or around code that calls one) must not swallow a found bug.
    pytest reports it as a failed test all the same.
    """

    def __init__(self, message: str, example: dict | None, report: Report | None):
        super().__init__(message)
        self.example, self.report = example, report


def describe(example: dict) -> str:
    """``name = value`` lines, arrays printed in full (they are small after shrinking)."""
    with np.printoptions(precision=6, threshold=400, linewidth=100):
        lines = []
        for name, value in example.items():
            if isinstance(value, dict):
                lines += [f"  {name}[{k!r}] = {_indent(v)}" for k, v in value.items()]
            else:
                lines.append(f"  {name} = {_indent(value)}")
    return "\n".join(lines)


def _indent(value) -> str:
    return repr(value).replace("\n", "\n      ")


def _keep_first_diagnoses(report: Report, first: Report | None) -> None:
    if first is None or first is report:
        return
    for row in report.failures:
        if row.diagnoses:
            continue
        try:
            before = first.row(row.tensor)
        except KeyError:
            continue
        row.diagnoses = [f"{d} (found on the first failing example, before shrinking; "
                         f"{row.tensor} there had shape {before.shape})"
                         for d in before.diagnoses]


def search(check, *, settings=None, **strategies) -> int:
    """Run ``check(**example)`` on examples drawn from ``strategies``; return how many ran.

    settings: a ``hypothesis.settings`` (default: the loaded profile, with the
    shrink phase added if the profile leaves it out, since the point is the
    smallest failing input), always with no deadline, no example database, no
    explain phase (the report explains) and one bug reported (the smallest).
    Returns the number of examples run when every check passed; raises
    :class:`OracleFailure` naming the smallest failing example otherwise.
    """
    from hypothesis import Phase, given
    from hypothesis import settings as Settings
    from hypothesis.errors import Flaky, HypothesisException

    if not strategies:
        raise OracleError("search needs at least one strategy, e.g. "
                          "x=oracle.strategies.arrays((2, 3))")
    seen = {"count": 0, "first": None}

    def run(**example):
        seen["count"] += 1
        seen.update(example=example, report=None)
        try:
            report = check(**example)
        except NondeterministicError as error:
            seen["nondeterministic"] = error
            raise
        if not isinstance(report, Report):
            raise OracleError(f"check returned {type(report).__name__}; expected the Report "
                              f"of an oracle check")
        if not report.ok:
            seen["report"] = report
            seen["first"] = seen["first"] or report
            raise AssertionError(str(report))

    parent = settings if settings is not None else Settings()
    phases = [p for p in parent.phases if p != Phase.explain]  # no explain: the table explains
    if settings is None and Phase.shrink not in phases:
        phases.append(Phase.shrink)
    overrides = dict(deadline=None, report_multiple_bugs=False, phases=phases)
    if settings is None:
        overrides["database"] = None
    test = Settings(parent, **overrides)(given(**strategies)(run))
    try:
        test()
    except NondeterministicError as error:
        raise OracleFailure(f"{error}\nexample:\n{describe(seen['example'])}",
                            seen.get("example"), None) from None
    except Flaky as error:
        if "nondeterministic" in seen:
            raise OracleFailure(f"{seen['nondeterministic']}\nexample:\n"
                                f"{describe(seen['example'])}", seen.get("example"),
                                None) from None
        raise OracleFailure(
            f"the check failed on an example and passed when hypothesis ran the same example "
            f"again: your code gives different answers for the same input (iterating over a "
            f"set, state kept between calls, an unseeded random draw?). Make it deterministic "
            f"first.\nlast example:\n{describe(seen.get('example', {}))}",
            seen.get("example"), seen.get("report")) from error
    except HypothesisException as error:   # a health check, an invalid strategy: our words
        raise OracleFailure(f"hypothesis could not run the search ({type(error).__name__}): "
                            f"{str(error).splitlines()[0] if str(error) else ''}",
                            seen.get("example"), seen.get("report")) from None
    except Exception as error:
        if "example" not in seen:
            raise
        report = seen["report"]
        if report is not None:
            _keep_first_diagnoses(report, seen["first"])
        what = str(report) if report is not None else f"{type(error).__name__}: {error}"
        message = (f"smallest failing example (after shrinking):\n{describe(seen['example'])}"
                   f"\n{what}")
        raise OracleFailure(message, seen["example"], report) from (
            None if report is not None else error)
    return seen["count"]
