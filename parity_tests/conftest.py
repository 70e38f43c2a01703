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

import scripts  # noqa: F401  (thread and malloc tuning; before NumPy is imported)
from hypothesis import HealthCheck, Phase, settings
# isort: on

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
