"""Embedding lookup, forward/backward pair, and the in-place ``max_norm`` renormalisation
(torch's ``F.embedding``; torch keeps ``Embedding`` in sparse.py).

``out = weight[indices]``: each integer index picks one row of ``weight``
(num_embeddings, embedding_dim). The gradient of ``weight`` is the upstream
gradient of each looked-up row *added* into the row it came from: an index that
occurs several times collects the sum of its gradients
(:func:`scratch.indexing.index_add`, which does what ``np.add.at`` does without
its element-by-element loop; not a fancy-indexed ``+=``, which would keep only
one of them).
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
