"""The default random generator behind layer initialisation, the twin of ``torch.manual_seed``.

Every layer that draws its initial weights (``Conv2d``, ``Linear``) takes a
keyword-only ``generator=``: a ``numpy.random.Generator`` or an int seed.
Without one it draws from this module's default generator, which starts
seeded with 0 (so a fresh Python process builds the same layers every time)
and which :func:`manual_seed` re-seeds::

    import scratch
    scratch.manual_seed(1)
    conv = scratch.nn.Conv2d(1, 4, 3)          # the same weights after every manual_seed(1)
"""
from __future__ import annotations

import numpy as np

_default = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Re-seed the default generator (as ``torch.manual_seed``); returns it."""
    global _default
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed expects a non-negative int, got {seed!r}")
    _default = np.random.default_rng(int(seed))
    return _default


def default_generator() -> np.random.Generator:
    """The generator layers draw from when given none."""
    return _default


def generator(layer_name: str, value) -> np.random.Generator:
    """``value`` as a Generator: None -> the default one, an int -> a fresh seeded one."""
    if value is None:
        return _default
    if isinstance(value, np.random.Generator):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0:
        return np.random.default_rng(int(value))
    raise TypeError(f"{layer_name}: generator must be a numpy.random.Generator, a "
                    f"non-negative int seed or None, got {value!r}")
