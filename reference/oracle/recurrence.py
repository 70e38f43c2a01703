"""Checks of recurrences: an RNN step, or a whole sequence with backprop through time.

CS231n's shapes, with no glue:

- :func:`check_rnn_step`: ``step_forward(x, prev_h, *params) -> (next_h, cache)``
  and ``step_backward(dnext_h, cache) -> (dx, dprev_h, *dparams)``;
- :func:`check_rnn`: ``forward(x, h0, *params) -> (h, cache)`` with x (N, T, D),
  h0 (N, H), h (N, T, H), and ``backward(dh, cache) -> (dx, dh0, *dparams)``,
  where ``dh`` (N, T, H) is the upstream gradient of every hidden state.

The torch side is CS231n's vanilla RNN, ``h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b)``
(params named ``Wx`` (D, H), ``Wh`` (H, H), ``b`` (H,)), a ``torch.nn.RNN``
(``batch_first=True``, one layer; your ``Wx``, ``Wh``, ``b`` map onto its
``weight_ih_l0``, ``weight_hh_l0`` transposed and ``bias_ih_l0``, its
``bias_hh_l0`` held at 0), or your torch function ``f(x, h0, **params) -> h``
(``f(x, prev_h, **params) -> next_h`` for a step).

A sequence report adds a per-time-step table: the error of ``h[:, t]`` and
of ``dx[:, t]`` at each step, and where along the sequence each first goes
wrong. Backprop through time runs from the last step back, so a ``dh`` not
carried to the previous step leaves the last step right and every earlier
one wrong; the oracle also builds that wrong answer with torch (each step's
input ``h_{t-1}`` cut from the graph) and names it when yours matches.
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from reference.oracle.diagnose import diagnose
from reference.oracle.inputs import prepare, prepare_params, upstream_maker
from reference.oracle.report import OracleError, Report, compare, out_of_tolerance, tolerance
from reference.oracle.user import function_name

NOT_CARRIED = ("equals the gradient with dh not carried to the previous step (each step "
               "backpropagates only its own dh[:, t]): in the backward loop, add the dprev_h "
               "of step t + 1 to dh[:, t] before backpropagating step t")


def vanilla_step(x, prev_h, Wx, Wh, b):
    """CS231n's ``rnn_step_forward`` in torch: ``tanh(x @ Wx + prev_h @ Wh + b)``."""
    return torch.tanh(x @ Wx + prev_h @ Wh + b)


def _sequence_fn(counterpart, names):
    """``f(x, h0, params, carry=True) -> h`` in torch, for the counterpart given."""
    if counterpart is None or isinstance(counterpart, torch.nn.RNN):
        module = counterpart
        if module is not None and (module.num_layers != 1 or not module.batch_first
                                   or module.bidirectional):
            raise OracleError("torch.nn.RNN counterpart must have one layer, batch_first=True, "
                              "bidirectional=False")
        nonlinear = torch.tanh if module is None or module.nonlinearity == "tanh" else torch.relu
        missing = {"Wx", "Wh", "b"} - set(names)
        if missing:
            raise OracleError(f"the built-in vanilla RNN needs params named Wx, Wh, b; yours "
                              f"are {names}; pass your own torch function as counterpart")

        def run(x, h0, p, carry=True):
            if module is not None and carry:
                weights = {"weight_ih_l0": p["Wx"].T, "weight_hh_l0": p["Wh"].T,
                           "bias_ih_l0": p["b"], "bias_hh_l0": torch.zeros_like(p["b"])}
                return torch.func.functional_call(module.double(), weights, (x, h0[None]))[0]
            h, hs = h0, []
            for t in range(x.shape[1]):
                prev = h if carry or t == 0 else h.detach()
                h = nonlinear(x[:, t] @ p["Wx"] + prev @ p["Wh"] + p["b"])
                hs.append(h)
            return torch.stack(hs, dim=1)
        return run

    def run_user(x, h0, p, carry=True):
        if not carry:
            return None
        return counterpart(x, h0, **p)
    return run_user


def _autograd(fn, x, h0, values, dh, carry=True):
    tx = torch.tensor(x, requires_grad=True)
    th0 = torch.tensor(h0, requires_grad=True)
    tp = {n: torch.tensor(v, requires_grad=True) for n, v in values.items()}
    h = fn(tx, th0, tp, carry)
    if h is None:
        return None
    h.backward(torch.as_tensor(dh))
    grads = {n: (t.grad.numpy() if t.grad is not None else np.zeros(t.shape))
             for n, t in tp.items()}
    dh0 = th0.grad.numpy() if th0.grad is not None else np.zeros(h0.shape)
    return h.detach().numpy(), tx.grad.numpy(), dh0, grads


def _returns(result, want, label):
    result = result if isinstance(result, (tuple, list)) else (result,)
    if len(result) != len(want):
        raise OracleError(f"{label} returned {len(result)} value(s); expected {len(want)}: "
                          f"{', '.join(want)} (in this order; the order of params is the "
                          f"order of the parameter gradients)")
    for name, value in zip(want, result):
        if value is None:
            raise OracleError(f"{label} returned None for {name}; expected an array")
    return [np.asarray(v, np.float64) for v in result]


def _prepare(x, h0, params, hidden, seed):
    rng = np.random.default_rng(seed)
    values = prepare_params(dict(params), rng, np.float64)
    def normal(r, shape):
        return np.round(r.standard_normal(shape) * 2) / 2
    x = prepare("x", x, rng, np.float64, normal)
    if h0 is None:
        h0 = (x.shape[0], hidden)
    h0 = prepare("h0", h0, rng, np.float64, normal)
    return x, h0, values


def _hidden_size(params, h0):
    if h0 is not None:
        return np.shape(h0)[-1] if not isinstance(h0, tuple) else h0[-1]
    wh = params.get("Wh")
    if wh is None:
        raise OracleError("give h0 (an array or a shape (N, H))")
    return (wh if isinstance(wh, tuple) else np.shape(wh))[0]


def check_rnn(forward, backward, x, params, h0=None, counterpart=None, *, dh=None, seed=0,
              rtol=None, atol=None) -> Report:
    """Compare a whole-sequence RNN forward/backward with torch autograd.

    forward: ``forward(x, h0, *params.values()) -> (h, cache)``.
    backward: ``backward(dh, cache) -> (dx, dh0, *dparams)`` in the order of ``params``.
    x: (N, T, D) array or shape; h0: (N, H) array or shape (default: drawn,
        with H from ``Wh``); params: name -> array or shape, drawn uniform in
        [-1, 1]. Drawn x and h0 are multiples of 0.5 from ``seed``.
    counterpart: None (CS231n's vanilla tanh RNN in torch), a ``torch.nn.RNN``,
        or ``f(x, h0, **params) -> h`` in torch. The "dh not carried"
        diagnosis is built for the first two.
    dh: the upstream gradient of every hidden state (N, T, H); default drawn
        standard normal from ``seed`` (the same seed draws x, h0 and params).
    """
    params = dict(params)
    x, h0, values = _prepare(x, h0, params, _hidden_size(params, h0), seed)
    if isinstance(counterpart, torch.nn.RNN):
        counterpart = copy.deepcopy(counterpart)
        _check_rnn_module_shapes(counterpart, values)
    fn = _sequence_fn(counterpart, list(values))
    n, t_len = x.shape[:2]
    hidden = h0.shape[-1]
    make = upstream_maker(dh, seed, np.float64)
    dh = np.asarray(make((n, t_len, hidden)), np.float64)
    expected = _autograd(fn, x, h0, values, dh)
    t_h, t_dx, t_dh0, t_grads = expected
    label, blabel = function_name(forward), function_name(backward)
    h, cache = _pair(forward(x.copy(), h0.copy(), *(v.copy() for v in values.values())),
                     label)
    dx, dh0, *dparams = _returns(backward(dh.copy(), cache), ["dx", "dh0"] + [
        f"d{k}" for k in values], blabel)
    rtol, atol_scale = tolerance(np.float64, rtol, atol)
    actual = {"h": h, "dx": dx, "dh0": dh0, **{f"d{k}": g for k, g in zip(values, dparams)}}
    right = {"h": t_h, "dx": t_dx, "dh0": t_dh0, **{f"d{k}": t_grads[k] for k in values}}
    rows = [compare(k, actual[k], right[k], rtol, atol_scale) for k in right]
    report_info = _steps(actual["h"], t_h, dx, t_dx, rtol, atol_scale)
    if not all(r.ok for r in rows):
        cut = _autograd(fn, x, h0, values, dh, carry=False)
        cands = {}
        if cut is not None:
            c_h, c_dx, c_dh0, c_grads = cut
            cands = {"dx": c_dx, "dh0": c_dh0, **{f"d{k}": c_grads[k] for k in values}}
        for r in rows:
            if r.verdict != "ok":
                extra = [(cands[r.tensor], NOT_CARRIED)] if r.tensor in cands else []
                r.diagnoses = diagnose(actual[r.tensor], right[r.tensor], rtol, atol_scale,
                                       batch=n, candidates=extra)
    torch_name = ("CS231n's vanilla RNN in torch" if counterpart is None else
                  "torch.nn.RNN" if isinstance(counterpart, torch.nn.RNN)
                  else function_name(counterpart))
    title = (f"{label}/{blabel} vs {torch_name} (float64, seed {seed}, x {x.shape}, "
             f"h0 {h0.shape})")
    report = Report(title, rows, report_info.pop("notes"), extra=report_info.pop("table"))
    report.info.update(report_info)
    return report


def _check_rnn_module_shapes(module, values):
    want = {"Wx": tuple(module.weight_ih_l0.shape[::-1]),
            "Wh": tuple(module.weight_hh_l0.shape[::-1]), "b": tuple(module.bias_ih_l0.shape)
            if module.bias else None}
    for name, shape in want.items():
        if shape is not None and tuple(values[name].shape) != shape:
            raise OracleError(f"your {name!r} has shape {values[name].shape}; torch.nn.RNN's "
                              f"counterpart (transposed, CS231n layout) has {shape}")


def _pair(result, label):
    if not (isinstance(result, tuple) and len(result) == 2):
        raise OracleError(f"{label} returned {type(result).__name__}; expected (h, cache)")
    return np.asarray(result[0], np.float64), result[1]


def _steps(h, t_h, dx, t_dx, rtol, atol_scale) -> dict:
    """The per-time-step table and where h and dx first go wrong."""
    if h.shape != t_h.shape or dx.shape != t_dx.shape:
        return {"notes": [], "table": [], "first_wrong_h": None, "last_wrong_dx": None}
    t_len = h.shape[1]
    wrong_h = out_of_tolerance(h, t_h, rtol, atol_scale).reshape(h.shape[0], t_len, -1).any(
        axis=(0, 2))
    wrong_dx = out_of_tolerance(dx, t_dx, rtol, atol_scale).reshape(dx.shape[0], t_len, -1).any(
        axis=(0, 2))
    lines = ["per time step:", "  t   h max abs err  h       dx max abs err  dx"]
    for t in range(t_len):
        lines.append(f"  {t:<3} {np.abs(h[:, t] - t_h[:, t]).max():<14.2e} "
                     f"{'WRONG' if wrong_h[t] else 'ok':<7} "
                     f"{np.abs(dx[:, t] - t_dx[:, t]).max():<15.2e} "
                     f"{'WRONG' if wrong_dx[t] else 'ok'}")
    notes = []
    first_h = int(np.argmax(wrong_h)) if wrong_h.any() else None
    last_dx = int(t_len - 1 - np.argmax(wrong_dx[::-1])) if wrong_dx.any() else None
    if first_h is not None:
        notes.append(f"the forward first goes wrong at step t = {first_h} (h is carried "
                     f"forward, so later steps inherit it)")
    if last_dx is not None:
        right_after = "right at every later step" if last_dx < t_len - 1 else "wrong already"
        notes.append(f"backprop through time (from t = {t_len - 1} back) first goes wrong at "
                     f"step t = {last_dx} ({right_after}"
                     f"{': look at what step t + 1 passes back' if last_dx < t_len - 1 else ''})")
    return {"notes": notes, "table": ["\n".join(lines)], "first_wrong_h": first_h,
            "last_wrong_dx": last_dx}


def check_rnn_step(step_forward, step_backward, x, prev_h, params, counterpart=None, *,
                   dout=None, seed=0, rtol=None, atol=None) -> Report:
    """Compare one RNN step, CS231n's ``rnn_step_forward``/``rnn_step_backward``, with torch.

    step_forward: ``(x, prev_h, *params.values()) -> (next_h, cache)``.
    step_backward: ``(dnext_h, cache) -> (dx, dprev_h, *dparams)``.
    counterpart: ``f(x, prev_h, **params) -> next_h`` in torch; default
        :func:`vanilla_step` (params ``Wx``, ``Wh``, ``b``).
    """
    params = dict(params)
    x, prev_h, values = _prepare(x, prev_h, params, _hidden_size(params, prev_h), seed)
    fn = vanilla_step if counterpart is None else counterpart
    tx = torch.tensor(x, requires_grad=True)
    th = torch.tensor(prev_h, requires_grad=True)
    tp = {n: torch.tensor(v, requires_grad=True) for n, v in values.items()}
    out = fn(tx, th, **tp)
    dnext = np.asarray(upstream_maker(dout, seed, np.float64)(tuple(out.shape)))
    out.backward(torch.as_tensor(dnext))
    right = {"next_h": out.detach().numpy(), "dx": tx.grad.numpy(), "dprev_h": th.grad.numpy(),
             **{f"d{n}": t.grad.numpy() for n, t in tp.items()}}
    label, blabel = function_name(step_forward), function_name(step_backward)
    next_h, cache = _pair(step_forward(x.copy(), prev_h.copy(),
                                       *(v.copy() for v in values.values())), label)
    got = _returns(step_backward(dnext.copy(), cache), ["dx", "dprev_h"] + [
        f"d{k}" for k in values], blabel)
    actual = dict(zip(["next_h", "dx", "dprev_h"] + [f"d{k}" for k in values], [next_h, *got]))
    rtol, atol_scale = tolerance(np.float64, rtol, atol)
    rows = [compare(k, actual[k], right[k], rtol, atol_scale) for k in right]
    for r in rows:
        if r.verdict != "ok":
            r.diagnoses = diagnose(actual[r.tensor], right[r.tensor], rtol, atol_scale,
                                   batch=x.shape[0])
    torch_name = "CS231n's vanilla step in torch" if counterpart is None else function_name(fn)
    return Report(f"{label}/{blabel} vs {torch_name} (float64, seed {seed}, x {x.shape}, "
                  f"prev_h {prev_h.shape})", rows)
