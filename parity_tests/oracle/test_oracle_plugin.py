"""The oracle where users test: the pytest plugin (in a throwaway project, through pytester)
and the command line (a pass, a failure, a bad import path).

The plugin is declared as a ``pytest11`` entry point in pyproject.toml; the
throwaway project loads it with ``-p`` (the entry point takes effect once the
package is installed).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from reference.oracle import cli

try:
    import tomllib  # Python 3.11+
except ModuleNotFoundError:             # Python 3.10: the same parser as a package
    import tomli as tomllib

pytest_plugins = "pytester"

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "reference.oracle.pytest_plugin"


def load_plugin() -> list[str]:
    """``-p PLUGIN`` unless the installed package already registers it (pytest11)."""
    from importlib.metadata import entry_points
    installed = any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", PLUGIN]

LAYERS = '''
import numpy as np

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, x):
    return np.where(x > 0, dout, 0.0)

def relu_backward_ge(dout, x):
    return np.where(x >= 0, dout, 0.0)      # passes gradient at the kink
'''

TESTS = '''
import torch
from mylayers import relu_forward, relu_backward, relu_backward_ge

def test_right(oracle):
    oracle.check_pair(relu_forward, relu_backward, (3, 4), against=torch.relu).assert_ok()

def test_wrong(oracle):
    report = oracle.check_pair(relu_forward, relu_backward_ge, (3, 4), against=torch.relu)
    assert report.ok, "see the oracle report"

def test_seed(oracle):
    print("SEED", oracle.seed, "EXAMPLES", oracle.examples)
'''


def test_the_plugin_is_declared_as_a_pytest11_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"]["oracle"] == PLUGIN


@pytest.fixture
def project(pytester):
    pytester.syspathinsert()
    pytester.makepyfile(mylayers=LAYERS, test_mine=TESTS)
    return pytester


def test_fixture_passes_right_code_and_shows_the_report_of_wrong_code(project):
    result = project.runpytest(*load_plugin(), "-q")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*oracle report 1 (seed 0)*", "*dx*WRONG*",
                                 "*passes gradient at the kink*", "*verdict: WRONG in dx*"])


def test_options_set_the_seed_and_the_example_count(project):
    result = project.runpytest(*load_plugin(), "-s", "--oracle-seed", "7",
                               "--oracle-examples", "3", "-k", "seed")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*oracle: seed 7, examples 3*", "*SEED 7 EXAMPLES 3*"])


def test_the_search_runs_under_the_chosen_profile(project):
    project.makeconftest('''
from hypothesis import settings
settings.register_profile("tiny", max_examples=4, database=None)
''')
    project.makepyfile(test_search='''
import torch
from hypothesis import strategies as st
from reference.oracle import strategies as S
from mylayers import relu_forward, relu_backward

def test_search(oracle):
    ran = oracle.search(lambda x: oracle.check_pair(relu_forward, relu_backward, x,
                                                    against=torch.relu),
                        x=S.arrays(st.just((2, 3))))
    assert ran == 4, ran
''')
    result = project.runpytest(*load_plugin(), "--oracle-profile", "tiny", "-k", "search")
    result.assert_outcomes(passed=1)


# ------------------------------------------------------------------ the command line
@pytest.fixture
def layers_dir(tmp_path, monkeypatch):
    (tmp_path / "mylayers.py").write_text(LAYERS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_cli_passes_right_code(layers_dir, capsys):
    assert cli.main(["check", "mylayers:relu_forward",
                     "--against", "torch.nn.functional.relu"]) == 0
    assert "verdict: correct" in capsys.readouterr().out


def test_cli_fails_wrong_code_with_the_report(layers_dir, capsys):
    code = cli.main(["check", "mylayers:relu_forward", "--backward", "mylayers:relu_backward_ge",
                     "--against", "torch.relu", "--x", "4,5", "--seed", "3"])
    out = capsys.readouterr().out
    assert code == 1 and "verdict: WRONG in dx" in out and "seed 3, x (4, 5)" in out


@pytest.mark.parametrize("argv, message", [
    (["check", "nosuch:relu_forward", "--against", "torch.relu"],
     "cannot import module 'nosuch'"),
    (["check", "mylayers:nothing_forward", "--against", "torch.relu"],
     "module 'mylayers' has no attribute 'nothing_forward'"),
    (["check", "mylayers:relu_forward", "--against", "torch.nn.NoSuchLayer"],
     "has no attribute 'NoSuchLayer'"),
    (["check", "mylayers:relu_forward", "--against", "torch.relu", "--x", "4,b"],
     "'4,b' is not a shape"),
])
def test_cli_refuses_a_bad_call_with_status_2(layers_dir, capsys, argv, message):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_python_dash_m_runs_the_command_line(layers_dir):
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{layers_dir}")
    done = subprocess.run([sys.executable, "-m", "reference.oracle", "check",
                           "mylayers:relu_forward", "--against", "torch.relu"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "verdict: correct" in done.stdout
