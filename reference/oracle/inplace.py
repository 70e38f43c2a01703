"""In-place and aliasing mistakes: a verdict of their own, next to the gradient rows.

The oracle hands your code arrays it keeps a pristine copy of, and after
your forward and after your backward compares them element by element:

- an input (``x``, a recurrent state), the upstream gradient ``dout`` or a
  parameter *modified* by your forward or backward (the classic ReLU
  backward ``dout[x <= 0] = 0`` writes into the caller's ``dout``; an
  optimizer step that follows then sees a corrupted gradient);
- a returned gradient that *shares memory* (``np.shares_memory``) with
  ``dout`` or with another returned gradient (``return dout`` from a ReLU
  backward after masking it in place; ``db = dx`` returned twice): the
  caller who accumulates into one silently changes the other.

Each finding names the tensor, the function that did it, how many elements
changed and the first index with its values before and after.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class InPlace:
    """One in-place finding: ``tensor`` (what was hit), ``by`` (your function),
    ``kind`` ("modified" or "shares memory") and the sentence the report prints."""
    tensor: str
    by: str
    kind: str
    message: str


class Guard:
    """Arrays handed to your code, with a pristine copy of each to compare against."""

    def __init__(self):
        self.passed: dict[str, np.ndarray] = {}
        self.before: dict[str, np.ndarray] = {}
        self.labels: dict[str, str] = {}
        self.found: list[InPlace] = []
        self._reported: set[str] = set()

    def hand(self, name: str, value, label: str | None = None):
        """A fresh array for your code (non-arrays are handed as they are); ``label``
        is how messages call it (default: its name)."""
        if not isinstance(value, np.ndarray):
            return value
        self.passed[name] = value.copy()
        self.before[name] = value.copy()
        self.labels[name] = label or name
        return self.passed[name]

    def check_modified(self, by: str, names=None) -> None:
        """Record every watched array ``by`` changed (each tensor reported once)."""
        for name in list(self.passed) if names is None else names:
            if name in self._reported or name not in self.passed:
                continue
            now, was = self.passed[name], self.before[name]
            if now.shape != was.shape:
                message = (f"{self.labels[name]} was modified in place by {by}: its shape "
                           f"changed from "
                           f"{was.shape} to {now.shape}")
            else:
                changed = ~((now == was) | (np.isnan(now) & np.isnan(was))
                            if np.issubdtype(now.dtype, np.floating) else now == was)
                if not changed.any():
                    continue
                first = tuple(int(i) for i in np.argwhere(changed)[0])
                at = f"[{', '.join(map(str, first))}]" if first else ""
                message = (f"{self.labels[name]} was modified in place by {by}: "
                           f"{int(changed.sum())} of "
                           f"{changed.size} elements changed, first {name}{at} was "
                           f"{was[first]:.6g}, now {now[first]:.6g} (work on a copy: "
                           f"{name} = {name}.copy(), or np.where instead of item assignment)")
            self._reported.add(name)
            self.found.append(InPlace(name, by, "modified", message))

    def check_aliasing(self, returned: dict, by: str, against=None) -> None:
        """Returned gradients sharing memory with a handed array (those named in
        ``against``; default every one) or with each other."""
        against = list(self.passed) if against is None else against
        arrays = {n: a for n, a in returned.items() if isinstance(a, np.ndarray)}
        names = list(arrays)
        for i, name in enumerate(names):
            for other in against:
                given = self.passed.get(other)
                if given is not None and np.shares_memory(arrays[name], given):
                    self._alias(name, other, by, f"the {self.labels[other]} it was given")
            for second in names[i + 1:]:
                if np.shares_memory(arrays[name], arrays[second]):
                    self._alias(name, second, by, f"the {second} it also returned")

    def _alias(self, name, other, by, what) -> None:
        key = f"{name}~{other}"
        if key in self._reported:
            return
        self._reported.add(key)
        self.found.append(InPlace(
            name, by, "shares memory",
            f"{name} returned by {by} shares memory with {what}: a caller who updates one "
            f"in place (+=, an optimizer step) changes the other (return a new array, e.g. "
            f"{name}.copy())"))
