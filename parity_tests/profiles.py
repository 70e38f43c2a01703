"""The hypothesis profile this run uses (``HYPOTHESIS_PROFILE``, as conftest.py loads it)
and the mark for the few tests only the ``thorough`` profile runs.

Those are end-to-end runs of the scripts in fresh processes (seconds each, minutes in all
on two cores): ``ci`` keeps a cheap check of each entry point beside them, so a broken one
still fails ``ci``, and the code they run is checked in process by other tests.
"""
from __future__ import annotations

import os

import pytest

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")


def thorough_only(reason: str):
    """Skip the test unless ``HYPOTHESIS_PROFILE=thorough``; ``reason`` says why ``ci``
    finds no more bugs by running it (what ``ci`` checks of the same code instead)."""
    return pytest.mark.skipif(PROFILE != "thorough", reason=f"thorough profile only: {reason}")
