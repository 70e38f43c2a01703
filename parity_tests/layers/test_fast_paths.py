"""Each fast path of :mod:`scratch.backends.fast` equals the plain path it stands in for,
and torch.

Every test here turns the fast paths on (whatever ``SCRATCH_FAST_PATHS`` says), runs
a fast path, runs the plain path on the same input with the switch off, and
compares. The general parity tests draw every geometry, so they rarely land on
the common ones that have fast paths (a 2x2 stride-2 pool in about 1 draw of
1300), and they run with one thread. Here the fast paths are drawn on purpose,
with one thread and with the batch split over two (every batch split, however
small: ``MIN_ELEMENTS``, ``MIN_MACS`` and ``MIN_TASK_MACS`` are set to 0).

How equal:

- ReLU: the same element-wise operations into preallocated chunks: bit for bit
  (the bytes are compared, so NaN payloads and the sign of zero count).
- 2x2 max pool: the same comparisons, so the same output and gradient as numbers
  (``assert_array_equal``: infinities, NaN positions and ties included); bit for
  bit but for the sign of a zero maximum, since ``np.maximum(-0.0, 0.0)`` returns
  its second argument and the two paths take the maxima in a different order.
- Stride-1 conv and Linear split over threads: the same products, summed in
  another grouping (the bias inside the product, per-chunk weight gradients
  added in chunk order; BLAS picks its kernels by matrix size, so a split
  product's rows round differently). Each path is within the suite's budget
  ``tolerance(dtype, K)`` of the exact value (parity_tests/helpers.py: ``K``
  the longest sum behind the tensor), so the two are within twice that of each
  other; non-finite values must sit at the same places.
- ReLU run after the max pool (``Sequential.relu_after_max_pool``): the same
  numbers as the written order; a zero gradient may differ in sign.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import (
    assert_close,
    assert_pair_matches_torch,
    assert_parity,
    dtypes,
    tolerance,
    torch_run,
    upstream,
)
from scratch import arch as A
from scratch import functional as F
from scratch import model as scratch_model
from scratch import nn, parallel
from scratch.backends import fast
from scratch.backends.fast import conv as fast_conv
from scratch.backends.fast import pooling as fast_pooling
from scratch.functional.conv import Conv2dCache
from scratch.functional.pooling import MaxPool2dCache
from scratch.nn.container import run_order


@pytest.fixture(autouse=True)
def fast_on():
    """The fast paths on for every test here, also in a run with SCRATCH_FAST_PATHS=0."""
    with fast.flags(enabled=True):
        yield


def _use_threads(n, monkeypatch, min_macs=0):
    before = parallel.get_num_threads()
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(parallel, "MIN_MACS", min_macs)
    monkeypatch.setattr(parallel, "MIN_TASK_MACS", 0)
    parallel.set_num_threads(n)
    return before


def _restore(before):
    """Back to the thread count and BLAS setting the rest of the suite runs with (a run
    resumed in this process must round as the one started in a fresh process did)."""
    parallel.set_num_threads(before)
    parallel.restore_blas_threads()


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request, monkeypatch):
    before = _use_threads(request.param, monkeypatch)
    yield request.param
    _restore(before)


@pytest.fixture
def products_at_once(monkeypatch):
    """Two threads, independent products run at once instead of each split."""
    before = _use_threads(2, monkeypatch, min_macs=2**62)
    yield 2
    _restore(before)


def plain(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with the fast paths off."""
    with fast.flags(enabled=False):
        return fn(*args, **kwargs)


SPECIALS = st.sampled_from([np.nan, np.inf, -np.inf, -0.0, 0.0])


def with_specials(data, x, values=SPECIALS, max_size=4):
    """A copy of ``x`` with up to ``max_size`` drawn elements set to drawn special values."""
    x = x.copy()
    for index, value in data.draw(st.lists(st.tuples(st.integers(0, 10**6), values),
                                           max_size=max_size), label="specials"):
        if x.size:
            x.flat[index % x.size] = value
    return x


def assert_bitwise_equal(actual, expected, name):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape, name
    if actual.tobytes() != expected.tobytes():
        differ = np.flatnonzero(actual.view(np.uint8) != expected.view(np.uint8))
        raise AssertionError(f"{name}: not bit for bit; first differing byte {differ[0]} "
                             f"of {actual.nbytes}: {actual.ravel()[:8]} vs {expected.ravel()[:8]}")


def assert_within_twice_the_budget(actual, expected, dtype, k, name):
    rtol, atol = tolerance(dtype, k)
    assert_close(actual, expected, 2 * rtol, 2 * atol, f"{name} (fast path vs plain path)",
                 equal_nan=True)


# --------------------------------------------------------------------------- stride-1 conv
@dtypes
def test_stride1_conv2d_fast_path_matches_the_plain_path(threads, dtype):
    """Through the functional pair, inputs and weights with NaN, infinities and signed
    zeros drawn in: same non-finite places, finite values within twice the budget."""
    @given(case=S.conv_cases(max_groups=3), n=st.integers(1, 5), data=st.data())
    def check(case, n, data):
        x = with_specials(data, np.concatenate([case.x] * n).astype(dtype))
        w = with_specials(data, case.w.astype(dtype), max_size=2)
        b = None if case.b is None else case.b.astype(dtype)
        args = (x, w, b, 1, case.padding, case.dilation, case.groups)
        with np.errstate(invalid="ignore", over="ignore"):
            out, cache = F.conv2d_forward(*args)
            p_out, p_cache = plain(F.conv2d_forward, *args)
            assert isinstance(cache, fast_conv.Stride1Cache)
            assert isinstance(p_cache, Conv2dCache)
            dout = upstream(case.seed, out.shape, dtype)
            grads = F.conv2d_backward(dout, cache)
            p_grads = plain(F.conv2d_backward, dout, p_cache)
        f, c, kh, kw = w.shape
        k = x.shape[0] * out.shape[2] * out.shape[3]
        for name, a, e, size in zip(("out", "dx", "dw", "db"), (out, *grads),
                                    (p_out, *p_grads), (c * kh * kw, f * kh * kw, k, k)):
            assert (a is None) == (e is None), name
            if a is not None:
                assert a.dtype == np.dtype(dtype), name
                assert_within_twice_the_budget(a, e, dtype, size, name)
    check()


@dtypes
def test_stride1_conv2d_fast_path_matches_torch(threads, dtype):
    @given(case=S.conv_cases(max_groups=3), n=st.integers(1, 5))
    def check(case, n):
        x = np.concatenate([case.x] * n).astype(dtype)              # batches of 1 to 10
        w = case.w.astype(dtype)
        b = None if case.b is None else case.b.astype(dtype)
        geometry = (1, case.padding, case.dilation, case.groups)
        f, c, kh, kw = w.shape
        k = lambda out: x.shape[0] * out.shape[2] * out.shape[3]  # noqa: E731
        _, cache = assert_pair_matches_torch(
            lambda x, w, b: F.conv2d_forward(x, w, b, *geometry), F.conv2d_backward,
            lambda x, w, b: TF.conv2d(x, w, b, *geometry), dict(x=x, w=w, b=b), dtype,
            case.seed, lambda out: dict(out=c * kh * kw, dx=f * kh * kw, dw=k(out), db=k(out)))
        assert isinstance(cache, fast_conv.Stride1Cache)
    check()


@pytest.mark.parametrize("where", ["input", "weight"])
def test_stride1_conv2d_gradients_stay_finite_past_each_row_with_an_infinity(where):
    """The flattened planes also compute, past each output row, positions no window
    has; their zero gradient must not turn an infinite input (weight gradient) or an
    infinite weight (input gradient) into NaN there, as inf * 0 would."""
    x = np.arange(2 * 1 * 4 * 5, dtype=np.float64).reshape(2, 1, 4, 5) / 10
    w = np.full((2, 1, 2, 2), 0.5)
    if where == "input":
        x[0, 0, 1, 4] = np.inf             # last column: wrapped onto by the next row
    else:
        w[0, 0, 0, 0] = np.inf
    with np.errstate(invalid="ignore"):
        out, cache = F.conv2d_forward(x, w, None, 1, 0)
        assert isinstance(cache, fast_conv.Stride1Cache)
        dout = upstream(0, out.shape, np.float64)
        dx, dw, _ = F.conv2d_backward(dout, cache)
    _, g = torch_run(TF.conv2d, dict(input=x, weight=w), dout, np.float64)
    assert_close(dw, g["weight"], 1e-12, name="dw", equal_nan=True)
    assert_close(dx, g["input"], 1e-12, name="dx", equal_nan=True)


def test_same_thread_count_gives_bit_identical_gradients(threads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 3, 9, 9))
    w = rng.standard_normal((4, 3, 3, 3))
    results = []
    for _ in range(2):
        out, cache = F.conv2d_forward(x, w, None, 1, 1)
        results.append((out, *F.conv2d_backward(out, cache)[:2]))
    for a, b in zip(*results):
        assert_bitwise_equal(a, b, "repeat")


# --------------------------------------------------------------------------- 2x2 max pool
@st.composite
def pool2x2_inputs(draw):
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    h, w = draw(st.integers(2, 7)), draw(st.integers(2, 7))
    return draw(S.array((n, c, h, w))), draw(S.SEEDS)


@dtypes
def test_max_pool2x2_fast_path_equals_the_plain_path(threads, dtype):
    """Ties (the strategy draws repeated values), infinities, signed zeros and NaN
    (which hands the call back to the plain path); batched and unbatched through the
    module."""
    @given(case=pool2x2_inputs(), unbatched=st.booleans(), data=st.data())
    def check(case, unbatched, data):
        x = with_specials(data, case[0].astype(dtype))
        x = x[0] if unbatched else x
        out, cache = F.max_pool2d_forward(x, 2)
        p_out, p_cache = plain(F.max_pool2d_forward, x, 2)
        took_fast = not unbatched and not np.isnan(p_out).any()
        assert isinstance(cache, fast_pooling.Pool2x2Cache) == took_fast
        assert isinstance(p_cache, MaxPool2dCache)
        dout = upstream(case[1], out.shape, dtype)
        np.testing.assert_array_equal(out, p_out)
        np.testing.assert_array_equal(F.max_pool2d_backward(dout, cache),
                                      plain(F.max_pool2d_backward, dout, p_cache))
        layer = nn.MaxPool2d(2)
        m_out, m_dx = layer.forward(x), layer.backward(dout)
        p_layer = nn.MaxPool2d(2)
        np.testing.assert_array_equal(m_out, plain(p_layer.forward, x))
        np.testing.assert_array_equal(m_dx, plain(p_layer.backward, dout))
    check()


@dtypes
def test_max_pool2x2_fast_path_matches_torch(threads, dtype):
    @given(case=pool2x2_inputs(), ceil_mode=st.booleans())
    def check(case, ceil_mode):
        x = case[0].astype(dtype)
        if ceil_mode:                      # even sizes: ceil_mode then changes nothing
            x = x[..., :x.shape[2] // 2 * 2, :x.shape[3] // 2 * 2]
        _, cache = assert_pair_matches_torch(
            lambda x: F.max_pool2d_forward(x, 2, 2, 0, 1, ceil_mode), F.max_pool2d_backward,
            lambda x: TF.max_pool2d(x, 2, ceil_mode=ceil_mode), dict(x=x), dtype, case[1])
        assert isinstance(cache, fast_pooling.Pool2x2Cache)
    check()


def test_max_pool2x2_with_nan_drops_that_window_gradient_as_the_plain_path(threads):
    x = np.arange(4 * 2 * 4 * 6, dtype=np.float64).reshape(4, 2, 4, 6) % 5
    x[3, 1, 2, 3] = np.nan
    out, cache = F.max_pool2d_forward(x, 2)
    assert isinstance(cache, MaxPool2dCache)
    dout = upstream(1, out.shape, np.float64)
    dx = F.max_pool2d_backward(dout, cache)
    t_out, g = torch_run(TF.max_pool2d, dict(input=x), dout, np.float64, kernel_size=2)
    np.testing.assert_array_equal(out, t_out.detach().numpy())
    expected = g["input"].numpy().copy()
    expected[3, 1, 2:4, 2:4] = 0           # the documented deviation: dropped, not routed
    np.testing.assert_array_equal(dx, expected)


# --------------------------------------------------------------------------- ReLU
@dtypes
def test_relu_fast_path_equals_the_plain_path_bit_for_bit(threads, dtype):
    """C-contiguous inputs take the fast path; NaN, infinities and signed zeros drawn in;
    an unbatched (C, H, W) input is just another contiguous array."""
    @given(case=S.pointwise_inputs(), unbatched=st.booleans(), data=st.data())
    def check(case, unbatched, data):
        x = with_specials(data, case[0].astype(dtype))
        x = np.ascontiguousarray(x[0]) if unbatched else x
        out, mask = F.relu_forward(x)
        p_out, p_mask = plain(F.relu_forward, x)
        assert_bitwise_equal(out, p_out, "out")
        assert_bitwise_equal(mask, p_mask, "mask")
        dout = with_specials(data, upstream(case[1], x.shape, dtype))
        assert_bitwise_equal(F.relu_backward(dout, mask),
                             plain(F.relu_backward, dout, p_mask), "dx")
    check()


@dtypes
def test_relu_fast_path_matches_torch(threads, dtype):
    @given(case=S.pointwise_inputs())
    def check(case):
        assert_pair_matches_torch(F.relu_forward, F.relu_backward, TF.relu,
                                  dict(x=case[0].astype(dtype)), dtype, case[1])
    check()


# --------------------------------------------------------------------------- Linear
@pytest.mark.parametrize("split", ["each-product-split", "products-at-once"])
@dtypes
def test_linear_fast_path_matches_the_plain_path(split, dtype, monkeypatch):
    """Two threads, each product split by rows or the two backward products at once."""
    before = _use_threads(2, monkeypatch, min_macs=0 if split == "each-product-split" else 2**62)
    try:
        @given(case=S.linear_cases(max_lead_dims=3), input_grad=st.booleans(), data=st.data())
        def check(case, input_grad, data):
            x, w, b, seed = case
            x = with_specials(data, x.astype(dtype))
            w, b = w.astype(dtype), None if b is None else b.astype(dtype)
            with np.errstate(invalid="ignore"):
                out, cache = F.linear_forward(x, w, b)
                p_out, p_cache = plain(F.linear_forward, x, w, b)
                dout = upstream(seed, out.shape, dtype)
                grads = F.linear_backward(dout, cache, input_grad)
                p_grads = plain(F.linear_backward, dout, p_cache, input_grad)
            rows = dout.size // w.shape[0]
            for name, a, e, k in zip(("out", "dx", "dw", "db"), (out, *grads),
                                     (p_out, *p_grads), (w.shape[1], w.shape[0], rows, rows)):
                assert (a is None) == (e is None), name
                if a is not None:
                    assert a.dtype == np.dtype(dtype), name
                    assert_within_twice_the_budget(a, e, dtype, k, name)
        check()
    finally:
        _restore(before)


@dtypes
def test_linear_fast_path_matches_torch(products_at_once, dtype):
    @given(case=S.linear_cases(max_lead_dims=3))
    def check(case):
        x, w, b, seed = case
        x, w = x.astype(dtype), w.astype(dtype)
        b = None if b is None else b.astype(dtype)
        rows = x.size // x.shape[-1]
        assert_pair_matches_torch(F.linear_forward, F.linear_backward, TF.linear,
                                  dict(x=x, w=w, b=b), dtype, seed,
                                  dict(out=w.shape[1], dx=w.shape[0], dw=rows, db=rows))
    check()


def test_linear_weight_gradient_alone_equals_the_one_computed_beside_dx(products_at_once):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((5, 7)), rng.standard_normal((3, 7))
    out, cache = F.linear_forward(x, w)
    dout = upstream(0, out.shape, np.float64)
    dx, dw, _ = F.linear_backward(dout, cache)
    none, dw_alone, _ = F.linear_backward(dout, cache, input_grad=False)
    assert none is None and dx.shape == x.shape
    assert_bitwise_equal(dw, dw_alone, "dw")


# --------------------------------------------------------------------------- whole model
@dtypes
def test_built_model_fast_equals_plain_with_the_batch_split(threads, dtype):
    """The MNIST network as built (ReLU after each max pool, stride-1 convs, 2x2 pools,
    ReLU and Linear split over threads) against the same network on the plain paths:
    logits, input gradient and every parameter gradient."""
    arch = A.mnist_cnn(channels=(4, 8), hidden=16)
    model, p_model = (scratch_model.build(arch, seed=3, dtype=dtype) for _ in range(2))
    x = np.random.default_rng(3).standard_normal((5, *arch.input_shape)).astype(dtype)
    out = model.forward(x)
    p_out = plain(p_model.forward, x)
    dout = upstream(3, out.shape, dtype)
    dx, p_dx = model.backward(dout), plain(p_model.backward, dout)
    k = sum(max(p.data[0].size, 5 * 28 * 28) for p in model.parameters())   # generous
    assert_within_twice_the_budget(out, p_out, dtype, k, "logits")
    assert_within_twice_the_budget(dx, p_dx, dtype, k, "dx")
    for (name, p), (_, q) in zip(model.named_parameters(), p_model.named_parameters()):
        assert_within_twice_the_budget(p.grad, q.grad, dtype, k, name)


# --------------------------------------------------------------------------- ReLU after max pool
def _relu_pool(case, return_indices=False):
    pool = nn.MaxPool2d(case.kernel_size, case.stride, case.padding, case.dilation,
                        return_indices, case.ceil_mode)
    return nn.ReLU(), pool


@dtypes
def test_relu_before_max_pool_runs_after_it_with_the_same_numbers(threads, dtype):
    """With ``relu_after_max_pool`` Sequential runs ReLU -> MaxPool2d as MaxPool2d ->
    ReLU: the output and input gradient must equal those of the layers run in the
    written order (as numbers: ties, zeros, -0.0, infinities and all-negative windows
    included), and torch's; with a second max pool after the first, unbatched input too."""
    @given(case=S.pool_cases(), second_pool=st.booleans(), unbatched=st.booleans(),
           data=st.data())
    def check(case, second_pool, unbatched, data):
        x = with_specials(data, case.x.astype(dtype), st.sampled_from([np.inf, -np.inf,
                                                                       -0.0, 0.0]))
        x = x[0] if unbatched else x
        relu, pool = _relu_pool(case)
        layers = {"relu": relu, "pool": pool}
        if second_pool:                                # ReLU moves past both pools
            layers["pool2"] = nn.MaxPool2d(2, 1, 1)
        seq = nn.Sequential(layers)
        seq.relu_after_max_pool = True
        expected_order = ["pool", "pool2", "relu"] if second_pool else ["pool", "relu"]
        assert [name for name, _ in run_order(seq.layers, True)] == expected_order
        out = seq.forward(x)
        assert relu._cache.shape == out.shape          # the ReLU ran last, on the pooled map
        dout = upstream(case.seed, out.shape, dtype)
        dx = seq.backward(dout)
        written, dx_written = x, dout
        in_order = [*_relu_pool(case)] + (
            [nn.MaxPool2d(2, 1, 1)] if second_pool else [])
        for layer in in_order:
            written = layer.forward(written)
        for layer in reversed(in_order):
            dx_written = layer.backward(dx_written)
        np.testing.assert_array_equal(out, written)
        np.testing.assert_array_equal(dx, dx_written)
        t_x = torch.tensor(x, requires_grad=True)
        t_out = TF.max_pool2d(torch.relu(t_x), case.kernel_size, case.stride, case.padding,
                              case.dilation, case.ceil_mode)
        if second_pool:
            t_out = TF.max_pool2d(t_out, 2, 1, 1)
        t_out.backward(torch.tensor(dout))
        assert_parity(dict(out=out, dx=dx), dict(out=t_out, dx=t_x.grad), dtype)
    check()


def test_a_sequential_runs_the_order_written_unless_it_opts_in():
    """No silent reordering: a Sequential a user writes runs ReLU first (its cache, the
    mask, has the input's shape); opted in, the ReLU runs on the pooled map."""
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    seq = nn.Sequential({"relu": nn.ReLU(), "pool": nn.MaxPool2d(2)})
    assert seq.relu_after_max_pool is False
    seq.forward(x)
    assert seq.relu._cache.shape == x.shape
    seq.relu_after_max_pool = True
    seq.forward(x)
    assert seq.relu._cache.shape == (2, 3, 3, 3)


def test_the_built_model_opts_in_and_its_relus_run_on_the_pooled_maps():
    model = scratch_model.build(A.mnist_cnn(channels=(4, 8), hidden=16), dtype=np.float64)
    assert model.relu_after_max_pool is True
    pairs = [(name, nxt) for (name, layer), (_, nxt) in zip(model.layers.items(),
                                                            list(model.layers.items())[1:])
             if type(layer) is nn.ReLU and type(nxt) is nn.MaxPool2d]
    assert pairs
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28))
    model.forward(x)
    for name, pool in pairs:
        assert model.layers[name]._cache.shape == pool._out[0]


def test_errors_after_the_reordering_name_the_layer_they_named_before():
    """A wrong ``dout``, or a second backward, is blamed on the last layer as written
    (the pool), not on the ReLU that ran last."""
    seq = nn.Sequential({"relu": nn.ReLU(), "pool": nn.MaxPool2d(2)})
    seq.relu_after_max_pool = True
    out = seq.forward(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"layer 'pool' \(MaxPool2d\).*shape \(1, 1, 2, 2\)"):
        seq.backward(np.ones((1, 1, 4, 4)))
    seq.backward(np.ones_like(out))                  # the caches survived the refusal
    with pytest.raises(RuntimeError, match=r"layer 'pool' \(MaxPool2d\).*second time after"):
        seq.backward(np.ones_like(out))


def test_relu_stays_before_a_pool_that_returns_indices_or_is_not_a_max_pool():
    """Indices of an all-negative window differ between the two orders (ties at 0 after
    ReLU), and ReLU does not commute with an average; neither is reordered."""
    case = S.PoolCase((2, 2), (2, 2), (0, 0), (1, 1), False, None, 0)
    relu, pool = _relu_pool(case, return_indices=True)
    assert [n for n, _ in run_order({"relu": relu, "pool": pool}, True)] == ["relu", "pool"]
    relu, avg = nn.ReLU(), nn.AvgPool2d(2)
    assert [n for n, _ in run_order({"relu": relu, "pool": avg}, True)] == ["relu", "pool"]
    leaky, (_, pool) = nn.LeakyReLU(), _relu_pool(case)
    assert [n for n, _ in run_order({"act": leaky, "pool": pool}, True)] == ["act", "pool"]
    relu, (_, pool) = nn.ReLU(), _relu_pool(case)
    assert [n for n, _ in run_order({"relu": relu, "pool": pool}, True)] == ["pool", "relu"]


# --------------------------------------------------------------------------- parallel
@given(n=st.integers(0, 50), parts=st.integers(1, 8))
def test_batch_chunks_cover_the_batch_in_order_and_nearly_evenly(n, parts):
    chunks = parallel.batch_chunks(n, parts)
    assert [i for c in chunks for i in range(n)[c]] == list(range(n))
    sizes = [c.stop - c.start for c in chunks]
    assert len(chunks) == max(1, min(parts, n)) and max(sizes) - min(sizes) <= 1


def test_run_waits_for_every_chunk_and_raises_the_first_error(threads):
    finished = []

    def chunk(sl):
        if sl.start == 0:
            raise ValueError("first chunk fails")
        threading.Event().wait(0.05)
        finished.append(sl)
        return sl

    with pytest.raises(ValueError, match="first chunk fails"):
        parallel.run(chunk, 4)
    assert len(finished) == threads - 1    # the other chunk had finished before the raise


def test_run_inside_a_chunk_runs_serially(threads):
    inner = parallel.run(lambda sl: parallel.run(lambda s: threading.get_ident(), 4), 4)
    assert all(len(set(ids)) == 1 for ids in inner)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_refuses_what_is_not_a_positive_whole_number(bad):
    with pytest.raises(ValueError, match="set_num_threads"):
        parallel.set_num_threads(bad)


def test_set_num_threads_runs_blas_single_threaded_until_restored():
    from threadpoolctl import threadpool_info
    blas_before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    before = parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        assert blas and all(n == 1 for n in blas)
    finally:
        _restore(before)
    assert [p["num_threads"] for p in threadpool_info()
            if p["user_api"] == "blas"] == blas_before
