"""The switch for scratch's fast paths, as ``torch.backends.mkldnn``'s ``enabled`` and ``flags``.

Each file of :mod:`scratch.functional` holds the plain algorithm; where a faster
way exists it lives in this package (one file per family: :mod:`.conv`,
:mod:`.conv_transpose`, :mod:`.pooling`, :mod:`.activation`, :mod:`.normalization`,
:mod:`.loss`, :mod:`.linear`) and the plain function
enters it through one line marked ``FAST PATH``. A fast forward returns None
when it does not apply (other geometry, an input it cannot take) or when the
switch is off, and the plain code runs. A backward follows the cache its
forward made, whatever the switch says by then.

    import scratch.backends.fast
    scratch.backends.fast.enabled = False             # plain paths from here on
    with scratch.backends.fast.flags(enabled=True):   # on inside, restored after
        ...

The default comes from the environment variable ``SCRATCH_FAST_PATHS``
(``0``/``false``/``off`` or ``1``/``true``/``on``; unset: on), read once at
import, so a whole test run can be made on the plain paths:
``SCRATCH_FAST_PATHS=0 pytest parity_tests``. Importing changes nothing else
(no threads, no BLAS settings: those are :func:`scratch.parallel.set_num_threads`).
"""
from __future__ import annotations

import os
import sys
import types
from contextlib import contextmanager

ENV_VAR = "SCRATCH_FAST_PATHS"
_ON, _OFF = ("1", "true", "on", "yes"), ("0", "false", "off", "no")


def _from_environment() -> bool:
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if value in ("",) + _ON:
        return True
    if value in _OFF:
        return False
    raise ValueError(f"{ENV_VAR}={os.environ[ENV_VAR]!r}: expected one of "
                     f"{', '.join(_ON + _OFF)} (or unset, meaning on)")


_enabled = _from_environment()


def is_enabled() -> bool:
    """Whether the fast paths run (the value of ``scratch.backends.fast.enabled``)."""
    return _enabled


def _checked(value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"scratch.backends.fast.enabled must be True or False, got {value!r}")
    return value


def set_flags(_enabled_value: bool | None = None) -> tuple[bool]:
    """Set the switch (None: leave it); returns the previous flags for :func:`flags`."""
    global _enabled
    previous = (_enabled,)
    if _enabled_value is not None:
        _enabled = _checked(_enabled_value)
    return previous


@contextmanager
def flags(enabled: bool = False):
    """``with scratch.backends.fast.flags(enabled=False): ...``: the switch set inside the
    block and restored after it (also when the block raises)."""
    previous = set_flags(enabled)
    try:
        yield
    finally:
        set_flags(*previous)


class _FastModule(types.ModuleType):
    """This module, with ``enabled`` a checked property (torch's ``PropModule`` idea)."""

    @property
    def enabled(self) -> bool:
        return _enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        set_flags(_checked(value))


sys.modules[__name__].__class__ = _FastModule
