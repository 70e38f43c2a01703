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
