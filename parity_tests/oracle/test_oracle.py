"""reference.oracle: torch as a gradient oracle for hand-written NumPy code.

The hand-written layers below are what a learner writes: a fully connected
layer keeping ``params``/``grads`` dicts with W stored (in, out), CS231n-style
conv and max-pool pairs, a softmax classifier whose backward takes ``probs``
and the labels. Each correct one passes; each buggy variant fails with the
right tensor named and, where the bug has a recognisable signature, the
right diagnosis. The oracle also agrees with the parity suite on scratch's
own layers, and refuses bad calls with messages that say what was expected.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import strategies as st

from reference import oracle
from reference.oracle import diagnose as oracle_diagnose
from reference.oracle import strategies as OS
from reference.oracle.search import OracleFailure, search
from scratch import functional as F
from scratch import nn

TIES = "every tied maximum"
KINK = "passes gradient at the kink"
FLIP = "missing kernel flip"
PADDING = "padding off by one"


# --------------------------------------------------------------------------- hand-written code
class FullyConnected:
    """``out = x @ W + b`` with W (in, out); ``bug`` picks a mistake in backward."""

    def __init__(self, d, m, bug=None):
        self.params = {"W": np.zeros((d, m)), "b": np.zeros(m)}
        self.grads, self.bug = {}, bug

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        dW = self.x.T @ dout
        self.grads["W"] = {"transposed": dW.T, "times_n": dW * len(dout)}.get(self.bug, dW)
        if self.bug != "no_db":
            self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"].T


class Scale:
    """``out = x * g`` per feature, parameters as attributes: ``g`` and ``dg``."""

    def __init__(self, d):
        self.g = np.ones(d)

    def forward(self, x):
        self.x = x
        return x * self.g

    def backward(self, dout):
        self.dg = (dout * self.x).sum(axis=0)
        return dout * self.g


def conv_forward(x, w, b, stride, pad):
    """CS231n ``conv_forward``: x (N, C, H, W), w (F, C, kh, kw) -> ((N, F, Ho, Wo), cache)."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = w.shape[2:]
    ho, wo = (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1
    out = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, stride, pad)


def make_conv_backward(flip_kernel=True, crop=0):
    """dx as the textbook 'full' correlation of dout with the 180-degree rotated kernel.

    ``flip_kernel=False`` forgets the rotation; ``crop`` moves the padding crop by one.
    """
    def conv_backward(dout, cache):
        x, w, s, p = cache
        (n, c, h, wd), (f, _, kh, kw) = x.shape, w.shape
        ho, wo = dout.shape[2:]
        spread = np.zeros((n, f, (ho - 1) * s + 1, (wo - 1) * s + 1))
        spread[:, :, ::s, ::s] = dout                       # undo the stride
        full = np.pad(spread, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
        kernel = w[:, :, ::-1, ::-1] if flip_kernel else w
        dxp = np.zeros((n, c, h + 2 * p, wd + 2 * p))
        for i in range(spread.shape[2] + kh - 1):
            for j in range(spread.shape[3] + kw - 1):
                window = full[:, :, i:i + kh, j:j + kw]     # (N, F, kh, kw)
                dxp[:, :, i, j] = np.tensordot(window, kernel, axes=([1, 2, 3], [0, 2, 3]))
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        dw = np.zeros_like(w)
        for i in range(ho):
            for j in range(wo):
                patch = xp[:, :, i * s:i * s + kh, j * s:j * s + kw]
                dw += np.tensordot(dout[:, :, i, j], patch, axes=([0], [0]))
        top = p + crop
        dx = dxp[:, :, top:top + h + 2 * (crop < 0), top:top + wd + 2 * (crop < 0)]
        return dx, dw, dout.sum(axis=(0, 2, 3))
    return conv_backward


def max_pool_forward(x, size, stride):
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - size) // stride + 1, (w - size) // stride + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size,
                                j * stride:j * stride + size].max(axis=(2, 3))
    return out, (x, size, stride)


def make_max_pool_backward(all_ties=False):
    """The window's gradient to its first maximum, or (``all_ties``) to every tied one."""
    def max_pool_backward(dout, cache):
        x, size, s = cache
        dx = np.zeros_like(x)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = x[:, :, i * s:i * s + size, j * s:j * s + size]
                flat = window.reshape(*window.shape[:2], -1)
                if all_ties:
                    mask = flat == flat.max(axis=2, keepdims=True)
                else:
                    mask = np.arange(flat.shape[2]) == flat.argmax(axis=2)[..., None]
                dx[:, :, i * s:i * s + size, j * s:j * s + size] += (
                    mask * dout[:, :, i, j][..., None]).reshape(window.shape)
        return dx
    return max_pool_backward


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def make_fc_softmax_backward(divide_by_n=True):
    """Gradients of mean cross-entropy of ``x @ W + b``, from the probabilities and labels."""
    def fc_softmax_backward(x, W, b, probs, label):
        dlogits = probs.copy()
        dlogits[np.arange(len(label)), label] -= 1
        if divide_by_n:
            dlogits /= len(label)
        return x.T @ dlogits, dlogits.sum(axis=0), dlogits @ W.T
    return fc_softmax_backward


def fc_softmax_loss(x, W, b, y):
    return TF.cross_entropy(x @ W + b, y)


def check_conv(backward, x=(2, 2, 5, 5), stride=1, pad=1, seed=0, forward=conv_forward):
    return oracle.check_pair(forward, backward, x, {"w": (3, 2, 3, 3), "b": (3,)},
                             args=(stride, pad), seed=seed,
                             against=lambda x, w, b: TF.conv2d(x, w, b, stride=stride, padding=pad))


def check_pool(backward, x, size=2, stride=2):
    return oracle.check_pair(max_pool_forward, backward, x, args=(size, stride),
                             against=lambda x: TF.max_pool2d(x, size, stride))


def linear_mapping():
    return {"W": oracle.Param("weight", transpose=True), "b": "bias"}


def only_wrong(report, tensor):
    assert not report.ok
    assert [r.tensor for r in report.failures] == [tensor], str(report)
    return report.row(tensor)


def has(row, phrase):
    return any(phrase in d for d in row.diagnoses)


# --------------------------------------------------------------------------- correct code passes
@pytest.mark.parametrize("d, m", [(3, 3), (4, 2)])
def test_correct_module_with_dicts_and_transposed_weight_passes(d, m):
    report = oracle.check_module(FullyConnected(d, m), (5, d), mapping=linear_mapping(),
                                 against=torch.nn.Linear(d, m))
    report.assert_ok()
    assert [r.tensor for r in report.rows] == ["out", "dx", "dW", "db"]


def test_correct_module_with_attributes_passes():
    report = oracle.check_module(Scale(4), (3, 4), params=oracle.Attributes({"g": "dg"}),
                                 against=lambda x, g: x * g)
    report.assert_ok()


@pytest.mark.parametrize("stride, pad", [(1, 1), (2, 0), (2, 2)])
def test_correct_conv_pair_passes(stride, pad):
    check_conv(make_conv_backward(), (2, 2, 6, 5), stride, pad).assert_ok()


def test_correct_max_pool_pair_passes_on_an_input_full_of_ties():
    x = np.zeros((1, 2, 4, 4))
    x[0, 1, :2, :2] = 1.0
    check_pool(make_max_pool_backward(), x).assert_ok()


def test_correct_gradient_function_passes():
    rng = np.random.default_rng(0)
    inputs = dict(x=rng.standard_normal((4, 3)), W=rng.standard_normal((3, 5)),
                  b=rng.standard_normal(5), y=np.array([0, 4, 2, 2]))
    backward = make_fc_softmax_backward()
    report = oracle.check_gradients(lambda x, W, b, y: backward(x, W, b, softmax(x @ W + b), y),
                                    inputs, against=fc_softmax_loss, returns=("W", "b", "x"))
    report.assert_ok()
    assert [r.tensor for r in report.rows] == ["dW", "db", "dx"]


# --------------------------------------------------------------------------- buggy code fails
def test_transposed_square_dW_is_named_and_diagnosed():
    report = oracle.check_module(FullyConnected(3, 3, "transposed"), (4, 3),
                                 mapping=linear_mapping(), against=torch.nn.Linear(3, 3))
    row = only_wrong(report, "dW")
    assert has(row, "transpose")
    with pytest.raises(AssertionError, match=r"(?s)max abs err.*WRONG in dW"):
        report.assert_ok()


def test_transposed_rectangular_dW_is_a_wrong_shape_with_a_diagnosis():
    report = oracle.check_module(FullyConnected(3, 5, "transposed"), (4, 3),
                                 mapping=linear_mapping(), against=torch.nn.Linear(3, 5))
    row = only_wrong(report, "dW")
    assert row.verdict == "WRONG SHAPE" and has(row, "transpose")
    assert "yours has shape (5, 3), expected (3, 5)" in str(report)


def test_a_factor_equal_to_n_is_no_missing_division_in_a_layer_that_never_divides():
    report = oracle.check_module(FullyConnected(3, 2, "times_n"), (4, 3), mapping=linear_mapping(),
                                 against=torch.nn.Linear(3, 2))
    row = only_wrong(report, "dW")
    assert has(row, "exactly 4 times") and not has(row, "division by the batch size"), str(report)


def test_gradient_function_without_the_mean_is_diagnosed_on_every_tensor():
    rng = np.random.default_rng(1)
    inputs = dict(x=rng.standard_normal((3, 4)), W=rng.standard_normal((4, 2)),
                  b=rng.standard_normal(2), y=np.array([1, 0, 1]))
    backward = make_fc_softmax_backward(divide_by_n=False)
    report = oracle.check_gradients(lambda x, W, b, y: backward(x, W, b, softmax(x @ W + b), y),
                                    inputs, against=fc_softmax_loss, returns=("W", "b", "x"))
    assert [r.tensor for r in report.failures] == ["dW", "db", "dx"]
    assert all(has(r, "division by the batch size N is missing") for r in report.failures), (
        str(report))


def test_sign_flip_is_diagnosed():
    def wrong_sign(x, w, b, stride, pad):
        return conv_forward(x, -w, -b, stride, pad)
    row = check_conv(make_conv_backward(), forward=wrong_sign).row("out")
    assert has(row, "sign flipped")


def test_conv_backward_without_kernel_flip_is_diagnosed():
    report = check_conv(make_conv_backward(flip_kernel=False), (2, 2, 5, 6), stride=2)
    assert has(only_wrong(report, "dx"), FLIP), str(report)


def test_convolution_instead_of_cross_correlation_is_diagnosed():
    def true_convolution(x, w, b, stride, pad):
        return conv_forward(x, w[:, :, ::-1, ::-1], b, stride, pad)
    report = check_conv(make_conv_backward(), forward=true_convolution)
    assert has(report.row("out"), "yours is a convolution"), str(report)


@pytest.mark.parametrize("crop, shape", [(1, (2, 2, 5, 5)), (-1, (2, 2, 7, 7))])
def test_padding_crop_off_by_one_is_diagnosed(crop, shape):
    report = check_conv(make_conv_backward(crop=crop), (2, 2, 5, 5), pad=1)
    row = only_wrong(report, "dx")
    assert row.shape == shape and has(row, PADDING), str(report)


def test_max_pool_gradient_to_every_tie_is_diagnosed():
    x = np.array([[[[1.0, 1.0, 0.0, 2.0], [0.0, -1.0, 2.0, 0.5],
                    [3.0, 0.0, -1.0, -1.0], [3.0, 3.0, -1.0, -2.0]]]])
    report = check_pool(make_max_pool_backward(all_ties=True), x)
    assert has(only_wrong(report, "dx"), TIES), str(report)


def test_relu_passing_gradient_at_zero_is_diagnosed():
    def relu_forward(x):
        return np.maximum(x, 0), x

    def relu_backward_at_zero(dout, x):
        return dout * (x >= 0)
    x = np.array([[0.0, 1.0, -1.0, 0.0], [0.0, 2.0, 0.0, -0.5]])
    report = oracle.check_pair(relu_forward, relu_backward_at_zero, x, against=TF.relu)
    assert has(only_wrong(report, "dx"), KINK), str(report)


@pytest.mark.parametrize("factor, phrase", [(2.0, "exactly 2 times"), (-0.5, "exactly -1/2 times"),
                                            (0.37, "0.37 times"), (-1.0, "sign flipped"),
                                            (1 / 3, "1/N = 1/3 of the right one")])
def test_constant_factors_are_named(factor, phrase):
    right = np.random.default_rng(0).standard_normal((3, 4))
    found = oracle_diagnose.diagnose(factor * right, right, 1e-7, 1e-7, batch=3)
    assert len(found) == 1 and phrase in found[0], found


def test_an_unrecognised_bug_gets_no_diagnosis():
    class Noisy(FullyConnected):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["W"] = self.grads["W"] + np.arange(self.grads["W"].size).reshape(
                self.grads["W"].shape) % 3
            return dx
    report = oracle.check_module(Noisy(3, 3), (4, 3), mapping=linear_mapping(),
                                 against=torch.nn.Linear(3, 3))
    assert only_wrong(report, "dW").diagnoses == []


# --------------------------------------------------------------------------- scratch's layers
SCRATCH_TWINS = {
    "conv2d": (lambda: nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2)),
               lambda: torch.nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2)),
               (2, 2, 7, 6)),
    "linear": (lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3), (4, 5)),
    "max_pool2d": (lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True),
                   lambda: torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 2, 6, 7)),
    "avg_pool2d": (lambda: nn.AvgPool2d(2), lambda: torch.nn.AvgPool2d(2), (2, 2, 4, 4)),
    "batch_norm2d": (lambda: nn.BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3), (4, 3, 3, 3)),
    "prelu": (lambda: nn.PReLU(3), lambda: torch.nn.PReLU(3), (2, 3, 2, 2)),
}


@pytest.mark.parametrize("name", SCRATCH_TWINS)
@pytest.mark.parametrize("seed", [0, 1])
def test_oracle_passes_scratch_layers_against_their_torch_twins(name, seed):
    make_scratch, make_torch, shape = SCRATCH_TWINS[name]
    oracle.check_module(make_scratch(), shape, seed=seed, against=make_torch()).assert_ok()


def test_oracle_passes_a_scratch_network_against_its_torch_twin():
    layers = {"conv": (nn.Conv2d(1, 2, 3, padding=1), torch.nn.Conv2d(1, 2, 3, padding=1)),
              "bn": (nn.BatchNorm2d(2), torch.nn.BatchNorm2d(2)),
              "act": (nn.ReLU(), torch.nn.ReLU()),
              "pool": (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
              "flat": (nn.Flatten(), torch.nn.Flatten()),
              "fc": (nn.Linear(8, 3), torch.nn.Linear(8, 3))}
    mine = nn.Sequential({name: pair[0] for name, pair in layers.items()})
    twin = torch.nn.Sequential(OrderedDict((name, pair[1]) for name, pair in layers.items()))
    report = oracle.check_module(mine, (3, 1, 4, 4), against=twin)
    report.assert_ok()
    assert "dconv.weight" in [r.tensor for r in report.rows]


@pytest.mark.parametrize("name", ["conv2d", "linear", "batch_norm2d"])
def test_oracle_passes_scratch_layers_in_float32(name):
    make_scratch, make_torch, shape = SCRATCH_TWINS[name]
    oracle.check_module(make_scratch(), shape, dtype=np.float32, against=make_torch()).assert_ok()


# --------------------------------------------------------------------------- finite differences
@pytest.mark.parametrize("name", ["conv2d", "linear", "batch_norm2d"])
def test_finite_differences_pass_scratch_layers(name):
    make_scratch, _, shape = SCRATCH_TWINS[name]
    oracle.check_module(make_scratch(), shape, against=oracle.finite_differences()).assert_ok()


def test_finite_differences_pass_a_correct_pair_and_name_a_buggy_one():
    params = {"w": (2, 1, 2, 2), "b": (2,)}
    oracle.check_pair(conv_forward, make_conv_backward(), (1, 1, 4, 4), params, args=(1, 1),
                      against=oracle.finite_differences()).assert_ok()
    report = oracle.check_pair(conv_forward, make_conv_backward(flip_kernel=False), (1, 1, 4, 4),
                               params, args=(1, 1), against=oracle.finite_differences())
    only_wrong(report, "dx")


def test_finite_differences_diagnose_a_transposed_gradient():
    report = oracle.check_module(FullyConnected(3, 3, "transposed"), (4, 3),
                                 against=oracle.finite_differences())
    assert has(only_wrong(report, "dW"), "transpose")
    assert "central finite differences" in report.title and "out" not in [
        r.tensor for r in report.rows]


# --------------------------------------------------------------------------- hypothesis search
def test_search_passes_a_correct_conv_pair():
    def check(case, seed):
        return oracle.check_pair(conv_forward, make_conv_backward(), case["x"],
                                 {"w": case["w"], "b": case["b"]},
                                 args=(case["stride"], case["pad"]), seed=seed,
                                 against=lambda x, w, b: TF.conv2d(
                                     x, w, b, stride=case["stride"], padding=case["pad"]))
    assert search(check, case=OS.conv_cases(), seed=OS.seeds()) > 0


def test_search_passes_scratch_functional_pairs():
    def check_conv2d(case, seed):
        s, p = case["stride"], case["pad"]
        return oracle.check_pair(F.conv2d_forward, F.conv2d_backward, case["x"],
                                 {"w": case["w"], "b": case["b"]}, args=(s, p), seed=seed,
                                 against=lambda x, w, b: TF.conv2d(x, w, b, stride=s, padding=p))

    def check_max_pool2d(case, seed):
        k, s = case["size"], case["stride"]
        return oracle.check_pair(F.max_pool2d_forward, F.max_pool2d_backward, case["x"],
                                 args=(k, s), seed=seed, against=lambda x: TF.max_pool2d(x, k, s))
    assert search(check_conv2d, case=OS.conv_cases(divisible=False), seed=OS.seeds()) > 0
    assert search(check_max_pool2d, case=OS.pool_cases(), seed=OS.seeds()) > 0


def test_search_shrinks_a_tie_bug_to_a_small_example_with_its_diagnosis():
    def check(case):
        return check_pool(make_max_pool_backward(all_ties=True), case["x"], case["size"],
                          case["stride"])
    with pytest.raises(OracleFailure) as failure:
        search(check, case=OS.pool_cases())
    message = str(failure.value)
    assert "smallest failing example" in message and "WRONG in dx" in message
    assert failure.value.example["case"]["x"].size <= 8, message
    assert has(failure.value.report.row("dx"), TIES), message


def test_search_reports_the_smallest_input_where_user_code_raises():
    def check(x):
        if np.any(x >= 1):     # 1.0, a tie value, is drawn often; x > 3 was missed in dev runs
            raise IndexError("boom")
        return oracle.check_pair(lambda x: (x, None), lambda d, c: d.copy(), x,
                                 against=lambda x: x * 1)
    with pytest.raises(OracleFailure, match=r"(?s)smallest failing.*IndexError: boom"):
        search(check, x=OS.arrays(st.integers(1, 4).map(lambda n: (n,))))


# --------------------------------------------------------------------------- bad calls
def test_output_shape_mismatch_names_both_shapes():
    with pytest.raises(oracle.OracleError,
                       match=r"output has shape \(2, 3, 5, 5\), but .* gives \(2, 3, 3, 3\)"
                             r".*padding off by one"):
        oracle.check_pair(conv_forward, make_conv_backward(), (2, 2, 5, 5),
                          {"w": (3, 2, 3, 3), "b": (3,)}, args=(1, 1),
                          against=lambda x, w, b: TF.conv2d(x, w, b))


def test_a_failing_torch_counterpart_is_reported_with_what_it_was_given():
    with pytest.raises(oracle.OracleError, match=r"(?s)the torch counterpart \(torch lambda\) "
                                                 r"raised RuntimeError.*called with x \(2, 3\), "
                                                 r"w \(4, 2\)"):
        oracle.check_pair(lambda x, w: (x @ w, x), lambda d, c: (d, d), (2, 3), {"w": (4, 2)},
                          against=lambda x, w: x @ w)


def test_missing_gradient_names_the_parameter_and_its_shape():
    with pytest.raises(oracle.OracleError,
                       match=r"did not set a gradient for 'b' \(grads\['b'\] is missing\); "
                             r"expected an array of shape \(2,\)"):
        oracle.check_module(FullyConnected(3, 2, "no_db"), (4, 3), mapping=linear_mapping(),
                            against=torch.nn.Linear(3, 2))


def test_nan_in_a_gradient_names_the_tensor_and_index():
    def nan_backward(dout, cache):
        dx = dout.copy()
        dx[0, 1] = np.nan
        return dx
    with pytest.raises(oracle.OracleError,
                       match=r"the dx returned by nan_backward contains NaN at index \(0, 1\) "
                             r"\(1 of 6 elements not finite\); expected finite values"):
        oracle.check_pair(lambda x: (x * 1, None), nan_backward, (2, 3), against=lambda x: x * 1)


def test_nan_in_the_input_is_refused():
    with pytest.raises(oracle.OracleError, match=r"x contains NaN at index \(1,\)"):
        oracle.check_pair(lambda x: (x, None), lambda d, c: d, np.array([0.0, np.nan]),
                          against=lambda x: x * 1)


@pytest.mark.parametrize("mapping, message", [
    ({"W2": "weight"}, r"mapping names \['W2'\], which your code does not have; "
                       r"your parameters are \['W', 'b'\]"),
    ({"W": oracle.Param("weights", transpose=True), "b": "bias"},
     r"mapping sends 'W' to 'weights', which torch.nn.Linear does not have; "
     r"its parameters are \['bias', 'weight'\]"),
    ({"W": "weight", "b": "bias"}, r"your 'W' has shape \(3, 2\).*'weight' has shape \(2, 3\); "
                                   r"it matches transposed"),
])
def test_bad_mappings_say_what_exists(mapping, message):
    with pytest.raises(oracle.OracleError, match=message):
        oracle.check_module(FullyConnected(3, 2), (4, 3), mapping=mapping,
                            against=torch.nn.Linear(3, 2))


def test_an_unmapped_name_torch_lacks_keeps_its_name_and_is_refused():
    """``g`` is no customary name of a Linear's parameter (``W``, ``w``, ``b`` are:
    reference.oracle.names), so it is looked up as it is."""
    with pytest.raises(oracle.OracleError, match=r"your parameter 'g' is not in mapping, so "
                                                 r"it keeps its name, which torch.nn.Linear"):
        oracle.check_module(Scale(3), (2, 3), params=oracle.Attributes({"g": "dg"}),
                            against=torch.nn.Linear(3, 3, bias=False))


def test_a_torch_parameter_without_a_counterpart_is_refused():
    with pytest.raises(oracle.OracleError, match=r"parameters \['bias'\] that none of yours"):
        oracle.check_module(Scale(3), (2, 3), params=oracle.Attributes({"g": "dg"}),
                            mapping={"g": "weight"}, against=torch.nn.Linear(3, 3))


def test_parameters_that_cannot_be_found_are_a_clear_error():
    class Bare:
        def forward(self, x):
            return x

        def backward(self, dout):
            return dout.copy()
    oracle.check_module(Bare(), (2, 3), against=torch.nn.Identity()).assert_ok()  # no params: fine
    with pytest.raises(oracle.OracleError, match="cannot tell where Bare keeps its parameters"):
        oracle.check_module(Bare(), (2, 3), against=torch.nn.Linear(3, 3))


def test_all_ones_upstream_gradient_is_refused():
    with pytest.raises(oracle.OracleError, match="dout is all ones"):
        oracle.check_module(nn.Linear(3, 2), (4, 3), dout=np.ones((4, 2)),
                            against=torch.nn.Linear(3, 2))


def test_backward_returning_the_wrong_number_of_gradients_is_refused():
    def short_backward(dout, cache):
        return make_conv_backward()(dout, cache)[:2]
    with pytest.raises(oracle.OracleError, match=r"returned 2 value\(s\); expected 3: dx, dw, db"):
        check_conv(short_backward)


def test_gradient_function_call_errors():
    inputs = dict(x=np.ones((2, 3)), W=np.ones((3, 2)), b=np.zeros(2), y=np.array([0, 1]))
    backward = make_fc_softmax_backward()

    def grad_fn(x, W, b, y):
        return backward(x, W, b, softmax(x @ W + b), y)
    with pytest.raises(oracle.OracleError, match=r"returns names 'y', which is not a floating"):
        oracle.check_gradients(grad_fn, inputs, against=fc_softmax_loss, returns=("W", "b", "y"))
    with pytest.raises(oracle.OracleError, match=r"returned 3 value\(s\); expected 2"):
        oracle.check_gradients(grad_fn, inputs, against=fc_softmax_loss, returns=("W", "b"))
    with pytest.raises(oracle.OracleError, match=r"returned \(2, 2\); expected a scalar"):
        oracle.check_gradients(grad_fn, inputs, against=lambda x, W, b, y: x @ W + b,
                               returns=("W", "b", "x"))


# --------------------------------------------------------------------------- the demo
def test_demo_pinpoints_its_bugs_and_passes_its_fixes(capsys):
    from scripts import oracle_demo
    assert oracle_demo.main(["--skip-search"]) == 0
    out = capsys.readouterr().out
    assert "dW: yours is the transpose" in out and "missing kernel flip" in out
    assert "instead of accumulated with `+=`" in out and "dh not carried" in out
    assert "first goes wrong at step t = 3" in out
    assert "dout was modified in place by relu_backward_in_place" in out
    assert "bias correction is missing" in out and "bias_hh held at 0" in out
