"""Embedding lookup, forward/backward pair, and the in-place ``max_norm`` renormalisation
(torch's ``F.embedding``; torch keeps ``Embedding`` in sparse.py); the bag reductions of
``F.embedding_bag`` at the end.

``out = weight[indices]``: each integer index picks one row of ``weight``
(num_embeddings, embedding_dim). The gradient of ``weight`` is the upstream
gradient of each looked-up row *added* into the row it came from: an index that
occurs several times collects the sum of its gradients
(:func:`scratch.indexing.index_add`, ``np.add.at`` on the flattened table; not a
fancy-indexed ``+=``, which would keep only one of them).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scratch.indexing import index_add


class EmbeddingCache(NamedTuple):
    indices: np.ndarray          # the integer input, any shape
    num_embeddings: int
    padding_idx: int | None      # its row gets no gradient
    scale_grad_by_freq: bool


def embedding_renorm_(weight, indices, max_norm, norm_type=2.0):
    """Rescale, in place, each row of ``weight`` that ``indices`` use and whose
    ``norm_type``-norm exceeds ``max_norm`` to norm ``max_norm``, as torch does
    before the lookup: ``row *= max_norm / (norm + 1e-7)``. Returns ``weight``."""
    rows = np.unique(indices)
    norms = np.linalg.norm(weight[rows], ord=norm_type, axis=1).astype(np.float64)
    over = norms > max_norm
    scale = max_norm / (norms[over] + 1e-7)
    weight[rows[over]] *= scale.astype(weight.dtype)[:, None]
    return weight


def embedding_forward(indices, weight, padding_idx=None, scale_grad_by_freq=False):
    """indices: integers in [0, num_embeddings), any shape; weight (num_embeddings, D).

    Returns out (*indices.shape, D) in weight's dtype and an :class:`EmbeddingCache`.
    """
    return weight[indices], EmbeddingCache(indices, weight.shape[0], padding_idx,
                                           scale_grad_by_freq)


def embedding_backward(dout, cache):
    """dout (*indices.shape, D) -> dweight (num_embeddings, D).

    Every occurrence of an index adds its row of ``dout``; with
    ``scale_grad_by_freq`` each is first divided by how often that index occurs
    in ``indices``; the ``padding_idx`` row gets zero.
    """
    indices, num_embeddings, padding_idx, by_freq = cache
    flat = indices.reshape(-1)
    rows = dout.reshape(flat.size, dout.shape[-1])                      # (n, D)
    if by_freq:
        counts = np.bincount(flat, minlength=num_embeddings)
        rows = rows / counts[flat][:, None].astype(dout.dtype)
    dweight = np.zeros((num_embeddings, rows.shape[1]), dout.dtype)
    index_add(dweight, flat, rows)
    if padding_idx is not None:
        dweight[padding_idx] = 0
    return dweight


# --------------------------------------------------------------------------- embedding bags
class EmbeddingBagCache(NamedTuple):
    indices: np.ndarray          # (n,) every index, bags one after another
    bag: np.ndarray              # (n,) the bag each index belongs to
    num_bags: int
    num_embeddings: int
    scale: np.ndarray | None     # (n,) dout's factor per index (sum/mean); 0 for padding
    argmax: np.ndarray | None    # (B, D) max mode: the entry chosen per bag and column, -1: none
    rows: np.ndarray | None      # (n, D) the rows looked up, kept for per_sample_weights' gradient
    sample_shape: tuple | None   # per_sample_weights' shape (its gradient's), None without


def embedding_bag_offsets(input, offsets=None, include_last_offset=False):
    """``(indices (n,), bag (n,), num_bags)`` from torch's two input forms, checked as torch.

    ``input`` (B, L): B bags of L indices each (``offsets`` must be None).
    ``input`` (n,): bags one after another, bag ``b`` starting at ``offsets[b]``
    (``offsets[0] == 0``, non-decreasing, at most n; a bag from ``offsets[b]`` to
    ``offsets[b + 1]`` may be empty). With ``include_last_offset`` offsets has B + 1
    entries and the last must be n (the end of the last bag).
    """
    if not isinstance(input, np.ndarray) or input.dtype.kind not in "iu":
        got = input.dtype if isinstance(input, np.ndarray) else type(input).__name__
        raise TypeError(f"embedding_bag: Expected tensor for argument #1 'indices' to have one "
                        f"of the following scalar types: Long, Int; but got {got}; pass a "
                        f"NumPy integer array (indices.astype(np.int64))")
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("embedding_bag: if input is 2D, then offsets has to be None, as "
                             "input is treated is a mini-batch of fixed length sequences. "
                             f"However, found offsets of type {type(offsets).__name__}")
        num_bags, length = input.shape
        if length == 0:
            raise RuntimeError(f"embedding_bag: 2-D input of shape {input.shape} has bags of "
                               f"length 0 (torch refuses it: step must be nonzero); use 1-D "
                               f"input with offsets for empty bags")
        return input.reshape(-1), np.repeat(np.arange(num_bags), length), num_bags
    if input.ndim != 1:
        raise ValueError(f"embedding_bag: input has to be 1D or 2D Tensor, but got Tensor of "
                         f"dimension {input.ndim}")
    if offsets is None:
        raise ValueError("embedding_bag: offsets has to be a 1D Tensor but got None")
    if not isinstance(offsets, np.ndarray) or offsets.dtype.kind not in "iu":
        raise TypeError(f"embedding_bag: offsets must be a NumPy integer array, got "
                        f"{getattr(offsets, 'dtype', type(offsets).__name__)}")
    if offsets.ndim != 1:
        raise ValueError("embedding_bag: offsets has to be a 1D Tensor")
    n = input.size
    if include_last_offset:
        if offsets.size == 0:
            raise RuntimeError("embedding_bag: include_last_offset: number of offset should "
                               "be at least 1")
        if offsets.size == 1:
            raise RuntimeError("embedding_bag: include_last_offset=True needs at least 2 "
                               "offsets (the start and the end of one bag), got 1")
    elif offsets.size == 0:
        raise RuntimeError("embedding_bag: offsets must hold at least one bag start, got an "
                           "empty array")
    if offsets[0] != 0:
        raise RuntimeError(f"embedding_bag: offsets[0] has to be 0, i.e., the first sequence "
                           f"in the mini-batch has to start from position 0. However, got "
                           f"{offsets[0]}")
    if offsets[-1] > n:
        raise RuntimeError(f"embedding_bag: offsets[-1] can not be greater than input's length "
                           f"{n} but got offsets[-1] of {offsets[-1]}")
    if np.any(np.diff(offsets) < 0):
        raise RuntimeError(f"embedding_bag: offsets must be non-decreasing (each bag starts "
                           f"where the previous one ends or later), got {offsets.tolist()}")
    if include_last_offset and offsets[-1] != n:
        raise RuntimeError(f"embedding_bag: with include_last_offset=True the last offset is "
                           f"the end of the last bag and must equal input's length {n}, got "
                           f"{offsets[-1]}")
    starts = offsets[:-1] if include_last_offset else offsets
    bag = np.searchsorted(starts, np.arange(n), side="right") - 1       # (n,)
    return input, bag, starts.size


def _check_sample_weights(input, weight, per_sample_weights, mode):
    """torch's refusals of ``per_sample_weights``: its shape, its dtype, a mode but sum."""
    if not isinstance(per_sample_weights, np.ndarray) or per_sample_weights.dtype.kind != "f":
        raise TypeError(f"embedding_bag: per_sample_weights must be a floating NumPy array, "
                        f"got {type(per_sample_weights).__name__}")
    if per_sample_weights.shape != np.shape(input):
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is "
                         f"not None, then it must have the same shape as the input "
                         f"({np.shape(input)})")
    if per_sample_weights.dtype != weight.dtype:
        raise RuntimeError(f"embedding_bag: per_sample_weights of dtype "
                           f"{per_sample_weights.dtype} must have weight's dtype {weight.dtype} "
                           f"(no hidden casting); convert with "
                           f"per_sample_weights.astype(np.{weight.dtype})")
    if mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                  f"per_sample_weights is only supported for mode='sum' (got "
                                  f"mode='{mode}')")


def embedding_bag_forward(input, weight, offsets=None, max_norm=None, norm_type=2.0,
                          scale_grad_by_freq=False, mode="mean", per_sample_weights=None,
                          include_last_offset=False, padding_idx=None):
    """Sums, means or maxima of bags of embedding rows, without building the rows per bag.

    torch's ``F.embedding_bag`` arguments in its order (less ``sparse``). input and
    offsets: see :func:`embedding_bag_offsets`; weight (num_embeddings, D); indices in
    [0, num_embeddings). With ``max_norm`` the rows the input uses are first renormalised
    in place (:func:`embedding_renorm_`), as torch does. Returns out (B, D) in weight's dtype and an
    :class:`EmbeddingBagCache`.

    - ``'sum'``: ``out[b] = sum_i per_sample_weights[i] * weight[input[i]]`` over the
      bag's entries (``per_sample_weights``: input's shape, sum mode only, default 1);
    - ``'mean'``: the sum divided by the bag's number of entries;
    - ``'max'``: the maximum of each column over the bag; the first entry wins a tie.

    Entries equal to ``padding_idx`` are left out of the bag (and of the mean's count);
    an empty bag (or one of padding only) gives a row of zeros.
    """
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"embedding_bag: mode has to be one of sum, mean or max, got {mode!r}")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("embedding_bag: max mode does not support scaling the gradient by the "
                         "frequency")
    if not isinstance(weight, np.ndarray) or weight.ndim != 2:
        raise ValueError(f"embedding_bag: weight has to be a 2D Tensor, but got Tensor of "
                         f"dimension {np.ndim(weight)}")
    if per_sample_weights is not None:
        _check_sample_weights(input, weight, per_sample_weights, mode)
    indices, bag, num_bags = embedding_bag_offsets(input, offsets, include_last_offset)
    num_embeddings, dim = weight.shape
    if indices.size and (indices.min() < 0 or indices.max() >= num_embeddings):
        bad = indices.min() if indices.min() < 0 else indices.max()
        raise RuntimeError(f"embedding_bag: Expected idx >= 0 && idx < num_embeddings but found "
                           f"idx to be {bad} (num_embeddings={num_embeddings})")
    if max_norm is not None:
        embedding_renorm_(weight, indices, max_norm, norm_type)
    keep = indices != padding_idx if padding_idx is not None else np.ones(indices.size, bool)
    out = np.zeros((num_bags, dim), weight.dtype)
    rows = weight[indices]                                              # (n, D)
    if mode == "max":
        kept = np.flatnonzero(keep)                                     # entries that count
        argmax = np.full((num_bags, dim), -1)
        if kept.size:
            bags, starts = np.unique(bag[kept], return_index=True)      # non-empty bags
            segment = np.repeat(np.arange(bags.size), np.diff(np.append(starts, kept.size)))
            best = np.maximum.reduceat(rows[kept], starts, axis=0)      # (bags, D)
            ties = rows[kept] == best[segment]
            position = np.where(ties, np.arange(kept.size)[:, None], kept.size)
            argmax[bags] = kept[np.minimum.reduceat(position, starts, axis=0)]
            out[bags] = best
        return out, EmbeddingBagCache(indices, bag, num_bags, num_embeddings, None, argmax,
                                      None, None)
    scale = keep.astype(weight.dtype)
    if per_sample_weights is not None:
        scale = scale * per_sample_weights.reshape(-1)
    np.add.at(out, bag, rows * scale[:, None])
    if mode == "mean":
        count = np.bincount(bag[keep], minlength=num_bags)             # (B,) entries per bag
        out /= np.maximum(count, 1).astype(weight.dtype)[:, None]
        scale = scale / np.maximum(count, 1)[bag].astype(weight.dtype)
    if scale_grad_by_freq:
        scale = scale / np.bincount(indices, minlength=num_embeddings)[indices].astype(
            weight.dtype)
    psw = per_sample_weights is not None
    return out, EmbeddingBagCache(indices, bag, num_bags, num_embeddings, scale, None,
                                  rows * keep[:, None] if psw else None,
                                  per_sample_weights.shape if psw else None)


def embedding_bag_backward(dout, cache):
    """dout (B, D) -> ``(dweight (num_embeddings, D), dper_sample_weights or None)``.

    Sum and mean: each entry adds ``scale * dout[its bag]`` into its row (repeated
    indices add up; ``scale`` holds the per-sample weight, the mean's 1/count, the
    frequency scaling, 0 for padding). Max: each column's gradient goes to the one
    entry that held the maximum. The per-sample weights' gradient is each entry's
    row dotted with its bag's dout (0 for padding).
    """
    indices, bag, _, num_embeddings, scale, argmax, rows, sample_shape = cache
    dweight = np.zeros((num_embeddings, dout.shape[1]), dout.dtype)
    if argmax is not None:
        has = argmax >= 0                                               # (B, D)
        column = np.broadcast_to(np.arange(dout.shape[1]), argmax.shape)
        np.add.at(dweight, (indices[argmax[has]], column[has]), dout[has])
        return dweight, None
    np.add.at(dweight, indices, dout[bag] * scale[:, None])
    if sample_shape is None:
        return dweight, None
    return dweight, np.einsum("nd,nd->n", rows, dout[bag]).reshape(sample_shape)
