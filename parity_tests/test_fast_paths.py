"""The fast paths (scratch.parallel, stride-1 conv, 2x2 max pool, ReLU, ReLU run after
a max pool) against torch.

The general parity tests draw every geometry, so they rarely land on the
common ones that have fast paths (a 2x2 stride-2 pool in about 1 draw of
1300), and they run with one thread. Here the fast paths are drawn on purpose,
with one thread and with the batch split over two (every batch split, however
small: ``MIN_ELEMENTS``, ``MIN_MACS`` and ``MIN_TASK_MACS`` are set to 0; Linear's
own tests keep each product whole so that its two backward products run at once).
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
from parity_tests import test_activation, test_linear, test_model
from parity_tests.helpers import assert_parity, dtypes, torch_run, upstream
from scratch import functional as F
from scratch import nn, parallel
from scratch.functional.conv import _Stride1Cache
from scratch.functional.pooling import _Pool2x2Cache
from scratch.nn.container import run_order


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
def two_threads(monkeypatch):
    """For what the rest of the suite already checks with one thread."""
    before = _use_threads(2, monkeypatch)
    yield 2
    _restore(before)


@pytest.fixture
def products_at_once(monkeypatch):
    """Two threads, independent products run at once instead of each split."""
    before = _use_threads(2, monkeypatch, min_macs=2**62)
    yield 2
    _restore(before)


@dtypes
def test_stride1_conv2d_matches_torch(threads, dtype):
    @given(case=S.conv_cases(max_groups=3), n=st.integers(1, 5))
    def check(case, n):
        x = np.concatenate([case.x] * n).astype(dtype)              # batches of 1 to 10
        w = case.w.astype(dtype)
        b = None if case.b is None else case.b.astype(dtype)
        out, cache = F.conv2d_forward(x, w, b, 1, case.padding, case.dilation, case.groups)
        assert isinstance(cache, _Stride1Cache)
        dout = upstream(case.seed, out.shape, dtype)
        dx, dw, db = F.conv2d_backward(dout, cache)
        t_out, g = torch_run(TF.conv2d, dict(input=x, weight=w, bias=b), dout, dtype,
                             padding=case.padding, dilation=case.dilation, groups=case.groups)
        f, c, kh, kw = w.shape
        k = x.shape[0] * out.shape[2] * out.shape[3]
        assert_parity(dict(out=out, dx=dx, dw=dw, db=db),
                      dict(out=t_out, dx=g["input"], dw=g["weight"], db=g["bias"]), dtype,
                      reductions=dict(out=c * kh * kw, dx=f * kh * kw, dw=k, db=k))
    check()


def test_stride1_conv2d_weight_gradient_ignores_inputs_read_only_past_a_row():
    """The flattened planes also read, past each output row, elements no window reads;
    their zero gradient must not turn an infinite input into NaN there (inf * 0)."""
    x = np.arange(2 * 1 * 4 * 5, dtype=np.float64).reshape(2, 1, 4, 5) / 10
    x[0, 0, 1, 4] = np.inf                 # last column: wrapped onto by the next row
    w = np.full((2, 1, 2, 2), 0.5)
    out, cache = F.conv2d_forward(x, w, None, 1, 0)
    dout = upstream(0, out.shape, np.float64)
    dw = F.conv2d_backward(dout, cache)[1]
    t_out, g = torch_run(TF.conv2d, dict(input=x, weight=w), dout, np.float64)
    np.testing.assert_allclose(dw, g["weight"].numpy(), rtol=1e-12, equal_nan=True)


@st.composite
def pool2x2_inputs(draw):
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    h, w = draw(st.integers(2, 7)), draw(st.integers(2, 7))
    return draw(S.array((n, c, h, w))), draw(S.SEEDS)


@dtypes
def test_max_pool2x2_matches_torch(threads, dtype):
    @given(case=pool2x2_inputs(), ceil_mode=st.booleans())
    def check(case, ceil_mode):
        x = case[0].astype(dtype)
        if ceil_mode:                      # even sizes: ceil_mode then changes nothing
            x = x[..., :x.shape[2] // 2 * 2, :x.shape[3] // 2 * 2]
        out, cache = F.max_pool2d_forward(x, 2, 2, 0, 1, ceil_mode)
        assert isinstance(cache, _Pool2x2Cache)
        dout = upstream(case[1], out.shape, dtype)
        dx = F.max_pool2d_backward(dout, cache)
        t_out, g = torch_run(TF.max_pool2d, dict(input=x), dout, dtype, kernel_size=2,
                             ceil_mode=ceil_mode)
        assert_parity(dict(out=out, dx=dx), dict(out=t_out, dx=g["input"]), dtype)
    check()


def test_max_pool2x2_with_nan_drops_that_window_gradient_as_the_general_path(threads):
    x = np.arange(4 * 2 * 4 * 6, dtype=np.float64).reshape(4, 2, 4, 6) % 5
    x[3, 1, 2, 3] = np.nan
    out, cache = F.max_pool2d_forward(x, 2)
    assert not isinstance(cache, _Pool2x2Cache)
    dout = upstream(1, out.shape, np.float64)
    dx = F.max_pool2d_backward(dout, cache)
    t_out, g = torch_run(TF.max_pool2d, dict(input=x), dout, np.float64, kernel_size=2)
    np.testing.assert_array_equal(out, t_out.detach().numpy())
    expected = g["input"].numpy().copy()
    expected[3, 1, 2:4, 2:4] = 0           # the documented deviation: dropped, not routed
    np.testing.assert_array_equal(dx, expected)


@dtypes
def test_relu_matches_torch_with_the_batch_split(two_threads, dtype):
    test_activation.test_activation_matches_torch(name="relu", dtype=dtype)


@dtypes
def test_linear_matches_torch_with_its_two_products_at_once(products_at_once, dtype):
    test_linear.test_linear_matches_torch(dtype=dtype)


def test_linear_weight_gradient_alone_equals_the_one_computed_beside_dx(products_at_once):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((5, 7)), rng.standard_normal((3, 7))
    out, cache = F.linear_forward(x, w)
    dout = upstream(0, out.shape, np.float64)
    dx, dw, _ = F.linear_backward(dout, cache)
    none, dw_alone, _ = F.linear_backward(dout, cache, input_grad=False)
    assert none is None and dx.shape == x.shape
    np.testing.assert_array_equal(dw, dw_alone)


@dtypes
def test_mnist_model_matches_torch_with_the_batch_split(two_threads, dtype):
    test_model.test_mnist_model_logits_loss_and_gradients_match_torch(dtype=dtype)


def test_same_thread_count_gives_bit_identical_gradients(threads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 3, 9, 9))
    w = rng.standard_normal((4, 3, 3, 3))
    results = []
    for _ in range(2):
        out, cache = F.conv2d_forward(x, w, None, 1, 1)
        results.append((out, *F.conv2d_backward(out, cache)[:2]))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


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



def _relu_pool(case, return_indices=False):
    pool = nn.MaxPool2d(case.kernel_size, case.stride, case.padding, case.dilation,
                        return_indices, case.ceil_mode)
    return nn.ReLU(), pool


SPECIAL_VALUES = st.sampled_from([np.inf, -np.inf, -0.0, 0.0])


@dtypes
def test_relu_before_max_pool_runs_after_it_with_the_same_numbers(threads, dtype):
    """Sequential runs ReLU -> MaxPool2d as MaxPool2d -> ReLU: the output and input
    gradient must equal those of the layers run in the written order (as numbers:
    ties, zeros, -0.0, infinities and all-negative windows included), and torch's;
    with a second max pool after the first, unbatched input too."""
    @given(case=S.pool_cases(), second_pool=st.booleans(), unbatched=st.booleans(),
           specials=st.lists(st.tuples(st.integers(0, 10**6), SPECIAL_VALUES), max_size=4))
    def check(case, second_pool, unbatched, specials):
        x = case.x.astype(dtype)
        for index, value in specials:
            x.flat[index % x.size] = value
        x = x[0] if unbatched else x
        relu, pool = _relu_pool(case)
        layers = {"relu": relu, "pool": pool}
        if second_pool:                                # ReLU moves past both pools
            layers["pool2"] = nn.MaxPool2d(2, 1, 1)
        seq = nn.Sequential(layers)
        expected_order = ["pool", "pool2", "relu"] if second_pool else ["pool", "relu"]
        assert [name for name, _ in run_order(seq.layers)] == expected_order
        out = seq.forward(x)
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


def test_errors_after_the_reordering_name_the_layer_they_named_before():
    """A wrong ``dout``, or a second backward, is blamed on the last layer as written
    (the pool), not on the ReLU that ran last."""
    seq = nn.Sequential({"relu": nn.ReLU(), "pool": nn.MaxPool2d(2)})
    out = seq.forward(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"layer 'pool' \(MaxPool2d\).*shape \(1, 1, 2, 2\)"):
        seq.backward(np.ones((1, 1, 4, 4)))
    seq.backward(np.ones_like(out))                  # the caches survived the refusal
    with pytest.raises(RuntimeError, match=r"layer 'pool' \(MaxPool2d\).*before forward"):
        seq.backward(np.ones_like(out))


def test_relu_stays_before_a_pool_that_returns_indices_or_is_not_a_max_pool():
    """Indices of an all-negative window differ between the two orders (ties at 0 after
    ReLU), and ReLU does not commute with an average; neither is reordered."""
    case = S.PoolCase((2, 2), (2, 2), (0, 0), (1, 1), False, None, 0)
    relu, pool = _relu_pool(case, return_indices=True)
    assert [n for n, _ in run_order({"relu": relu, "pool": pool})] == ["relu", "pool"]
    relu, avg = nn.ReLU(), nn.AvgPool2d(2)
    assert [n for n, _ in run_order({"relu": relu, "pool": avg})] == ["relu", "pool"]
    leaky, (_, pool) = nn.LeakyReLU(), _relu_pool(case)
    assert [n for n, _ in run_order({"act": leaky, "pool": pool})] == ["act", "pool"]
