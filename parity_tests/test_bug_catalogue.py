"""The bug catalogue stays usable as the code changes: every entry's snippet occurs
exactly once in its file (so ``python -m scripts.bug_catalogue`` can plant it), and
every intended killer names a test function that exists. A refactor that rewrites a
catalogued line fails here, naming the entry to update, instead of the entry
silently dropping out of the next catalogue run."""
from __future__ import annotations

import re

import pytest

from scripts import bug_catalogue

BUGS = bug_catalogue.load()


@pytest.mark.parametrize("bug", BUGS, ids=[b.id for b in BUGS])
def test_entry_applies_once_and_names_an_existing_killer(bug):
    path = bug_catalogue.ROOT / bug.file
    assert path.is_file(), f"{bug.id}: {bug.file} does not exist"
    count = path.read_text().count(bug.original)
    assert count == 1, (f"{bug.id}: its original snippet occurs {count} times in {bug.file}; "
                        f"update the entry to the code as it is now")
    for killer in bug.killer:
        test_file, _, name = killer.partition("::")
        function = re.sub(r"\[.*\]$", "", name)
        source = bug_catalogue.ROOT / test_file
        assert source.is_file() and re.search(rf"^def {re.escape(function)}\(",
                                              source.read_text(), re.M), (
            f"{bug.id}: killer {killer} names no test function in {test_file}")
