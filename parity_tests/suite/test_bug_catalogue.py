"""The bug catalogue stays usable: it loads (every field present, known kinds, unique
ids) and every intended killer names a test function that exists, so a renamed test
fails here, naming the entry to update.

Whether each snippet still occurs in scratch/ is checked by ``python -m
scripts.bug_catalogue --check``, not here: a test that failed whenever a catalogued
line of scratch/ changed would "catch" any edit to those lines, right or wrong, and
say nothing about the behaviour the other tests check.
"""
from __future__ import annotations

import re

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
