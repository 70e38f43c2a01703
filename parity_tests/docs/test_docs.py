"""The documentation is true: its examples run, its quick start runs, it stays short and clean.

- every ```python block of README.md and docs/**/*.md runs (parity_tests/doc_examples.py);
- every command of the README's quick start runs in a quick variant (tiny limits): under
  the ``thorough`` profile, but for the seconds-long ones; ``ci`` checks that each script
  it names starts (``--help``) and each test file it names exists;
- the tutorial notebook runs top to bottom;
- the README stays within its line budget, and no page mentions an issue number or
  development history.

Links between pages are checked by the strict site build (`mkdocs build --strict`).
"""
import os
import shlex
import subprocess
import sys

import matplotlib
import pytest

from parity_tests import doc_examples as docs
from parity_tests.profiles import thorough_only

matplotlib.use("Agg")


def _page_id(page):
    return str(page.relative_to(docs.ROOT))


@pytest.mark.parametrize("page", [p for p in docs.pages() if docs.python_blocks(p)],
                         ids=_page_id)
def test_every_python_example_of_the_page_runs(page, monkeypatch):
    monkeypatch.chdir(docs.ROOT)
    monkeypatch.syspath_prepend(str(docs.ROOT))
    assert docs.run_page(page) > 0


def test_the_collector_finds_the_readme_examples():
    infos = [b.info for b in docs.blocks(docs.README)]
    assert infos.count("python") >= 2 and "console" in infos


def test_readme_stays_within_its_line_budget():
    n = len(docs.README.read_text(encoding="utf-8").splitlines())
    assert n <= docs.README_MAX_LINES, (
        f"README.md has {n} lines, its budget is {docs.README_MAX_LINES}: move detail into "
        f"a page under docs/ and link to it")


def test_readme_links_point_to_files_that_exist():
    # the site's own links are checked by `mkdocs build --strict`; the README is not in it
    missing = [target for target in docs.relative_links(docs.README)
               if not (docs.ROOT / target.split("#", 1)[0]).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


@pytest.mark.parametrize("page", [*docs.pages(), *sorted(docs.DOCS.rglob("*.ipynb"))],
                         ids=_page_id)
def test_page_mentions_no_issue_number_or_history(page):
    text = (docs.notebook_text(page) if page.suffix == ".ipynb"
            else page.read_text(encoding="utf-8"))
    found = docs.forbidden_mentions(text)
    assert not found, f"{_page_id(page)}:\n" + "\n".join(found)


@pytest.mark.parametrize("text, bad", [
    ("as issue 15 asked", True), ("see #15", True), ("Issues #3 and 4", True),
    ("the previous session measured", True), ("another engineer's tests", True),
    ("tried and dropped", True), ("colour #b00020 and `x[0]`", False),
    ("# Heading", False), ("a 15-step run", False),
])
def test_forbidden_mentions_are_recognised(text, bad):
    assert bool(docs.forbidden_mentions(text)) == bad


def test_every_quick_start_command_has_a_quick_variant(tmp_path):
    commands = docs.quick_start_commands()
    assert len(commands) >= 5
    for command in commands:
        docs.quick_variant(command, tmp_path)


QUICK_START = docs.quick_start_commands()


def _words(command):
    """The command's words without its leading VAR=value environment settings."""
    words = shlex.split(command)
    while words and "=" in words[0] and not words[0].startswith("-"):
        words.pop(0)
    return words


TEST_FILE_COMMANDS = [c for c in QUICK_START if _words(c)[:1] == ["pytest"]
                      and any(w.endswith(".py") for w in _words(c))]
# ci runs these as written (a check of the files, a comparison with .ci/run: seconds)
CHEAP = [c for c in QUICK_START if c.startswith("python -m scripts.mnist")
         or _words(c)[:1] == ["pytest"] and c not in TEST_FILE_COMMANDS]
SCRIPTS = sorted({_words(c)[2] for c in QUICK_START
                  if _words(c)[:2] == ["python", "-m"] and c not in CHEAP})


@pytest.mark.parametrize("module", SCRIPTS)
def test_quick_start_script_starts_and_answers_help(module):
    argv = [sys.executable, "-m", module, "--help"]
    done = subprocess.run(argv, cwd=docs.ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(docs.ROOT)})
    assert done.returncode == 0 and "usage:" in done.stdout, (
        f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout[-3000:]}\n"
        f"{done.stderr[-3000:]}")


@pytest.mark.parametrize("command", TEST_FILE_COMMANDS)
def test_quick_start_test_files_exist(command):
    missing = [w for w in _words(command) if w.endswith(".py")
               and not (docs.ROOT / w.split("::", 1)[0]).is_file()]
    assert not missing, f"{command!r} names test files that do not exist: {missing}"


@pytest.mark.parametrize("command", [
    c if c in CHEAP else pytest.param(c, marks=thorough_only(
        "a script ci starts with --help and runs in process elsewhere "
        "(scripts/test_training.py, oracle/test_oracle.py), or test files ci runs anyway"))
    for c in QUICK_START])
def test_quick_start_command_runs_in_its_quick_variant(command, tmp_path):
    env_add, argv = docs.quick_variant(command, tmp_path / "run")
    if not argv:
        ci = (docs.ROOT / ".ci" / "run").read_text(encoding="utf-8")
        assert command in ci, f"{command!r} is not the suite command .ci/run runs"
        return
    argv = [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
    env = {**os.environ, **env_add, "PYTHONPATH": str(docs.ROOT)}
    done = subprocess.run(argv, cwd=docs.ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, (f"{' '.join(argv)} exited {done.returncode}:\n"
                                  f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def test_tutorial_notebook_runs_top_to_bottom():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    path = docs.DOCS / "tutorial.ipynb"
    nb = nbformat.read(path, as_version=4)
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(docs.ROOT), env_path) if p)
    try:
        client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                         resources={"metadata": {"path": str(docs.ROOT)}})
        client.execute()
    finally:
        if env_path:
            os.environ["PYTHONPATH"] = env_path
        else:
            del os.environ["PYTHONPATH"]
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
