"""Hypothesis profiles, chosen with HYPOTHESIS_PROFILE=dev|ci|thorough (default dev).

- dev: quick local iteration, random examples.
- ci: derandomised (the same examples on every run): what CI runs.
- thorough: many more examples, for a long run before a release.
- ci-no-shrink: ci's examples, failures reported unshrunk (the bug catalogue's).
None has a deadline (numeric tests vary in time). A failing example is shrunk
(except under ci-no-shrink) and printed with the blob that replays it.
"""
# isort: off
import os
import sys

from scripts.lib.process import tune_process
tune_process()   # thread and malloc tuning, before NumPy is imported
from hypothesis import HealthCheck, Phase, settings  # noqa: E402
# isort: on
import pytest  # noqa: E402

pytest_plugins = ["parity_tests.argument_coverage"]

_common = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=20, **_common)
settings.register_profile("ci", max_examples=30, derandomize=True, **_common)
settings.register_profile("thorough", max_examples=600, **_common)
# The ci examples without shrinking: a failure is reported as found. The bug catalogue
# (scripts/bug_catalogue.py) runs under it: same verdicts as ci, minutes faster.
settings.register_profile("ci-no-shrink", max_examples=30, derandomize=True,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate], **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def mnist_root(pytestconfig):
    """The root of the verified MNIST files, fetched on first use (into $CNN_PARITY_DATA or
    the user cache; a lock lets parallel pytest-xdist workers share one fetch), saying so
    on the terminal. When they cannot be had the tests that need them fail, saying why:
    they are not skipped."""
    from scripts.lib import mnist
    raw = mnist.raw_folder()
    try:
        if all((raw / name).is_file() for name in mnist.MNIST_FILES):
            return mnist.ensure_mnist(verbose=False).parent.parent
        capture = pytestconfig.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(f"\n[mnist] the MNIST files are not in {raw} yet: fetching and verifying "
                  f"them once for the tests that need them", file=sys.stderr, flush=True)
            return mnist.ensure_mnist(verbose=True).parent.parent
    except mnist.MNISTError as err:
        pytest.fail(f"the MNIST files these tests need could not be fetched: {err}",
                    pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Note every node id collected, before ``-k``, ``-m`` or ``--deselect`` drop any: the
    bug catalogue's check (suite/test_bug_catalogue.py) asks whether a killer exists."""
    config._parity_collected = {item.nodeid for item in items}


def pytest_report_header(config):
    """Say which paths the layers run: ``SCRATCH_FAST_PATHS=0 pytest parity_tests`` runs the
    whole suite on the plain paths (test_fast_paths.py turns them on for itself)."""
    from scratch.backends import fast
    return (f"scratch fast paths: {'on' if fast.enabled else 'off'} "
            f"(SCRATCH_FAST_PATHS={os.environ.get('SCRATCH_FAST_PATHS', 'unset')})")
