"""Run an oracle check under hypothesis and report the smallest input where it fails.

    from reference import oracle, oracle_strategies as S
    from reference.oracle_search import search

    search(lambda case, seed: oracle.check_pair(conv_forward, conv_backward, torch_conv,
                                                case["x"], {"w": case["w"], "b": case["b"]},
                                                args=(case["stride"], case["pad"]), seed=seed),
           case=S.conv_cases(), seed=S.seeds())

``check`` receives one drawn value per keyword strategy and returns a
:class:`~reference.oracle_report.Report` (any check of this package). A
failing report, an :class:`~reference.oracle_report.OracleError` or an
exception from your code makes hypothesis shrink the example; the smallest
one is re-raised as :class:`OracleFailure`, with the example and the table.
Needs hypothesis (the ``test`` extra).
"""
from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import settings as Settings

from reference.oracle_report import OracleError, Report


class OracleFailure(AssertionError):
    """The smallest failing example, and its report (None when the check raised)."""

    def __init__(self, message: str, example: dict, report: Report | None):
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


def search(check, *, settings: Settings | None = None, **strategies) -> int:
    """Run ``check(**example)`` on examples drawn from ``strategies``; return how many ran.

    settings: hypothesis settings (default: the loaded profile), always with
    no deadline, no example database and one bug reported (the smallest).
    Raises :class:`OracleFailure` naming the smallest failing example.
    """
    if not strategies:
        raise OracleError("search needs at least one strategy, e.g. "
                          "x=oracle_strategies.arrays((2, 3))")
    seen = {"count": 0}

    def run(**example):
        seen["count"] += 1
        seen.update(example=example, report=None)
        report = check(**example)
        if not isinstance(report, Report):
            raise OracleError(f"check returned {type(report).__name__}; expected the Report "
                              f"of an oracle check")
        if not report.ok:
            seen["report"] = report
            raise AssertionError(str(report))

    parent = settings if settings is not None else Settings()
    overrides = dict(deadline=None, report_multiple_bugs=False)
    if settings is None:
        overrides["database"] = None
    test = Settings(parent, **overrides)(given(**strategies)(run))
    try:
        test()
    except Exception as error:
        if "example" not in seen:
            raise
        report = seen["report"]
        what = str(report) if report is not None else f"{type(error).__name__}: {error}"
        message = (f"smallest failing example (after shrinking):\n{describe(seen['example'])}"
                   f"\n{what}")
        raise OracleFailure(message, seen["example"], report) from (
            None if report is not None else error)
    return seen["count"]
