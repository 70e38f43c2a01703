"""The bug catalogue stays usable: it loads (every field present, known kinds, unique
ids) and every intended killer names a test function that exists and a node id pytest
collects (parameters included), so a renamed or moved test fails here, naming the entry to
update.

Whether each snippet still occurs in scratch/ is checked by ``python -m
scripts.bug_catalogue --check``, not here: a test that failed whenever a catalogued
line of scratch/ changed would "catch" any edit to those lines, right or wrong, and
say nothing about the behaviour the other tests check.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from scripts import bug_catalogue

BUGS = bug_catalogue.load()


@pytest.mark.parametrize("bug", BUGS, ids=[b.id for b in BUGS])
def test_entry_names_an_existing_killer(bug):
    for killer in bug.killer:
        test_file, _, name = killer.partition("::")
        function = re.sub(r"\[.*\]$", "", name)
        source = bug_catalogue.ROOT / test_file
        assert source.is_file() and re.search(rf"^def {re.escape(function)}\(",
                                              source.read_text(), re.M), (
            f"{bug.id}: killer {killer} names no test function in {test_file}")


def _collected(request, files: set[str]) -> set[str]:
    """The node ids collected from ``files``: this session's own collection where it
    covered a file (noted by conftest.py before any deselection), else a collection-only
    run of the rest."""
    seen = getattr(request.config, "_parity_collected", set())
    here = {nodeid.split("::", 1)[0] for nodeid in seen}
    rest = sorted(f for f in files - here if (bug_catalogue.ROOT / f).is_file())
    if rest:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
             *rest], cwd=bug_catalogue.ROOT, capture_output=True, text=True, timeout=600,
            env={**os.environ, "PYTHONPATH": str(bug_catalogue.ROOT)})
        assert done.returncode == 0, f"collecting {rest} failed:\n{done.stdout[-2000:]}"
        seen = seen | {line for line in done.stdout.splitlines() if "::" in line}
    return seen


def test_every_killer_is_a_collected_node_id(request):
    killers = {killer for bug in BUGS for killer in bug.killer}
    collected = _collected(request, {k.split("::", 1)[0] for k in killers})
    missing = sorted(
        f"{bug.id}: {k}" for bug in BUGS for k in bug.killer
        if k not in collected and not any(n.startswith(k + "[") for n in collected))
    assert not missing, ("killers pytest does not collect (a moved, renamed or "
                         "re-parametrised test): " + "; ".join(missing))
