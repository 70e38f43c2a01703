"""The suite's own shape: shared helpers and strategies live in helper modules, so no
test file imports another test file (importing one re-registers its tests under a second
name and ties two concerns together)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parents[1]
FILES = sorted(SUITE.rglob("*.py"))


def _imported_test_modules(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found += [n for n in names if n.split(".")[-1].startswith("test_")
                      and n.startswith("parity_tests")]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names
                      if a.name.startswith("parity_tests.") and
                      a.name.split(".")[-1].startswith("test_")]
    return found


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(SUITE).as_posix() for p in FILES])
def test_no_test_file_is_imported_by_another_file(path):
    assert not _imported_test_modules(path), (
        f"{path.name} imports {_imported_test_modules(path)}: move what it needs into a "
        f"helper module (parity_tests/helpers.py, strategies/, model_helpers.py, ...)")


def test_the_check_sees_an_import_of_a_test_file(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("from parity_tests.test_model import twins\n"
                   "from parity_tests import test_rnn as R\n")
    assert _imported_test_modules(bad) == ["parity_tests.test_model",
                                           "parity_tests.test_rnn"]
