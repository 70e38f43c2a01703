"""The suite's own shape:

- every test file lives in an area folder (``parity_tests/<area>/test_*.py``), and an area
  folder holds test files only: shared helpers and strategies live in helper modules at
  ``parity_tests/`` (helpers.py, strategies/, model_helpers.py, ...);
- no test file imports another test file (importing one re-registers its tests under a
  second name and ties two concerns together).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parents[1]
FILES = sorted(SUITE.rglob("*.py"))
AREAS = {
    "layers": "each layer family against torch autograd, fast paths, finite differences",
    "modules": "what every module shares: protocol, containers, state, arguments, errors",
    "optim": "optimizers, schedulers, gradient clipping",
    "oracle": "reference.oracle, torch as a gradient oracle",
    "model": "whole networks: architectures as data, residual blocks, the zoo",
    "scripts": "training, lockstep, resume, run folders, MNIST, plots, the bench",
    "suite": "the suite's own shape: argument coverage, bug catalogue, this file",
    "docs": "the documentation's examples, quick start and notebook",
}


def _imported_test_modules(path: Path) -> list[str]:
    """Test modules ``path`` imports, absolutely (``parity_tests.<...>.test_x``) or
    relatively (``from .test_x import ...``, ``from . import test_x``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names = ([base] if node.module else []) + [
                f"{base}.{a.name}" if node.module else f"{base}{a.name}" for a in node.names]
            found += [n for n in names if n.split(".")[-1].startswith("test_")
                      and (node.level or n.startswith("parity_tests"))]
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
    bad.write_text("from parity_tests.layers.test_conv import twins\n"
                   "from parity_tests.layers import test_rnn as R\n"
                   "import parity_tests.model.test_model\n"
                   "from .test_gru import cases\n"
                   "from . import test_lstm_projection\n"
                   "from parity_tests import helpers, strategies as S\n")
    assert _imported_test_modules(bad) == [
        "parity_tests.layers.test_conv", "parity_tests.layers.test_rnn",
        "parity_tests.model.test_model", ".test_gru", ".test_lstm_projection"]


def test_every_test_file_lives_in_an_area_folder():
    misplaced = [p.relative_to(SUITE).as_posix() for p in SUITE.rglob("test_*.py")
                 if p.parent.parent != SUITE or p.parent.name not in AREAS]
    assert not misplaced, (
        f"test files outside the area folders: {misplaced}; move each (git mv) into one of "
        f"parity_tests/{{{','.join(AREAS)}}}/, or name a new area in AREAS with what it holds")


def test_area_folders_hold_test_files_only():
    helpers = [p.relative_to(SUITE).as_posix() for area in AREAS
               for p in (SUITE / area).glob("*.py")
               if not p.name.startswith("test_") and p.name != "__init__.py"]
    assert not helpers, (f"helper modules inside area folders: {helpers}; shared helpers "
                         f"live at parity_tests/ (helpers.py, strategies/, ...)")


@pytest.mark.parametrize("area", sorted(AREAS))
def test_each_area_is_a_package_with_tests(area):
    folder = SUITE / area
    assert (folder / "__init__.py").is_file(), f"{area}/ lacks __init__.py"
    assert any(folder.glob("test_*.py")), f"{area}/ holds no test file"
