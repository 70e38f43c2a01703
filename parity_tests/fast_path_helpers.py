"""Helpers for proving a fast path of :mod:`scratch.backends.fast` equal to its plain path:
run a call with the switch off, draw special values into an array, compare within a
stated bound."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from parity_tests.helpers import assert_close, tolerance
from scratch.backends import fast

SPECIALS = st.sampled_from([np.nan, np.inf, -np.inf, -0.0, 0.0])


def plain(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with the fast paths off."""
    with fast.flags(enabled=False):
        return fn(*args, **kwargs)


def with_specials(data, x, values=SPECIALS, max_size=4):
    """A copy of ``x`` with up to ``max_size`` drawn elements set to drawn special values."""
    x = np.array(x, copy=True)
    for index, value in data.draw(st.lists(st.tuples(st.integers(0, 10**6), values),
                                           max_size=max_size), label="specials"):
        if x.size:
            x.flat[index % x.size] = value
    return x


def assert_bitwise_equal(actual, expected, name):
    """The same dtype, shape and bytes (NaN payloads and the sign of zero count)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape, name
    if actual.tobytes() != expected.tobytes():
        differ = np.flatnonzero(actual.ravel() != expected.ravel())
        raise AssertionError(f"{name}: not bit for bit at {differ[:4]} of {actual.size}: "
                             f"{actual.ravel()[differ[:4]]} vs {expected.ravel()[differ[:4]]}")


def assert_within_twice_the_budget(actual, expected, dtype, k, name):
    """Each path within the suite's budget ``tolerance(dtype, k)`` of the exact value, so
    the two within twice it of each other; non-finite values at the same places."""
    rtol, atol = tolerance(dtype, k)
    assert_close(actual, expected, 2 * rtol, 2 * atol, f"{name} (fast path vs plain path)",
                 equal_nan=True)


def assert_fast_backward_of_another_dout_dtype_is_plain(forward, backward, fast_cache, x,
                                                         args, dout):
    """A ``dout`` whose dtype is not the forward's (a normalization layer's): each of
    ``(dx, dweight, dbias)`` has the plain path's dtype and, within twice the float32
    budget for 60 terms, its value."""
    _, cache = forward(x, *args)
    _, p_cache = plain(forward, x, *args)
    assert isinstance(cache, fast_cache)
    for name, a, e in zip(("dx", "dw", "db"), backward(dout, cache),
                          plain(backward, dout, p_cache)):
        assert a.dtype == e.dtype, name
        assert_within_twice_the_budget(a, e, np.float32, 60, name)
