"""reference.oracle's one API: your code, the input, the parameters, then keywords.

Every check takes ``against=`` (a torch module, a torch function, or
``oracle.finite_differences``) and names the upstream gradient ``dout``. The
call forms of the previous version still run, for one release, with a
``DeprecationWarning`` that spells the new form, and give the same report.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from reference import oracle
from scripts.oracle_examples import (
    make_rnn_backward,
    make_value,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)

RNN = {"Wx": (3, 4), "Wh": (4, 4), "b": (4,)}


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def affine_grads(x, w, b, y):
    z = x @ w + b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    p /= len(y)
    return p @ w.T, x.T @ p, p.sum(axis=0)


def numpy_loss(x, w, b, y):
    z = x @ w + b
    z = z - z.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))


def torch_loss(x, w, b, y):
    return TF.cross_entropy(x @ w + b, y)


PAIR = {"w": (3, 2), "b": (2,)}
INPUTS = dict(x=(4, 3), w=(3, 5), b=(5,), y=np.array([0, 4, 2, 2]))

# (old call, new call): each pair must give the same table, the old one warning
CALLS = {
    "check_pair": (
        lambda: oracle.check_pair(affine_forward, affine_backward, lambda x, w, b: x @ w + b,
                                  (4, 3), PAIR),
        lambda: oracle.check_pair(affine_forward, affine_backward, (4, 3), PAIR,
                                  against=lambda x, w, b: x @ w + b)),
    "check_pair_numerically": (
        lambda: oracle.check_pair_numerically(affine_forward, affine_backward, (4, 3), PAIR),
        lambda: oracle.check_pair(affine_forward, affine_backward, (4, 3), PAIR,
                                  against=oracle.finite_differences())),
    "check_module": (
        lambda: oracle.check_module(torch_free_linear(), torch.nn.Linear(3, 2), x=(4, 3)),
        lambda: oracle.check_module(torch_free_linear(), (4, 3), against=torch.nn.Linear(3, 2))),
    "check_module_numerically": (
        lambda: oracle.check_module_numerically(torch_free_linear(), (4, 3)),
        lambda: oracle.check_module(torch_free_linear(), (4, 3),
                                    against=oracle.finite_differences())),
    "check_gradients": (
        lambda: oracle.check_gradients(affine_grads, torch_loss, INPUTS, ("x", "w", "b")),
        lambda: oracle.check_gradients(affine_grads, INPUTS, against=torch_loss,
                                       returns=("x", "w", "b"))),
    "check_gradients_numerically": (
        lambda: oracle.check_gradients_numerically(affine_grads, numpy_loss, INPUTS,
                                                   ("x", "w", "b")),
        lambda: oracle.check_gradients(affine_grads, INPUTS,
                                       against=oracle.finite_differences(numpy_loss),
                                       returns=("x", "w", "b"))),
    "check_rnn": (
        lambda: oracle.check_rnn(rnn_forward, make_rnn_backward(), (2, 3, 3), RNN, (2, 4),
                                 None, dh=None),
        lambda: oracle.check_rnn(rnn_forward, make_rnn_backward(), (2, 3, 3), RNN,
                                 states={"h0": (2, 4)}, dout=None)),
    "check_rnn with torch.nn.RNN": (
        lambda: oracle.check_rnn(rnn_forward, make_rnn_backward(), (2, 3, 3), RNN, h0=(2, 4),
                                 counterpart=torch.nn.RNN(3, 4, batch_first=True)),
        lambda: oracle.check_rnn(rnn_forward, make_rnn_backward(), (2, 3, 3), RNN,
                                 states={"h0": (2, 4)},
                                 against=torch.nn.RNN(3, 4, batch_first=True))),
    "check_rnn_step": (
        lambda: oracle.check_rnn_step(rnn_step_forward, rnn_step_backward, (2, 3), (2, 4), RNN),
        lambda: oracle.check_rnn_step(rnn_step_forward, rnn_step_backward, (2, 3), RNN,
                                      states={"prev_h": (2, 4)})),
    "check_scalar_graph": (
        lambda: oracle.check_scalar_graph(make_value(), product_plus, ("a", "b"), product_plus,
                                          values={"a": 0.5, "b": -1.5}),
        lambda: oracle.check_scalar_graph(make_value(), product_plus, ("a", "b"),
                                          against=product_plus, values={"a": 0.5, "b": -1.5})),
}


def product_plus(a, b):
    return a * b + a


def torch_free_linear():
    from scratch import nn
    return nn.Linear(3, 2)


@pytest.mark.parametrize("name", CALLS)
def test_old_call_forms_warn_with_the_new_form_and_give_the_same_report(name):
    old, new = CALLS[name]
    with pytest.warns(DeprecationWarning, match=r"deprecated.*write oracle\.check_\w+\(") as got:
        old_report = old()
    assert "against=" in str(got[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        new_report = new()
    assert old_report.ok and new_report.ok, f"{old_report}\n{new_report}"
    assert str(old_report) == str(new_report)


def test_every_check_takes_against_as_a_keyword_after_code_input_and_parameters():
    import inspect
    for name in ("check_module", "check_pair", "check_gradients", "check_rnn",
                 "check_rnn_step", "check_optimizer", "check_scalar_graph"):
        fn = getattr(oracle, name, None)
        if fn is None:
            continue
        params = inspect.signature(fn).parameters
        assert params["against"].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert "dout" in params or name in ("check_gradients", "check_optimizer",
                                            "check_scalar_graph"), name
        assert "counterpart" not in params and "dh" not in params, name


def test_finite_differences_refuse_float32():
    with pytest.raises(oracle.OracleError, match="finite differences run in float64 only"):
        oracle.check_pair(affine_forward, affine_backward, (4, 3), PAIR,
                          against=oracle.finite_differences(), dtype=np.float32)


def test_check_gradients_with_finite_differences_needs_the_numpy_loss():
    with pytest.raises(oracle.OracleError, match=r"finite_differences\(loss\)"):
        oracle.check_gradients(affine_grads, INPUTS, against=oracle.finite_differences(),
                               returns=("x", "w", "b"))
