"""The argument-coverage check itself (parity_tests/argument_coverage.py), run in a
throwaway project: a whole run that leaves a public argument undrawn fails naming it, a
drawn argument is not named, and a partial run (``-k``) is never failed for coverage."""
from __future__ import annotations

from pathlib import Path

pytest_plugins = "pytester"

ROOT = Path(__file__).resolve().parents[2]


def _project(pytester, monkeypatch, test_body):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "ci")
    pytester.makeini("[pytest]\ntestpaths = checks\n")
    pytester.makeconftest("pytest_plugins = ['parity_tests.argument_coverage']\n")
    pytester.mkpydir("checks")
    pytester.path.joinpath("checks", "test_one.py").write_text(test_body)


def test_a_whole_run_that_leaves_arguments_undrawn_fails_naming_them(pytester, monkeypatch):
    _project(pytester, monkeypatch, "from scratch import nn\n\n"
             "def test_linear():\n    nn.Linear(3, 2, bias=False)\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*argument coverage*", "*never drawn*",
                                 "*scratch.nn.conv.Conv2d.__init__(stride)*"])
    assert "scratch.nn.linear.Linear.__init__(bias)" not in result.stdout.str()
    assert "scratch.nn.linear.Linear.__init__(in_features)" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*1 passed*"])


def test_a_partial_run_is_not_failed_for_coverage(pytester, monkeypatch):
    _project(pytester, monkeypatch, "def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "nothing")
    assert result.ret == 0
    assert "argument coverage" not in result.stdout.str()
