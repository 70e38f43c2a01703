"""Special cases of torch's sliding-window geometry along one axis, each aimed at on
purpose: a corner is drawn first, then geometry and an input size that realise it. The
tests record which corners occurred with ``hypothesis.event()``."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from parity_tests.strategies.cases import PoolCase
from parity_tests.strategies.values import SEEDS, array

WINDOW_CORNERS = ("plain", "one_output", "overhang", "ceil_dropped", "stride_over_kernel",
                  "full_padding")


def axis_corners(size, k, s, p, d, ceil_mode):
    """The corner cases a valid one-axis geometry realises (a set of WINDOW_CORNERS names)."""
    span = d * (k - 1) + 1
    total = size + 2 * p - span
    floor_out = total // s + 1
    ceil_out = -(-total // s) + 1
    found = set()
    out = ceil_out if ceil_mode else floor_out
    if ceil_mode and (ceil_out - 1) * s >= size + p:
        found.add("ceil_dropped")
        out -= 1
    if ceil_mode and (out - 1) * s + span > size + 2 * p:
        found.add("overhang")
    if out == 1:
        found.add("one_output")
    if s > span:
        found.add("stride_over_kernel")
    if p and p == k // 2:
        found.add("full_padding")
    return found


def _all_padding_window(size, k, s, p, d, ceil_mode):
    """Whether some window reads only padding (torch: -inf for max pooling)."""
    span = d * (k - 1) + 1
    total = size + 2 * p - span
    out = (-(-total // s) if ceil_mode else total // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    index = np.arange(out)[:, None] * s + np.arange(k) * d - p
    return not ((index >= 0) & (index < size)).any(axis=1).all()


@st.composite
def window_corner(draw, pool=True, max_dilation=2, ceil_mode=None, allow_all_padding=None,
                  stride_is_kernel=False):
    """``(size, k, s, p, d, ceil_mode, corners)`` for one axis, aimed at a drawn corner.

    A corner is drawn first (each equally likely), then geometry that allows it,
    then an input size among those that realise it (computed, never rejected).
    ``corners`` is the set :func:`axis_corners` finds in the result. Windows lying
    entirely in the padding are avoided for pooling (scratch refuses them) unless
    ``allow_all_padding``; a convolution may have them (its output there is the bias).
    ``stride_is_kernel`` gives pooling's default stride (``stride=None``).
    """
    if allow_all_padding is None:
        allow_all_padding = not pool
    corners = WINDOW_CORNERS[1:] + (("all_padding",) if allow_all_padding and pool
                                    and max_dilation > 1 else ())
    want = draw(st.sampled_from(corners))
    ceil_corner = want in ("overhang", "ceil_dropped")
    k = draw(st.integers(2 if ceil_corner or want == "all_padding" else 1, 3))
    d = 2 if want == "all_padding" else draw(st.integers(1, max_dilation))
    span = d * (k - 1) + 1
    if stride_is_kernel:
        s = k
    elif want == "stride_over_kernel":
        s = draw(st.integers(span + 1, span + 2))
    else:
        s = draw(st.integers(2 if ceil_corner else 1, 3))
    max_p = k // 2 if pool else 2
    p = max_p if want in ("full_padding", "all_padding") else draw(st.integers(0, max_p))
    if ceil_mode is None:
        ceil_mode = True if ceil_corner else draw(st.booleans())
    smallest = max(1, span - 2 * p)
    sizes = [n for n in range(smallest, smallest + 2 * s + 4)
             if allow_all_padding or not _all_padding_window(n, k, s, p, d, ceil_mode)]
    hits = [n for n in sizes if want in axis_corners(n, k, s, p, d, ceil_mode)
            or want == "all_padding" and _all_padding_window(n, k, s, p, d, ceil_mode)]
    size = draw(st.sampled_from(hits or sizes))
    return size, k, s, p, d, ceil_mode, axis_corners(size, k, s, p, d, ceil_mode)


@st.composite
def corner_pool_cases(draw, max_dilation=2):
    """A PoolCase whose height axis aims at a drawn corner (width: another drawn corner);
    ``case.corners`` names those realised on either axis."""
    h, kh, sh, ph, dh, ceil_mode, c1 = draw(window_corner(max_dilation=max_dilation))
    w, kw, sw, pw, dw, _, c2 = draw(window_corner(max_dilation=max_dilation,
                                                  ceil_mode=ceil_mode))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    case = PoolCase(kernel_size=(kh, kw), stride=(sh, sw), padding=(ph, pw),
                    dilation=(dh, dw), ceil_mode=ceil_mode, x=draw(array((n, c, h, w))),
                    seed=draw(SEEDS))
    case.corners = c1 | c2
    return case
