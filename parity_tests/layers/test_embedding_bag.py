"""EmbeddingBag against torch: every mode (sum, mean, max), both input forms ((B, L) bags,
and a flat input cut by offsets, with or without the closing offset), empty bags and bags
of padding only (zeros), repeated indices (their gradients add up), max ties (the first
entry wins), per_sample_weights (sum mode, with their own gradient), padding_idx,
scale_grad_by_freq and max_norm's in-place renormalisation, float64 and float32; the
functional pair and the module; finite differences; repr, state_dict, initialisation and
refusals (the same error types as torch).

Tolerance: an output row sums at most a bag's entries (``K`` = the largest bag); a weight
gradient row sums as many rows of dout as its index occurs (``K`` = the largest count); a
per-sample weight's gradient is a dot product over ``embedding_dim`` terms; rows that
max_norm rescaled carry the rounding of a norm over ``embedding_dim`` terms."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given

from parity_tests import embedding_bag_strategies as E
from parity_tests.helpers import assert_parity, check, dtypes, spread, upstream
from parity_tests.sequence_helpers import torch_dtype
from scratch import functional as F
from scratch import nn

I = np.array  # noqa: E741

def budgets(case):
    """Reduction sizes: the largest bag, the largest index count, the row width."""
    sizes = (np.diff(np.append(case.offsets, case.input.size)) if case.input.ndim == 1
             else [case.input.shape[1]])
    bag = int(max(sizes, default=1)) or 1
    count = int(np.bincount(case.input.ravel()).max(initial=1)) if case.input.size else 1
    dim = case.weight.shape[1]
    renorm = dim if case.max_norm is not None else 1
    return dict(out=bag * renorm, weight=renorm, dweight=count * bag * renorm,
                dsamples=dim * renorm)


def clear_of_max_norm(case):
    """No used row's norm within 1e-4 (relative) of max_norm, and no max-mode bag whose
    columns the renormalisation could tie differently in float32."""
    if case.max_norm is None or not case.input.size:
        return True
    rows = case.weight[np.unique(case.input)]
    norms = np.linalg.norm(rows, ord=case.norm_type, axis=1)
    return bool(np.all(np.abs(norms - case.max_norm) > 1e-4 * case.max_norm)) and (
        case.mode != "max" or not np.any(norms > case.max_norm))


def torch_bag(case, weight, samples):
    """torch's F.embedding_bag on the case (weight and samples: leaf tensors or None)."""
    offsets = None if case.offsets is None else torch.from_numpy(case.offsets)
    return TF.embedding_bag(torch.from_numpy(case.input), weight, offsets, case.max_norm,
                            case.norm_type, case.scale_grad_by_freq, case.mode, False, samples,
                            case.include_last_offset, case.padding_idx)


def leaf(a, dtype):
    return None if a is None else torch.tensor(a.astype(dtype), requires_grad=True)


@dtypes
@given(case=E.bag_cases())
def test_embedding_bag_matches_torch(case, dtype):
    """The functional pair, every argument of F.embedding_bag but sparse; the weight is
    compared after forward too (max_norm rescales it in place)."""
    assume(dtype == np.float64 or clear_of_max_norm(case))
    num = len(case.weight)
    weight = case.weight.astype(dtype)
    samples = None if case.per_sample_weights is None else case.per_sample_weights.astype(dtype)
    pad = None if case.padding_idx is None else case.padding_idx % num
    out, cache = F.embedding_bag_forward(case.input, weight, case.offsets, case.max_norm,
                                         case.norm_type, case.scale_grad_by_freq, case.mode,
                                         samples, case.include_last_offset, pad)
    dout = upstream(case.seed, out.shape, dtype)
    dweight, dsamples = F.embedding_bag_backward(dout, cache)
    tw, ts = leaf(case.weight, dtype), leaf(case.per_sample_weights, dtype)
    t_out = torch_bag(case._replace(padding_idx=pad), tw, ts)
    t_out.backward(torch.from_numpy(dout))
    assert_parity(dict(out=out, weight=weight, dweight=dweight, dsamples=dsamples),
                  dict(out=t_out, weight=tw, dweight=tw.grad,
                       dsamples=None if ts is None else ts.grad), dtype, budgets(case))


@given(case=E.bag_cases(max_norms=(None,)))
def test_embedding_bag_backward_matches_finite_differences(case):
    """The true derivative in weight and per_sample_weights (scale_grad_by_freq
    deliberately changes the gradient, so it is checked against torch only). Max mode
    gets distinct weights 0.1 apart: no tie, no kink within a step."""
    assume(case.input.size)
    samples = case.per_sample_weights
    weight = spread(case.weight.shape, case.seed) if case.mode == "max" else case.weight
    pad = None if case.padding_idx is None else case.padding_idx % len(weight)

    def forward(weight, *samples):
        out, cache = F.embedding_bag_forward(case.input, weight, case.offsets, None, 2.0,
                                             False, case.mode, samples[0] if samples else None,
                                             case.include_last_offset, pad)
        return (out,), cache

    def backward(douts, cache):
        dweight, dsamples = F.embedding_bag_backward(douts[0], cache)
        return (dweight,) if dsamples is None else (dweight, dsamples)

    check(forward, backward, weight, *(() if samples is None else (samples,)))


@dtypes
@given(case=E.bag_cases())
def test_embedding_bag_module_matches_torch(case, dtype):
    """Every constructor argument in torch's positional order, forward(input, offsets,
    per_sample_weights), backward returning per_sample_weights' gradient; repr and the
    weight after forward as torch's."""
    assume(dtype == np.float64 or clear_of_max_norm(case))
    num, dim = case.weight.shape
    args = (num, dim, case.max_norm, case.norm_type, case.scale_grad_by_freq, case.mode, False,
            None, case.include_last_offset, case.padding_idx)
    layer = nn.EmbeddingBag(*args, dtype=dtype)
    twin = torch.nn.EmbeddingBag(*args, dtype=torch_dtype(dtype))
    assert repr(layer) == repr(twin)
    assert list(layer.state_dict()) == list(twin.state_dict())
    weight = case.weight.astype(dtype)
    layer.load_state_dict({"weight": weight})
    twin.load_state_dict({"weight": torch.from_numpy(weight.copy())})
    samples = None if case.per_sample_weights is None else case.per_sample_weights.astype(dtype)
    out = layer(case.input, case.offsets, samples)
    dout = upstream(case.seed, out.shape, dtype)
    dsamples = layer.backward(dout)
    ts = leaf(case.per_sample_weights, dtype)
    t_out = twin(torch.from_numpy(case.input),
                 None if case.offsets is None else torch.from_numpy(case.offsets), ts)
    t_out.backward(torch.from_numpy(dout))
    assert_parity(dict(out=out, weight=layer.weight.data, dweight=layer.weight.grad,
                       dsamples=dsamples),
                  dict(out=t_out, weight=twin.weight, dweight=twin.weight.grad,
                       dsamples=None if ts is None else ts.grad), dtype, budgets(case))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_empty_bags_and_bags_of_padding_give_zero_rows(mode):
    """Bags 0 and 2 are empty, bag 3 holds only the padding index: zero rows, as torch
    documents; bag 1 is the only one with a gradient."""
    weight = np.arange(1.0, 9.0).reshape(4, 2)
    layer = nn.EmbeddingBag(4, 2, mode=mode, padding_idx=0, _weight=weight.copy())
    out = layer(np.array([1, 3, 0, 0]), np.array([0, 0, 2, 2]))
    np.testing.assert_array_equal(out[[0, 2, 3]], 0)
    twin = torch.nn.EmbeddingBag(4, 2, mode=mode, padding_idx=0,
                                 _weight=torch.tensor(weight.copy()))
    t_out = twin(torch.tensor([1, 3, 0, 0]), torch.tensor([0, 0, 2, 2]))
    np.testing.assert_array_equal(out, t_out.detach().numpy())
    layer.backward(np.ones_like(out) * [[1.0, 2.0]])
    assert not layer.weight.grad[[0, 2]].any()


@pytest.mark.parametrize("offsets", [None, I([0, 2, 2])], ids=["2d", "offsets"])
def test_padding_entries_give_their_per_sample_weights_no_gradient(offsets):
    """Sum mode with per-sample weights on padding entries (index 0): those entries are
    left out of the sum, so their weights' gradient is 0, and every other weight's is its
    row dotted with its bag's dout, as torch."""
    rng = np.random.default_rng(5)
    weight = rng.standard_normal((4, 3))
    indices = I([[1, 0], [0, 3]]) if offsets is None else I([1, 0, 0, 3])
    samples = rng.standard_normal(indices.shape)
    layer = nn.EmbeddingBag(4, 3, mode="sum", padding_idx=0, _weight=weight.copy())
    out = layer(indices, offsets, samples)
    dout = upstream(6, out.shape, np.float64)
    dsamples = layer.backward(dout)
    tw, ts = torch.tensor(weight, requires_grad=True), torch.tensor(samples, requires_grad=True)
    t_out = TF.embedding_bag(torch.from_numpy(indices), tw,
                             None if offsets is None else torch.from_numpy(offsets),
                             mode="sum", per_sample_weights=ts, padding_idx=0)
    t_out.backward(torch.from_numpy(dout))
    assert not dsamples.ravel()[indices.ravel() == 0].any()
    assert_parity(dict(out=out, dweight=layer.weight.grad, dsamples=dsamples),
                  dict(out=t_out, dweight=tw.grad, dsamples=ts.grad), np.float64,
                  dict(out=2, dweight=2, dsamples=3))


def test_max_ties_send_the_gradient_to_the_first_entry():
    """Rows 1, 2 and 3 tie in column 0 (0.5): the bag's first entry, whichever row it is,
    gets that column's gradient, as torch's CPU kernel."""
    weight = np.array([[0.0, 0.0], [0.5, 1.0], [0.5, 2.0], [0.5, -1.0]])
    for order in ([1, 2, 3], [3, 2, 1]):
        layer = nn.EmbeddingBag(4, 2, mode="max", _weight=weight.copy())
        layer(np.array(order), np.array([0]))
        layer.backward(np.array([[1.0, 10.0]]))
        tw = torch.tensor(weight, requires_grad=True)
        TF.embedding_bag(torch.tensor(order), tw, torch.tensor([0]), mode="max").backward(
            torch.tensor([[1.0, 10.0]], dtype=torch.float64))
        np.testing.assert_array_equal(layer.weight.grad, tw.grad.numpy())
        assert layer.weight.grad[order[0], 0] == 1.0


def test_repeated_indices_add_their_gradients():
    layer = nn.EmbeddingBag(4, 2, mode="sum", dtype=np.float64)
    layer(np.array([[1, 3, 1], [1, 1, 0]]))
    layer.backward(np.array([[1.0, 2.0], [10.0, 20.0]]))
    np.testing.assert_array_equal(layer.weight.grad, [[10, 20], [1 + 1 + 10 + 10, 2 + 2 + 20
                                                                  + 20], [0, 0], [1, 2]])


def test_embedding_bag_initialisation_and_reset_follow_the_generator():
    """N(0, 1) with the padding row zeroed, as Embedding's; the same generator seed gives
    the same weight, in construction and in reset_parameters."""
    layer = nn.EmbeddingBag(500, 40, padding_idx=-1, generator=0, device="cpu")
    w = layer.weight.data.copy()
    assert w.dtype == np.float32 and layer.padding_idx == 499 and not w[499].any()
    rest = w[:499].astype(np.float64)
    assert abs(rest.mean()) < 5 / np.sqrt(rest.size)
    assert abs(rest.std() - 1) < 5 * np.sqrt(0.5 / rest.size)
    layer.reset_parameters(generator=0)
    np.testing.assert_array_equal(layer.weight.data, w)


def test_state_dict_and_repr_equal_torchs():
    for kwargs in (dict(), dict(mode="max", padding_idx=-2, max_norm=1.5, norm_type=1.0,
                                include_last_offset=True),
                   dict(mode="sum", scale_grad_by_freq=True)):
        mine, theirs = nn.EmbeddingBag(5, 3, **kwargs), torch.nn.EmbeddingBag(5, 3, **kwargs)
        assert repr(mine) == repr(theirs)
        assert [(k, v.shape) for k, v in mine.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


# (name, build(lib), call(layer, wrap), error type, scratch's words); wrap: array -> lib's
REFUSED_ALIKE = [
    ("3d input", lambda lib: lib.EmbeddingBag(5, 2), lambda m, w: m(w(I([[[0, 1]]]))),
     ValueError, "input has to be 1D or 2D"),
    ("1d without offsets", lambda lib: lib.EmbeddingBag(5, 2), lambda m, w: m(w(I([0, 1]))),
     ValueError, "offsets has to be a 1D Tensor but got None"),
    ("2d with offsets", lambda lib: lib.EmbeddingBag(5, 2),
     lambda m, w: m(w(I([[0, 1]])), w(I([0]))), ValueError, "if input is 2D, then offsets"),
    ("2-d offsets", lambda lib: lib.EmbeddingBag(5, 2),
     lambda m, w: m(w(I([0, 1])), w(I([[0]]))), ValueError, "offsets has to be a 1D Tensor"),
    ("first offset not 0", lambda lib: lib.EmbeddingBag(5, 2),
     lambda m, w: m(w(I([0, 1, 2])), w(I([1, 2]))), RuntimeError, r"offsets\[0\] has to be 0"),
    ("offset past the end", lambda lib: lib.EmbeddingBag(5, 2),
     lambda m, w: m(w(I([0, 1, 2])), w(I([0, 4]))), RuntimeError,
     r"offsets\[-1\] can not be greater than input's length 3"),
    ("no offsets with the closing one", lambda lib: lib.EmbeddingBag(5, 2,
                                                                     include_last_offset=True),
     lambda m, w: m(w(I([0, 1])), w(I([], np.int64))), RuntimeError,
     "number of offset should be at least 1"),
    ("index too large", lambda lib: lib.EmbeddingBag(5, 2),
     lambda m, w: m(w(I([0, 5])), w(I([0]))), RuntimeError, "found idx to be 5"),
    ("negative index", lambda lib: lib.EmbeddingBag(5, 2),
     lambda m, w: m(w(I([0, -1])), w(I([0]))), RuntimeError, "found idx to be -1"),
    ("float indices", lambda lib: lib.EmbeddingBag(5, 2),
     lambda m, w: m(w(I([0.0, 1.0])), w(I([0]))), (TypeError, RuntimeError), "Long, Int"),
    ("per_sample_weights in mean mode", lambda lib: lib.EmbeddingBag(5, 2),
     lambda m, w: m(w(I([0, 1])), w(I([0])), w(I([1.0, 2.0], np.float32))),
     NotImplementedError, "only supported for mode='sum'"),
    ("per_sample_weights of another shape", lambda lib: lib.EmbeddingBag(5, 2, mode="sum"),
     lambda m, w: m(w(I([0, 1])), w(I([0])), w(I([1.0, 2.0, 3.0], np.float32))),
     ValueError, "must have the same shape as the input"),
    ("per_sample_weights of another dtype", lambda lib: lib.EmbeddingBag(5, 2, mode="sum"),
     lambda m, w: m(w(I([0, 1])), w(I([0])), w(I([1.0, 2.0], np.float64))),
     RuntimeError, "dtype"),
    ("padding_idx too large", lambda lib: lib.EmbeddingBag(5, 2, padding_idx=5),
     lambda m, w: None, AssertionError, "^padding_idx must be within num_embeddings$"),
    ("padding_idx too small", lambda lib: lib.EmbeddingBag(5, 2, padding_idx=-6),
     lambda m, w: None, AssertionError, "^padding_idx must be within num_embeddings$"),
    ("_weight of another shape", lambda lib: lib.EmbeddingBag(
        5, 2, _weight=(torch.zeros if lib is torch.nn else np.zeros)((4, 2))),
     lambda m, w: None, AssertionError, "Shape of weight does not match"),
    ("unknown mode", lambda lib: lib.EmbeddingBag(5, 2, mode="min"),
     lambda m, w: m(w(I([0, 1])), w(I([0]))), ValueError, "mode must be one of"),
    ("max mode scaled by frequency", lambda lib: lib.EmbeddingBag(5, 2, mode="max",
                                                                  scale_grad_by_freq=True),
     lambda m, w: m(w(I([0, 1])), w(I([0]))), ValueError,
     "max mode does not support scaling the gradient by the frequency"),
]


@pytest.mark.parametrize("build, call, error, words",
                         [case[1:] for case in REFUSED_ALIKE],
                         ids=[case[0] for case in REFUSED_ALIKE])
def test_embedding_bag_refuses_what_torch_refuses(build, call, error, words):
    """The same error type as torch (torch checks mode and max with scale_grad_by_freq at
    the first forward, scratch at construction); scratch's words name what was wrong."""
    with pytest.raises(error):
        call(build(torch.nn), torch.from_numpy)
    with pytest.raises(error, match=words):
        call(build(nn), lambda a: a)


@pytest.mark.parametrize("input, offsets, words", [
    (I([0, 1, 2]), I([0, 2, 1]), "offsets must be non-decreasing"),
    (I([0, 1, 2]), I([0, 1, 2]), "must equal input's length 3, got 2"),
    (I([0, 1]), I([0]), "at least 2 offsets"),
    (I([0, 1]), I([], np.int64), None),
])
def test_offsets_torch_misreads_are_refused(input, offsets, words):
    """Offsets torch takes without an error but misreads (decreasing offsets; a closing
    offset short of the input's end, which torch ignores) or crashes on (no bag at all)
    are refused with a RuntimeError naming the fault."""
    last = words is not None and words != "offsets must be non-decreasing"
    layer = nn.EmbeddingBag(3, 2, mode="sum", include_last_offset=last)
    with pytest.raises(RuntimeError, match=words or "at least one bag start"):
        layer(input, offsets)


def test_functional_refuses_a_weight_that_is_not_2d_as_torch():
    with pytest.raises(ValueError, match="weight has to be a 2D Tensor"):
        TF.embedding_bag(torch.tensor([[0, 1]]), torch.zeros(5))
    with pytest.raises(ValueError, match="^embedding_bag: weight has to be a 2D Tensor, but got "
                                         "Tensor of dimension 1$"):
        F.embedding_bag_forward(I([[0, 1]]), np.zeros(5))


def test_2d_bags_of_length_zero_are_refused_as_torch():
    with pytest.raises(RuntimeError):
        torch.nn.EmbeddingBag(3, 2)(torch.zeros((2, 0), dtype=torch.long))
    with pytest.raises(RuntimeError, match=r"2-D input of shape \(2, 0\) has bags of length 0"):
        nn.EmbeddingBag(3, 2)(np.zeros((2, 0), np.int64))


def test_sparse_gradients_are_refused_naming_the_fix():
    with pytest.raises(NotImplementedError, match="sparse=True .* use sparse=False"):
        nn.EmbeddingBag(3, 2, sparse=True)
