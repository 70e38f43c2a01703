"""The parameter names learners give the layers torch has, so that ``against=`` needs the
torch layer alone (``torch.nn.LayerNorm(5)``), no ``mapping=``.

:data:`CUSTOMARY` maps a ``torch.nn`` class name to your usual names for its parameters
(CS231n's ``gamma``/``beta`` for a normalisation's ``weight``/``bias``, ``W``/``w``/``b``
for a convolution's). :func:`customary_mapping` applies them to the names of yours that
torch's layer does not have and that ``mapping=`` leaves out; a name you map yourself, or
that is torch's own, is never touched. Where your array has torch's values with extra axes
of size 1 (CS231n's spatial group norm keeps ``gamma`` as (1, C, 1, 1), torch as (C,)),
the :class:`~reference.oracle.params.Param` reshapes it both ways.

Layouts are not guessed: a ``W`` stored as (in, out) for ``torch.nn.Linear`` is still
refused with a hint to map it with ``Param("weight", transpose=True)``.
"""
from __future__ import annotations

import numpy as np

from reference.oracle.params import Param

_NORM = {"gamma": "weight", "beta": "bias", "scale": "weight", "shift": "bias"}
_WEIGHTED = {"W": "weight", "w": "weight", "b": "bias"}

CUSTOMARY = {
    **{name: _NORM for name in (
        "LayerNorm", "GroupNorm", "RMSNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d",
        "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")},
    **{name: _WEIGHTED for name in (
        "Linear", "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d")},
}
"""``torch.nn`` class name -> {your customary name: torch's parameter name}."""


def _reshaped(torch_name: str, yours: tuple, theirs: tuple | None) -> Param:
    """``Param(torch_name)``, reshaping when your shape is torch's with axes of size 1."""
    if theirs is None or tuple(yours) == tuple(theirs):
        return Param(torch_name)
    squeezed = tuple(n for n in yours if n != 1)
    if squeezed != tuple(n for n in theirs if n != 1) or np.prod(yours) != np.prod(theirs):
        return Param(torch_name)          # refused later with both shapes named
    return Param(torch_name, to_torch=lambda v: v.reshape(theirs),
                 from_torch=lambda g: g.reshape(yours))


def customary_mapping(module, values: dict, theirs: dict | None, mapping: dict | None) -> dict:
    """``mapping`` completed with the customary names for torch module ``module``'s class
    (see :data:`CUSTOMARY`); ``values``: your parameter name -> array."""
    mapping = dict(mapping or {})
    if module is None or theirs is None:
        return mapping
    known = CUSTOMARY.get(type(module).__name__, {})
    taken = {p.torch_name if isinstance(p, Param) else p for p in mapping.values()}
    for name, value in values.items():
        target = known.get(name)
        if (name in mapping or name in theirs or target is None or target not in theirs
                or target in taken or target in values):
            continue
        mapping[name] = _reshaped(target, np.shape(value), theirs[target])
        taken.add(target)
    return mapping
