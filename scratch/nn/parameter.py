"""``Parameter`` and ``Buffer``: the arrays a module registers when they are assigned to it
(torch keeps both in ``torch/nn/parameter.py``)."""
from __future__ import annotations

import numpy as np


class Parameter:
    """A trainable array and its gradient (None until a backward pass).

    Assigned to a module attribute (``self.weight = Parameter(w)``) it is registered
    as that module's parameter, as torch's ``nn.Parameter`` is.
    """
    __slots__ = ("data", "grad", "_users")

    def __init__(self, data: np.ndarray):
        self.data = data
        self.grad = None
        self._users = []    # weak references to the modules whose forward used it

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Buffer:
    """Marks an array to register as a buffer when assigned to a module attribute, as
    torch's ``nn.Buffer``: ``self.steps = Buffer(np.zeros(()), persistent=False)``.
    The module stores the array itself (``data``); ``persistent=False`` keeps it out of
    ``state_dict()`` (it is still in ``named_buffers()``)."""
    __slots__ = ("data", "persistent")

    def __init__(self, data: np.ndarray, *, persistent: bool = True):
        if not isinstance(data, np.ndarray):
            raise TypeError(f"Buffer: data must be a numpy.ndarray, got "
                            f"{type(data).__name__}")
        self.data, self.persistent = data, persistent
