"""Hypothesis profiles, chosen with HYPOTHESIS_PROFILE=dev|ci|thorough (default dev).

- dev: quick local iteration, random examples.
- ci: derandomised (the same examples on every run): what CI runs.
- thorough: many more examples, for a long run before a release.
None has a deadline (numeric tests vary in time). A failing example is always
shrunk and printed with the blob that replays it.
"""
# isort: off
import os

import scripts  # noqa: F401  (thread and malloc tuning; before NumPy is imported)
from hypothesis import HealthCheck, settings
# isort: on

_common = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=20, **_common)
settings.register_profile("ci", max_examples=30, derandomize=True, **_common)
settings.register_profile("thorough", max_examples=600, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
