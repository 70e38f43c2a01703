"""``Flatten``: merge a range of axes, by default (N, ...) -> (N, prod(...))."""
from __future__ import annotations

from scratch import checks
from scratch import functional as F
from scratch.nn.module import Module


class Flatten(Module):
    """Merge axes ``start_dim`` .. ``end_dim`` (inclusive; negative counts from the end),
    as ``torch.nn.Flatten``: ``Flatten(1, 2)`` turns (N, 1, 28, 28) into (N, 28, 28)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = checks.dim_index(self, "start_dim", start_dim)
        self.end_dim = checks.dim_index(self, "end_dim", end_dim)
        if start_dim >= 0 and end_dim >= 0 and start_dim > end_dim:
            raise ValueError(f"Flatten: start_dim={start_dim} comes after end_dim={end_dim}")

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def _min_ndim(self):
        return max(d + 1 if d >= 0 else -d for d in (self.start_dim, self.end_dim))

    def forward(self, x):
        need = self._min_ndim()
        layout = "(N, ...)" if (self.start_dim, self.end_dim) == (1, -1) else (
            f"(..) covering start_dim={self.start_dim}, end_dim={self.end_dim}")
        checks.input_array(self, x, layout, min_ndim=need)
        try:
            return self._keep(*F.flatten_forward(x, self.start_dim, self.end_dim))
        except ValueError:  # e.g. Flatten(-1, 1) on 4-d input: start lands after end
            raise ValueError(f"Flatten: start_dim={self.start_dim} comes after end_dim="
                             f"{self.end_dim} for input of shape {x.shape}") from None

    def backward(self, dout, input_grad=True):
        return F.flatten_backward(dout, self._take_cache(dout))


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size`` (a tuple or list of ints, one of them
    may be -1), as ``torch.nn.Unflatten``: ``Unflatten(1, (1, 28, 28))`` turns (N, 784)
    into (N, 1, 28, 28)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = checks.dim_index(self, "dim", dim)
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"unflattened_size must be a tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        for i, n in enumerate(unflattened_size):
            if isinstance(n, bool) or not isinstance(n, int):
                raise TypeError(f"unflattened_size must be tuple of ints, but found element "
                                f"of type {type(n).__name__} at pos {i}")
        self.unflattened_size = unflattened_size

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"

    def forward(self, x):
        checks.input_array(self, x, min_ndim=1)
        if not -x.ndim <= self.dim < x.ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-x.ndim}, {x.ndim - 1}], but got {self.dim})")
        sizes, size = list(self.unflattened_size), x.shape[self.dim]
        known = 1
        for n in sizes:
            known *= n if n != -1 else 1
        if sizes.count(-1) > 1 or (-1 not in sizes and known != size) or (
                -1 in sizes and (known == 0 or size % known)):
            raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the "
                               f"size of dim {self.dim} ({size}) in the input tensor")
        return self._keep(*F.unflatten_forward(x, self.dim, sizes))

    def backward(self, dout, input_grad=True):
        return F.unflatten_backward(dout, self._take_cache(dout))
