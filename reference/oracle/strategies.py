"""Hypothesis strategies for oracle searches, valid by construction.

Sizes stay small so failures shrink to a few elements. Values are bounded
and often repeated (0, 1, -1, 0.5, -2 mixed with arbitrary float32s in
[-4, 4]), so pooling windows hold ties and ReLU inputs exact zeros. Cases
are dicts with CS231n's names. Needs hypothesis (the ``test`` extra).

========================  =====================================================
strategy                  draws
========================  =====================================================
``arrays(shape, values)`` float64 arrays of a shape (or a strategy of shapes)
``shapes(...)``           (N, C, ...) shapes, every side in [1, max_side]
``seeds()``               seeds for dout and drawn parameters
``leaf_values()``         one float for a scalar engine's leaf (zeros, ties)
``linear_cases()``        dict: ``x`` (N, D), ``w`` (D, M), ``b`` (M,)
``conv_cases()``          dict: ``x``, ``w`` (F, C, k, k), ``b`` (F,), ``stride``, ``pad``
``pool_cases()``          dict: ``x`` (N, C, H, W), ``size``, ``stride``
                          (``stride == size`` with ``stride_is_size=True``)
``rnn_cases()``           dict: ``x`` (N, T, D), ``h0`` (N, H), ``Wx`` (D, H),
                          ``Wh`` (H, H), ``b`` (H,)
========================  =====================================================
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

TIE_VALUES = st.sampled_from([0.0, 1.0, -1.0, 0.5, -2.0])
VALUES = st.one_of(TIE_VALUES, st.floats(-4, 4, width=32))
WEIGHTS = st.one_of(st.sampled_from([0.0, 0.5, -0.25]), st.floats(-1, 1, width=32))


def leaf_values():
    """A scalar engine's leaf: often 0, +-1, +-0.5, +-2 (zeros and ties), else in [-3, 3]."""
    return st.one_of(st.sampled_from([0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0]),
                     st.floats(-3, 3, allow_nan=False).map(lambda v: round(v, 3)))


def arrays(shape, values=VALUES):
    """float64 arrays of ``shape`` (a tuple or a strategy of tuples)."""
    return hnp.arrays(np.float64, shape, elements=values)


def seeds():
    """Seeds for the upstream gradient (and any drawn parameter)."""
    return st.integers(0, 2**32 - 1)


def shapes(min_dims=2, max_dims=4, max_side=4):
    """(N, C, ...) shapes with every side in [1, max_side]."""
    return st.integers(min_dims, max_dims).flatmap(
        lambda n: st.tuples(*[st.integers(1, max_side)] * n))


@st.composite
def linear_cases(draw, max_batch=4, max_features=5):
    """``x`` (N, D), ``w`` (D, M) as in CS231n's affine layer, ``b`` (M,)."""
    n, d, m = (draw(st.integers(1, max_batch)), draw(st.integers(1, max_features)),
               draw(st.integers(1, max_features)))
    return dict(x=draw(arrays((n, d))), w=draw(arrays((d, m), WEIGHTS)),
                b=draw(arrays((m,), WEIGHTS)))


@st.composite
def conv_cases(draw, max_kernel=3, max_stride=2, max_pad=2, divisible=True):
    """``x`` (N, C, H, W), ``w`` (F, C, k, k), ``b`` (F,), ``stride``, ``pad``.

    Kernel, stride and padding are drawn first, then an input that fits them;
    with ``divisible`` (CS231n's naive conv asserts it) ``H + 2*pad - k`` is a
    multiple of the stride.
    """
    k, s, p = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_stride)),
               draw(st.integers(0, max_pad)))
    sizes = []
    for _ in range(2):
        if divisible:
            smallest_out = max(1, -(-(2 * p - k + 1) // s) + 1)  # smallest H_out with H >= 1
            out = draw(st.integers(smallest_out, smallest_out + 2))
            sizes.append((out - 1) * s + k - 2 * p)
        else:
            smallest = max(1, k - 2 * p)
            sizes.append(draw(st.integers(smallest, smallest + 4)))
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    return dict(x=draw(arrays((n, c, *sizes))), w=draw(arrays((f, c, k, k), WEIGHTS)),
                b=draw(arrays((f,), WEIGHTS)), stride=s, pad=p)


@st.composite
def pool_cases(draw, max_size=3, max_stride=2, stride_is_size=False):
    """``x`` (N, C, H, W), pooling ``size`` (square) and ``stride``, no padding.

    ``stride_is_size``: ``stride == size`` always, for a pool that takes no stride.
    """
    k = draw(st.integers(1, max_size))
    s = k if stride_is_size else draw(st.integers(1, max_stride))
    h, w = draw(st.integers(k, k + 4)), draw(st.integers(k, k + 4))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    return dict(x=draw(arrays((n, c, h, w))), size=k, stride=s)


@st.composite
def rnn_cases(draw, max_batch=2, max_steps=4, max_features=3, max_hidden=3):
    """A vanilla RNN in CS231n's layout: ``x`` (N, T, D), ``h0`` (N, H), ``Wx`` (D, H),
    ``Wh`` (H, H), ``b`` (H,)."""
    n, t = draw(st.integers(1, max_batch)), draw(st.integers(1, max_steps))
    d, h = draw(st.integers(1, max_features)), draw(st.integers(1, max_hidden))
    return dict(x=draw(arrays((n, t, d))), h0=draw(arrays((n, h))),
                Wx=draw(arrays((d, h), WEIGHTS)), Wh=draw(arrays((h, h), WEIGHTS)),
                b=draw(arrays((h,), WEIGHTS)))
