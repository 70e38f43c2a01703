"""A pytest plugin for your own repository: the ``oracle`` fixture and its options.

Installed with the package (``[project.entry-points.pytest11]`` in
``pyproject.toml``), so ``pip install cnn-parity`` is all it takes; without
installing, load it with ``pytest -p reference.oracle.pytest_plugin``.

    def test_my_relu(oracle):
        oracle.check_pair(relu_forward, relu_backward, (4, 5),
                          against=torch.relu).assert_ok()

The fixture has every check of :mod:`reference.oracle` as a method, with
``seed=`` defaulting to ``--oracle-seed``; ``oracle.search`` runs under the
hypothesis profile ``--oracle-profile`` with ``--oracle-examples`` examples.
Every report a test made is kept; when the test fails, the failing ones are
shown in a section of their own ("oracle report"), even when the test
raised something else than ``assert_ok()``'s AssertionError.

Options (also settable in ``pytest.ini``/``pyproject.toml`` as ``oracle_seed``,
``oracle_examples``, ``oracle_profile``):

=====================  ==========================================================
``--oracle-seed N``    the seed every check draws its inputs from (default 0)
``--oracle-examples``  examples per ``oracle.search`` (default: the profile's)
``--oracle-profile``   a registered hypothesis profile for ``oracle.search``
=====================  ==========================================================
"""
from __future__ import annotations

import functools

import pytest

CHECKS = ("check_module", "check_pair", "check_gradients", "check_rnn", "check_rnn_step",
          "check_scalar_graph", "check_optimizer")


def pytest_addoption(parser):
    group = parser.getgroup("oracle", "gradient oracle (reference.oracle)")
    group.addoption("--oracle-seed", type=int, default=None,
                    help="seed every oracle check draws its inputs from (default 0)")
    group.addoption("--oracle-examples", type=int, default=None,
                    help="examples per oracle.search (default: the hypothesis profile's)")
    group.addoption("--oracle-profile", default=None,
                    help="a registered hypothesis profile to run oracle.search under")
    parser.addini("oracle_seed", "default for --oracle-seed", default="0")
    parser.addini("oracle_examples", "default for --oracle-examples", default="")
    parser.addini("oracle_profile", "default for --oracle-profile", default="")


def _option(config, name):
    value = config.getoption(f"--oracle-{name}")
    if value is None:
        value = config.getini(f"oracle_{name}") or None
    return value


class OracleFixture:
    """The checks of :mod:`reference.oracle`, seeded from the command line, reports kept.

    ``seed``, ``examples``, ``profile``: the options in force. ``reports``:
    every report this test made, in order. ``settings()``: the hypothesis
    settings ``search`` runs under.
    """

    def __init__(self, seed: int, examples: int | None, profile: str | None):
        from reference import oracle as module
        self._module = module
        self.seed, self.examples, self.profile = seed, examples, profile
        self.reports = []
        for name in CHECKS:
            setattr(self, name, self._seeded(getattr(module, name)))
        self.Param, self.Dicts, self.Attributes = module.Param, module.Dicts, module.Attributes
        self.finite_differences = module.finite_differences
        self.OracleError = module.OracleError

    def _seeded(self, check):
        @functools.wraps(check)
        def run(*args, **kwargs):
            kwargs.setdefault("seed", self.seed)
            report = check(*args, **kwargs)
            self.reports.append(report)
            return report
        return run

    def settings(self):
        """The hypothesis settings of ``search``: the profile, then the example count."""
        from hypothesis import settings
        base = settings.get_profile(self.profile) if self.profile else settings()
        return settings(base, max_examples=self.examples) if self.examples else base

    def search(self, check, **strategies):
        """:func:`reference.oracle.search` under :meth:`settings` (a failure's report kept)."""
        try:
            return self._module.search(check, settings=self.settings(), **strategies)
        except self._module.OracleFailure as failure:
            if failure.report is not None:
                self.reports.append(failure.report)
            raise

    @property
    def failing(self):
        return [r for r in self.reports if not r.ok]


@pytest.fixture
def oracle(request):
    """The gradient oracle, seeded by ``--oracle-seed``; see :class:`OracleFixture`."""
    config = request.config
    seed = int(_option(config, "seed") or 0)
    examples = _option(config, "examples")
    fixture = OracleFixture(seed, int(examples) if examples else None,
                            _option(config, "profile"))
    request.node._oracle_fixture = fixture
    return fixture


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    fixture = getattr(item, "_oracle_fixture", None)
    if fixture is None or report.when != "call" or not report.failed:
        return
    for k, failing in enumerate(fixture.failing, 1):
        report.sections.append((f"oracle report {k} (seed {fixture.seed})", str(failing)))


def pytest_report_header(config):
    given = {n: config.getoption(f"--oracle-{n}") for n in ("seed", "examples", "profile")}
    if all(v is None for v in given.values()):
        return None
    return "oracle: " + ", ".join(f"{n} {v}" for n, v in given.items() if v is not None)
