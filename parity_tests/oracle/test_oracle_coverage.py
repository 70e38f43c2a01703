"""reference.oracle: ties and kinks covered, diagnosed, and reported.

Drawn inputs must hold what the tie and kink checks exist for, so the bugs
that live there fail on every seed at the smallest shape that can hold them;
the report says what was covered, warns when a given input covered nothing,
and names the bug (every tied maximum, the last one, a `>=` at a kink, for
every activation torch gives a kink). Also: code that answers differently
for the same input, labels of the user's functions, the HTML table, and
diagnoses kept through shrinking.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import strategies as st

from reference import oracle
from reference.oracle import inputs, probe
from reference.oracle import strategies as OS

SEEDS = range(40)


def max_pool_forward(x, size, stride):
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - size) // stride + 1, (w - size) // stride + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size,
                                j * stride:j * stride + size].max(axis=(2, 3))
    return out, (x, size, stride)


def make_max_pool_backward(tie="first"):
    """The window's gradient to its first maximum (right), or to "every" / the "last" tie."""
    def max_pool_backward(dout, cache):
        x, size, s = cache
        dx = np.zeros_like(x)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = x[:, :, i * s:i * s + size, j * s:j * s + size]
                flat = window.reshape(*window.shape[:2], -1)
                if tie == "every":
                    mask = flat == flat.max(axis=2, keepdims=True)
                else:
                    index = (flat.argmax(axis=2) if tie == "first" else
                             flat.shape[2] - 1 - flat[..., ::-1].argmax(axis=2))
                    mask = np.arange(flat.shape[2]) == index[..., None]
                dx[:, :, i * s:i * s + size, j * s:j * s + size] += (
                    mask * dout[:, :, i, j][..., None]).reshape(window.shape)
        return dx
    return max_pool_backward


def check_pool(backward, x, seed=0, size=2, stride=2):
    return oracle.check_pair(max_pool_forward, backward, x, args=(size, stride), seed=seed,
                             against=lambda x: TF.max_pool2d(x, size, stride))


def has(row, phrase):
    return any(phrase in d for d in row.diagnoses)


# --------------------------------------------------------------------------- drawn inputs
@pytest.mark.parametrize("shape", [(1, 1, 2, 2), (1, 1, 4, 4), (2, 1, 4, 4), (2, 3, 3, 5)])
def test_drawn_pooling_inputs_hold_a_tied_maximum_and_a_zero_in_every_plane(shape):
    for seed in SEEDS:
        x = inputs.tied_values(np.random.default_rng(seed), shape)
        for plane in x.reshape(-1, *shape[2:]):
            top = plane.max()
            assert plane.reshape(-1)[:2].tolist() == [top, top]
            assert (plane == 0).any()


@pytest.mark.parametrize("shape", [(1, 2, 7), (2, 3, 4), (3, 5, 2), (1, 1, 3)])
def test_drawn_three_dimensional_inputs_tie_half_the_rows_and_zero_every_row(shape):
    for seed in SEEDS:
        x = inputs.tied_values(np.random.default_rng(seed), shape)
        rows = x.reshape(-1, shape[2])
        tied = [bool(r[0] == r[1] == r.max()) for r in rows]
        assert sum(tied) >= max(1, len(rows) // 2)
        assert all((r == 0).any() for r, t in zip(rows, tied) if not t or len(r) >= 3)


@pytest.mark.parametrize("shape", [(2,), (3, 4), (5, 1)])
def test_drawn_flat_inputs_hold_exact_zeros(shape):
    for seed in SEEDS:
        x = inputs.tied_values(np.random.default_rng(seed), shape)
        assert (x == 0).any()
        if len(shape) == 2 and shape[1] > 1:
            assert (x == 0).any(axis=1).all()


@pytest.mark.parametrize("tie, phrase", [("every", "every tied maximum"),
                                         ("last", "last tied maximum")])
@pytest.mark.parametrize("shape", [(1, 1, 2, 2), (1, 1, 4, 4), (2, 1, 4, 4)])
def test_tie_bugs_fail_on_every_seed_with_their_diagnosis(tie, phrase, shape):
    backward = make_max_pool_backward(tie)
    for seed in SEEDS:
        report = check_pool(backward, shape, seed)
        assert [r.tensor for r in report.failures] == ["dx"], (seed, str(report))
        assert has(report.row("dx"), phrase), (seed, str(report))


def test_the_right_max_pool_passes_on_every_seed_and_reports_its_coverage():
    for seed in range(10):
        report = check_pool(make_max_pool_backward(), (1, 1, 4, 4), seed)
        report.assert_ok()
        assert report.info["coverage"].tied_windows >= 1
        assert "window(s) with tied maxima" in str(report)


def prelu_forward(x, a):
    return np.where(x > 0, x, a[None, :, None, None] * x), (x, a)


def prelu_backward_ge(dout, cache):
    """The planted bug: ``x >= 0`` takes the positive branch at the kink."""
    x, a = cache
    positive = x >= 0
    dx = np.where(positive, dout, a[None, :, None, None] * dout)
    return dx, np.where(positive, 0.0, x * dout).sum(axis=(0, 2, 3))


def test_prelu_with_ge_at_the_kink_fails_on_every_seed_at_the_issue_shape():
    for seed in SEEDS:
        report = oracle.check_pair(prelu_forward, prelu_backward_ge, (1, 1, 2, 4), {"weight": (1,)},
                                   seed=seed, against=TF.prelu)
        assert [r.tensor for r in report.failures] == ["dx"], (seed, str(report))
        assert has(report.row("dx"), "passes gradient at the kink"), (seed, str(report))


# torch's gradient at 0, read from torch (test below): 0 for ReLU, the negative slope
# for LeakyReLU and PReLU, alpha for ELU (a kink only when alpha != 1).
ACTIVATIONS = {
    "relu": (lambda x: np.maximum(x, 0), lambda x: 0.0 * x, TF.relu, 0.0),
    "leaky_relu": (lambda x: np.where(x > 0, x, 0.1 * x), lambda x: 0.1 + 0.0 * x,
                   lambda x: TF.leaky_relu(x, 0.1), 0.1),
    "prelu": (lambda x: np.where(x > 0, x, 0.25 * x), lambda x: 0.25 + 0.0 * x,
              lambda x: TF.prelu(x, torch.tensor([0.25], dtype=x.dtype)), 0.25),
    "elu": (lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)), lambda x: 0.5 * np.exp(x),
            lambda x: TF.elu(x, 0.5), 0.5),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_torch_gradient_at_zero_is_the_slope_from_below(name):
    *_, torch_fn, at_zero = ACTIVATIONS[name]
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    torch_fn(x).sum().backward()
    assert x.grad.tolist() == [at_zero] * 3


def make_activation_pair(name, at_kink):
    """A pair for ``name`` whose backward at x == 0 takes "below" (right), "above" or "zero"."""
    forward, negative_slope, *_ = ACTIVATIONS[name]

    def activation_forward(x):
        return forward(x), x

    def activation_backward(dout, x):
        slope = np.where(x > 0, 1.0, negative_slope(np.minimum(x, 0)))
        if at_kink == "above":
            slope = np.where(x == 0, 1.0, slope)
        elif at_kink == "zero":
            slope = np.where(x == 0, 0.0, slope)
        return dout * slope
    return activation_forward, activation_backward


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_kink_diagnoses_are_right_for_every_activation(name):
    torch_fn = ACTIVATIONS[name][2]
    right = make_activation_pair(name, "below")
    oracle.check_pair(*right, (3, 4), against=torch_fn).assert_ok()
    above = oracle.check_pair(*make_activation_pair(name, "above"), (3, 4), against=torch_fn)
    assert [r.tensor for r in above.failures] == ["dx"], str(above)
    assert above.row("dx").diagnoses and has(above.row("dx"), "passes gradient at the kink")
    zero = oracle.check_pair(*make_activation_pair(name, "zero"), (3, 4), against=torch_fn)
    if name == "relu":   # torch's own answer at 0: nothing to find
        zero.assert_ok()
    else:
        assert has(zero.row("dx"), "lets no gradient through at the kink"), str(zero)
        assert not has(zero.row("dx"), "passes gradient"), str(zero)


def test_a_given_input_without_ties_gets_a_coverage_warning():
    x = np.arange(16.0).reshape(1, 1, 4, 4)       # distinct values: no tie anywhere
    report = check_pool(make_max_pool_backward("every"), x)
    report.assert_ok()                            # the bug is there, and unseen here
    assert report.info["coverage"].tied_windows == 0
    assert "WARNING: your x covers no tie and no kink" in str(report)
    assert "window(s) with tied maxima" in str(report)   # what a drawn x would cover
    linear = oracle.check_pair(lambda x, w: (x @ w, (x, w)), lambda d, c: (d @ c[1].T, c[0].T @ d),
                               np.ones((2, 3)), {"w": (3, 2)}, against=lambda x, w: x @ w)
    assert "WARNING" not in str(linear)           # nothing to cover: no warning


def test_probe_counts_ties_and_zeros_exactly():
    x = np.array([[[[1.0, 1.0], [0.0, -1.0]]]])
    cov = probe.coverage_of(x, probe.one_sided(lambda x: TF.max_pool2d(x, 2), x, {}))
    assert (cov.tied_windows, cov.zeros_at_kink) == (1, 0)
    y = np.array([[0.0, 1.0, 0.0, -2.0]])
    cov = probe.coverage_of(y, probe.one_sided(TF.relu, y, {}))
    assert (cov.tied_windows, cov.zeros_at_kink) == (0, 2)
    assert cov.describe() == "2 exact zero(s) at a kink"


# --------------------------------------------------------------------------- user code
def test_nondeterministic_backward_is_reported_in_plain_words():
    calls = {"n": 0}

    def flaky_backward(dout, cache):
        calls["n"] += 1
        return dout * (1.0 if calls["n"] % 2 else 2.0)
    with pytest.raises(oracle.NondeterministicError,
                       match=r"flaky_backward returned different dx for the same input"):
        oracle.check_pair(lambda x: (x * 1, None), flaky_backward, (2, 3), against=lambda x: x * 1)


def test_search_reports_nondeterminism_not_a_bare_flaky_error():
    state = {"n": 0}

    def set_order_backward(dout, cache):
        state["n"] += 1
        return dout * (1.0 + (state["n"] % 3 == 0))
    with pytest.raises(oracle.OracleFailure, match=r"different dx for the same input"):
        oracle.search(lambda x: oracle.check_pair(lambda x: (x * 1, None), set_order_backward, x,
                                                  against=lambda x: x * 1),
                      x=OS.arrays(st.just((2,))))


def test_headers_name_the_users_functions_not_the_glue():
    def my_softmax_grads(x, y):
        return (x - y,)

    def torch_expr(x, y):
        return 0.5 * ((x - y) ** 2).sum()
    report = oracle.check_gradients(lambda x, y: my_softmax_grads(x, y),
                                    dict(x=(2, 3), y=np.zeros((2, 3))), against=torch_expr,
                                    returns=("x",))
    report.assert_ok()
    assert report.title.startswith("your lambda calling my_softmax_grads vs autograd of "
                                   "torch_expr"), report.title
    assert "<locals>" not in report.title


def test_report_renders_as_html_and_shows_drawn_inputs():
    report = check_pool(make_max_pool_backward("every"), (1, 1, 2, 2))
    html = report._repr_html_()
    assert html.startswith("<div>") and "<table>" in html and "WRONG" in html
    assert "every tied maximum" in html and "x = array" in str(report)
    with pytest.raises(AssertionError, match="WRONG in dx"):
        report.assert_ok()


def test_oracle_failure_is_not_swallowed_by_except_assertion_error():
    assert not issubclass(oracle.OracleFailure, AssertionError)


def test_diagnoses_survive_shrinking_to_one_element():
    def doubled(dout, cache):
        return 2 * dout
    with pytest.raises(oracle.OracleFailure) as failure:
        oracle.search(lambda x: oracle.check_pair(lambda x: (x * 1, None), doubled, x,
                                                  against=lambda x: x * 1),
                      x=OS.arrays(st.integers(1, 6).map(lambda n: (n,)),
                                  st.just(1.5)))
    row = failure.value.report.row("dx")
    assert failure.value.example["x"].size == 1
    assert has(row, "exactly 2 times"), str(failure.value)


def test_search_keeps_the_tie_diagnosis_after_shrinking():
    with pytest.raises(oracle.OracleFailure) as failure:
        oracle.search(lambda case: check_pool(make_max_pool_backward("last"), case["x"], 0,
                                              case["size"], case["stride"]),
                      case=OS.pool_cases())
    assert has(failure.value.report.row("dx"), "last tied maximum"), str(failure.value)


def test_a_counterpart_that_cannot_run_in_float64_is_checked_unprobed():
    def relu_forward(x):
        return np.maximum(x, 0), x
    report = oracle.check_pair(relu_forward, lambda dout, x: dout * (x > 0), (2, 3),
                               dtype=np.float32, against=lambda x: TF.prelu(x, torch.tensor([0.0])))
    report.assert_ok()
    assert "not probed (torch's function did not run in float64)" in str(report)


@pytest.mark.parametrize("size, stride, padding", [(2, 2, 1), (3, 2, 1), (3, 3, 1), (2, 1, 0)])
def test_drawn_inputs_tie_windows_that_start_in_the_padding_too(size, stride, padding):
    for seed in range(10):
        x = inputs.tied_values(np.random.default_rng(seed), (1, 1, 4, 4))
        pool = lambda x: TF.max_pool2d(x, size, stride, padding)  # noqa: E731
        assert probe.coverage_of(x, probe.one_sided(pool, x, {})).tied_windows >= 1, seed
