"""``Embedding``, as ``torch.nn.Embedding`` (torch keeps it in sparse.py).

``Embedding(num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
_freeze=False, device=None, dtype=None)``; ``weight`` (num_embeddings,
embedding_dim) starts N(0, 1) as torch's ``reset_parameters`` draws it (from the
keyword-only ``generator``, default the one :func:`scratch.manual_seed` seeds),
with the ``padding_idx`` row zeroed (a negative ``padding_idx`` counts from the end).

``forward(indices)``: an integer array of any shape -> (*indices.shape,
embedding_dim). With ``max_norm`` the rows it looks up are first renormalised
**in place** (the weight itself changes, as in torch). ``backward(dout)`` sets
``weight.grad`` (occurrences of an index add up; the padding row gets zero) and
returns None: integer indices have no gradient.

Refused: ``sparse=True`` (scratch has no sparse gradients) and ``_freeze=True``
(a frozen weight: keep it out of the optimizer instead), devices other than the CPU.
"""
from __future__ import annotations

import numbers

import numpy as np

from scratch import checks, init
from scratch import functional as F
from scratch import random as R
from scratch.nn.module import Module, Parameter


def _padding_index(layer, padding_idx, num_embeddings, words):
    """``padding_idx`` as a row index in [0, num_embeddings) (negative counts from the end),
    or None; out of range: AssertionError with torch's ``words``."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral):
        raise TypeError(f"{type(layer).__name__}: padding_idx must be an int or None, got "
                        f"{padding_idx!r}")
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise AssertionError(words)
    return int(padding_idx) % num_embeddings


class Embedding(Module):
    """A lookup table of ``num_embeddings`` rows of ``embedding_dim`` (see the module doc)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None, *, generator=None):
        super().__init__()
        name = type(self).__name__
        self.num_embeddings = checks.count(self, "num_embeddings", num_embeddings)
        self.embedding_dim = checks.count(self, "embedding_dim", embedding_dim)
        self.padding_idx = _padding_index(self, padding_idx, num_embeddings,
                                          "Padding_idx must be within num_embeddings")
        self._table_options(max_norm, norm_type, scale_grad_by_freq, sparse)
        if checks.flag(self, "_freeze", _freeze):
            raise NotImplementedError(f"{name}: _freeze=True is not implemented in scratch; "
                                      f"leave the weight out of the optimizer instead")
        self._table(_weight, device, dtype, generator)

    def _table_options(self, max_norm, norm_type, scale_grad_by_freq, sparse):
        """max_norm, norm_type, scale_grad_by_freq checked and kept; sparse=True refused."""
        name = type(self).__name__
        if max_norm is not None and checks.number(self, "max_norm", max_norm) < 0:
            raise ValueError(f"{name}: max_norm must be None or >= 0, got {max_norm!r}")
        self.max_norm = max_norm
        self.norm_type = checks.number(self, "norm_type", norm_type)
        self.scale_grad_by_freq = checks.flag(self, "scale_grad_by_freq", scale_grad_by_freq)
        if checks.flag(self, "sparse", sparse):
            raise NotImplementedError(f"{name}: sparse=True (sparse gradients) is not "
                                      f"implemented in scratch; use sparse=False")
        self.sparse = False

    def _table(self, _weight, device, dtype, generator):
        """The (num_embeddings, embedding_dim) weight: ``_weight`` as given, or drawn."""
        name = type(self).__name__
        checks.device(self, device)
        if _weight is None:
            dtype = checks.param_dtype(self, dtype)
            self._params["weight"] = Parameter(init.empty((self.num_embeddings,
                                                           self.embedding_dim), dtype))
            self.reset_parameters(R.generator(name, generator))
        else:
            if not isinstance(_weight, np.ndarray) or _weight.dtype.kind != "f":
                raise TypeError(f"{name}: _weight must be a floating NumPy array, got "
                                f"{type(_weight).__name__}")
            if _weight.shape != (self.num_embeddings, self.embedding_dim):
                raise AssertionError("Shape of weight does not match num_embeddings and "
                                     "embedding_dim")
            self._params["weight"] = Parameter(_weight)

    def reset_parameters(self, generator=None):
        """torch's: weight N(0, 1), the padding row zeroed."""
        weight = self._params["weight"].data
        init.normal_(weight, generator=R.generator(type(self).__name__, generator))
        if self.padding_idx is not None:
            weight[self.padding_idx] = 0

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        return s

    def forward(self, indices):
        """indices: integers in [0, num_embeddings), any shape -> (*shape, embedding_dim)."""
        name = type(self).__name__
        if not isinstance(indices, np.ndarray):
            raise TypeError(f"{name} expects indices as a NumPy integer array, got "
                            f"{type(indices).__name__}; convert with np.asarray(...)")
        if indices.dtype.kind not in "iu":
            raise TypeError(f"{name}: Expected tensor for argument #1 'indices' to have one of "
                            f"the following scalar types: Long, Int; but got dtype "
                            f"{indices.dtype}; convert with indices.astype(np.int64)")
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_embeddings):
            bad = indices.min() if indices.min() < 0 else indices.max()
            raise IndexError(f"{name}: index out of range in self: index {bad} for "
                             f"num_embeddings={self.num_embeddings} (valid: 0 to "
                             f"{self.num_embeddings - 1})")
        weight = self._params["weight"].data
        if self.max_norm is not None:
            F.embedding_renorm_(weight, indices, self.max_norm, self.norm_type)
        return self._keep(*F.embedding_forward(indices, weight, self.padding_idx,
                                               self.scale_grad_by_freq))

    def backward(self, dout, input_grad=True):
        """Sets ``weight.grad``; returns None (indices have no gradient)."""
        self._params["weight"].grad = F.embedding_backward(dout, self._take_cache(dout))
        return None


class EmbeddingBag(Module):
    """Sums, means or maxima of bags of embeddings, as ``torch.nn.EmbeddingBag``.

    ``EmbeddingBag(num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
    scale_grad_by_freq=False, mode='mean', sparse=False, _weight=None,
    include_last_offset=False, padding_idx=None, device=None, dtype=None)``: torch's
    arguments in torch's order; ``weight`` as :class:`Embedding`'s (N(0, 1), padding
    row zeroed). ``mode`` and ``mode='max'`` with ``scale_grad_by_freq`` are checked at
    construction (torch checks them at the first forward, with the same errors).

    ``forward(input, offsets=None, per_sample_weights=None)``: ``input`` (B, L) for B
    bags of L indices, or (n,) with ``offsets`` (B,) (B + 1 with
    ``include_last_offset``) the start of each bag; -> (B, embedding_dim). See
    :func:`scratch.functional.embedding_bag_forward`. With ``max_norm`` the rows
    looked up are renormalised in place first, as :class:`Embedding`'s.
    ``backward(dout)`` sets ``weight.grad`` and returns the gradient of
    ``per_sample_weights`` (input's shape) when they were given, else None.

    Refused: ``sparse=True`` (scratch has no sparse gradients), devices other than the CPU.
    """

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="mean", sparse=False, _weight=None,
                 include_last_offset=False, padding_idx=None, device=None, dtype=None, *,
                 generator=None):
        super().__init__()
        self.num_embeddings = checks.count(self, "num_embeddings", num_embeddings)
        self.embedding_dim = checks.count(self, "embedding_dim", embedding_dim)
        self._table_options(max_norm, norm_type, scale_grad_by_freq, sparse)
        self.padding_idx = _padding_index(self, padding_idx, num_embeddings,
                                          "padding_idx must be within num_embeddings")
        self.mode = checks.choice(self, "mode", mode, ("sum", "mean", "max"))
        if mode == "max" and self.scale_grad_by_freq:
            raise ValueError(f"{type(self).__name__}: max mode does not support scaling the "
                             f"gradient by the frequency (scale_grad_by_freq=True)")
        self.include_last_offset = checks.flag(self, "include_last_offset",
                                               include_last_offset)
        self._table(_weight, device, dtype, generator)

    _table_options = Embedding._table_options
    _table = Embedding._table

    def reset_parameters(self, generator=None):
        """torch's: weight N(0, 1), the padding row zeroed."""
        Embedding.reset_parameters(self, generator)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm!r}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type!r}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq!r}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx!r}"
        return s

    def forward(self, input, offsets=None, per_sample_weights=None):
        """input (B, L), or (n,) with offsets -> (B, embedding_dim)."""
        return self._keep(*F.embedding_bag_forward(
            input, self._params["weight"].data, offsets, self.max_norm, self.norm_type,
            self.scale_grad_by_freq, self.mode, per_sample_weights, self.include_last_offset,
            self.padding_idx))

    def backward(self, dout, input_grad=True):
        """Sets ``weight.grad``; returns per_sample_weights' gradient, or None without them."""
        dweight, dsamples = F.embedding_bag_backward(dout, self._take_cache(dout))
        self._params["weight"].grad = dweight
        return dsamples
