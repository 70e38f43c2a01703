"""The gradient oracle on hand-written layers: two buggy ones pinpointed, then fixed.

1. A fully connected layer in the notebook style (``params``/``grads`` dicts,
   ``W`` stored (in, out)) whose backward returns the transpose of ``dW``.
2. A CS231n-style conv pair whose backward computes ``dx`` as the textbook
   full correlation of ``dout`` with the kernel, but forgets to rotate the
   kernel by 180 degrees.
3. The corrected versions, which pass.
4. With hypothesis installed: a max-pooling backward that sends the gradient
   to every tied maximum, searched until the smallest failing input is found.
5. A micrograd-style scalar ``Value`` engine that assigns gradients with ``=``
   instead of accumulating them with ``+=`` (a node used twice loses one
   use's gradient), checked on leaf values drawn by hypothesis.
6. A CS231n-style RNN whose backward through time forgets to carry ``dh`` to
   the previous step: the per-time-step table shows the last step right and
   every earlier one wrong.
7. A ReLU backward that masks the caller's ``dout`` in place and returns it:
   every gradient right, and the in-place verdict names ``dout`` and ``dx``.
8. An embedding lookup on integer token ids whose backward loses repeated
   ids (``dW[idx] += dout``): the ids pass through untouched, ``dW`` fails.
9. An LSTM step (two states) against ``torch.nn.LSTMCell`` that ignores the
   upstream cell-state gradient: ``dprev_c`` fails.
10. A CS231n Adam without bias correction against ``torch.optim.Adam``, over
    five steps: named, wrong from step 1.

    python -m scripts.oracle_demo [--seed 0] [--skip-search]

Exits 0 when every bug was caught with the right diagnosis and every fix passed.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as TF

from reference import oracle
from scripts import oracle_learners as L
from scripts.oracle_examples import make_rnn_backward, make_value, rnn_forward


class FullyConnected:
    """``out = x @ W + b`` with W (in, out), b (out,); ``transposed_dW`` plants the bug."""

    def __init__(self, d, m, transposed_dW=False):
        self.params = {"W": np.zeros((d, m)), "b": np.zeros(m)}
        self.grads, self.transposed_dW = {}, transposed_dW

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        dW = self.x.T @ dout                                    # (in, out)
        self.grads["W"] = dW.T if self.transposed_dW else dW
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"].T


def conv_forward(x, w, b, stride, pad):
    """x (N, C, H, W), w (F, C, kh, kw), b (F,) -> out (N, F, Ho, Wo), cache."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = w.shape[2:]
    ho, wo = (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1
    out = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, stride, pad)


def make_conv_backward(rotate_kernel):
    """dx = full correlation of (stride-spread) dout with the kernel rotated by 180 degrees."""
    def conv_backward(dout, cache):
        x, w, s, p = cache
        (n, c, h, wd), (f, _, kh, kw) = x.shape, w.shape
        ho, wo = dout.shape[2:]
        spread = np.zeros((n, f, (ho - 1) * s + 1, (wo - 1) * s + 1))
        spread[:, :, ::s, ::s] = dout
        full = np.pad(spread, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
        kernel = w[:, :, ::-1, ::-1] if rotate_kernel else w
        dxp = np.zeros((n, c, h + 2 * p, wd + 2 * p))
        for i in range(spread.shape[2] + kh - 1):
            for j in range(spread.shape[3] + kw - 1):
                window = full[:, :, i:i + kh, j:j + kw]         # (N, F, kh, kw)
                dxp[:, :, i, j] = np.tensordot(window, kernel, axes=([1, 2, 3], [0, 2, 3]))
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        dw = np.zeros_like(w)
        for i in range(ho):
            for j in range(wo):
                patch = xp[:, :, i * s:i * s + kh, j * s:j * s + kw]
                dw += np.tensordot(dout[:, :, i, j], patch, axes=([0], [0]))
        return dxp[:, :, p:p + h, p:p + wd], dw, dout.sum(axis=(0, 2, 3))
    return conv_backward


def max_pool_forward(x, size, stride):
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - size) // stride + 1, (w - size) // stride + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size,
                                j * stride:j * stride + size].max(axis=(2, 3))
    return out, (x, size, stride)


def max_pool_backward_every_tie(dout, cache):
    """The planted bug: ``window == window.max()`` marks every tied maximum."""
    x, size, s = cache
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * s:i * s + size, j * s:j * s + size]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            grad = mask * dout[:, :, i, j][..., None, None]
            dx[:, :, i * s:i * s + size, j * s:j * s + size] += grad
    return dx


def check_fc(transposed_dW, seed):
    return oracle.check_module(FullyConnected(4, 4, transposed_dW), (3, 4),
                               against=torch.nn.Linear(4, 4), seed=seed,
                               mapping={"W": oracle.Param("weight", transpose=True), "b": "bias"})


def check_conv(rotate_kernel, seed):
    return oracle.check_pair(conv_forward, make_conv_backward(rotate_kernel), (2, 2, 5, 5),
                             {"w": (3, 2, 3, 3), "b": (3,)}, args=(1, 1), seed=seed,
                             against=lambda x, w, b: TF.conv2d(x, w, b, stride=1, padding=1))


def search_pool_bug() -> bool:
    from hypothesis import settings

    from reference.oracle import strategies as S
    from reference.oracle.search import OracleFailure, search

    def check(case):
        return oracle.check_pair(max_pool_forward, max_pool_backward_every_tie, case["x"],
                                 args=(case["size"], case["stride"]),
                                 against=lambda x: TF.max_pool2d(x, case["size"], case["stride"]))
    try:
        search(check, case=S.pool_cases(),
               settings=settings(derandomize=True, database=None, max_examples=50))
    except OracleFailure as failure:
        print(failure)
        return any("tied maximum" in d for d in failure.report.row("dx").diagnoses)
    print("the search found no failing input")
    return False


def check_engine(accumulate, seed):
    def neuron(a, b, c):
        d = a * b + c
        return (d * d + a).tanh() * b
    return oracle.check_scalar_graph(make_value(accumulate), neuron, ("a", "b", "c"),
                                     examples=50, seed=seed)


def check_recurrence(carry, seed):
    return oracle.check_rnn(rnn_forward, make_rnn_backward(carry), (2, 5, 3),
                            {"Wx": (3, 4), "Wh": (4, 4), "b": (4,)}, states={"h0": (2, 4)},
                            seed=seed)


def check_relu(in_place, seed):
    backward = L.relu_backward_in_place if in_place else L.relu_backward
    return oracle.check_pair(L.relu_forward, backward, (3, 4), against=TF.relu, seed=seed)


def check_embedding(assign, seed):
    ids = np.random.default_rng(seed).integers(0, 5, (3, 4))
    ids[0, :2] = ids[1, 0]                                  # a repeated token id
    backward = L.embedding_backward_assign if assign else L.embedding_backward
    return oracle.check_pair(L.embedding_forward, backward, ids, {"W": (5, 3)}, seed=seed,
                             against=lambda idx, W: TF.embedding(idx, W))


def check_lstm_step(carry_dnext_c, seed):
    d, h = 3, 4
    return oracle.check_rnn_step(
        L.lstm_step_forward, L.make_lstm_step_backward(carry_dnext_c=carry_dnext_c), (2, d),
        {"Wx": (d, 4 * h), "Wh": (h, 4 * h), "b": (4 * h,)},
        states={"prev_h": (2, h), "prev_c": (2, h)}, against=torch.nn.LSTMCell(d, h),
        mapping={"Wx": oracle.Param("weight_ih", transpose=True),
                 "Wh": oracle.Param("weight_hh", transpose=True), "b": "bias_ih"}, seed=seed)


def check_adam(bias_correction, seed):
    return oracle.check_optimizer(L.make_adam(bias_correction), {"w": (3, 4), "b": (4,)},
                                  config={"learning_rate": 1e-2}, seed=seed,
                                  against=lambda p: torch.optim.Adam(p, lr=1e-2))


def section(title):
    print(f"\n{'=' * 8} {title}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m scripts.oracle_demo",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0,
                   help="seed for the drawn inputs, parameters and upstream gradient (default 0)")
    p.add_argument("--skip-search", action="store_true",
                   help="skip the hypothesis search for the max-pooling tie bug")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    caught = []
    section("1. fully connected layer, backward returns dW transposed")
    report = check_fc(True, args.seed)
    print(report)
    caught.append(any("transpose" in d for d in report.row("dW").diagnoses))
    section("2. CS231n conv pair, dx by full correlation without rotating the kernel")
    report = check_conv(False, args.seed)
    print(report)
    caught.append(any("kernel flip" in d for d in report.row("dx").diagnoses))
    section("3. the corrected layers")
    for report in (check_fc(False, args.seed), check_conv(True, args.seed)):
        print(report, end="\n\n")
        caught.append(report.ok)
    if not args.skip_search:
        section("4. max pooling that sends the gradient to every tied maximum, searched")
        try:
            caught.append(search_pool_bug())
        except ImportError:
            print("hypothesis is not installed (pip install -e '.[test]'); skipped")
    section("5. a micrograd-style Value engine assigning gradients with = instead of +=")
    try:
        report = check_engine(False, args.seed)
        print(report)
        caught.append(any("instead of accumulated" in d for r in report.failures
                          for d in r.diagnoses))
        report = check_engine(True, args.seed)
        print("\nthe fixed engine (+=):")
        print(report)
        caught.append(report.ok)
    except ImportError:
        print("hypothesis is not installed (pip install -e '.[test]'); skipped")
    section("6. an RNN whose backward through time forgets to carry dh to the previous step")
    report = check_recurrence(False, args.seed)
    print(report)
    caught.append(report.info["last_wrong_dx"] == 3
                  and any("dh not carried" in d for d in report.row("dx").diagnoses))
    print("\nthe fixed RNN:")
    report = check_recurrence(True, args.seed)
    print(report)
    caught.append(report.ok)
    section("7. a ReLU backward that masks the caller's dout in place and returns it")
    report = check_relu(True, args.seed)
    print(report)
    caught.append(all(r.ok for r in report.rows) and {(f.tensor, f.kind) for f in
                  report.in_place} == {("dout", "modified"), ("dx", "shares memory")})
    caught.append(check_relu(False, args.seed).ok)
    section("8. an embedding on integer token ids whose backward loses repeated ids")
    report = check_embedding(True, args.seed)
    print(report)
    caught.append([r.tensor for r in report.failures] == ["dW"])
    caught.append(check_embedding(False, args.seed).ok)
    section("9. an LSTM step against torch.nn.LSTMCell, ignoring the cell-state gradient")
    report = check_lstm_step(False, args.seed)
    print(report)
    caught.append("dprev_c" in [r.tensor for r in report.failures])
    caught.append(check_lstm_step(True, args.seed).ok)
    section("10. a CS231n Adam without bias correction against torch.optim.Adam")
    report = check_adam(False, args.seed)
    print(report)
    caught.append(any("bias correction is missing" in d for r in report.failures
                      for d in r.diagnoses) and report.info["first_wrong_step"] == 1)
    caught.append(check_adam(True, args.seed).ok)
    print("demo:", "every bug pinpointed, every fix passes" if all(caught) else "UNEXPECTED")
    return 0 if all(caught) else 1


if __name__ == "__main__":
    raise SystemExit(main())
