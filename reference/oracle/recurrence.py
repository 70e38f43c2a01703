"""Checks of recurrences: one step with any number of states, or a whole sequence.

CS231n's shapes, with no glue; ``states=`` names the recurrent states in the
order your forward takes them (default one: ``prev_h`` for a step, ``h0``
for a sequence):

- :func:`check_rnn_step`: ``forward(x, *states, *params) -> (*next_states, cache)``
  and ``backward(*dnext_states, cache) -> (dx, *dstates, *dparams)``, e.g. an
  RNN step (``prev_h``) or an LSTM step (``prev_h``, ``prev_c``);
- :func:`check_rnn`: ``forward(x, *states, *params) -> (h, cache)`` with x
  (N, T, D), h (N, T, H), and ``backward(dout, cache) -> (dx, *dstates,
  *dparams)``, where ``dout`` (N, T, H) is the upstream gradient of every
  hidden state.

The torch side (``against=``) is CS231n's vanilla RNN,
``h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b)`` (params ``Wx`` (D, H), ``Wh``
(H, H), ``b`` (H,)) when None; a torch cell (``RNNCell``, ``GRUCell``,
``LSTMCell``) or recurrent module (``RNN``, ``GRU``, ``LSTM``: one layer,
``batch_first=True``), called through ``torch.func.functional_call`` with
your parameters named by ``mapping`` (``torch.nn.RNN`` maps ``Wx``, ``Wh``,
``b`` onto ``weight_ih_l0``, ``weight_hh_l0`` transposed and ``bias_ih_l0``
by itself; a torch parameter none of yours maps onto is held at 0, noted);
or your torch function ``f(x, *states, **params)``.

A sequence report adds a per-time-step table: the error of ``h[:, t]`` and
of ``dx[:, t]`` at each step, and where along the sequence each first goes
wrong. Backprop through time runs from the last step back, so a ``dh`` not
carried to the previous step leaves the last step right and every earlier
one wrong; for the vanilla RNN the oracle also builds that wrong answer with
torch (each step's input ``h_{t-1}`` cut from the graph) and names it when
yours matches. Every array handed to your code is watched for in-place
writes (:mod:`reference.oracle.inplace`).
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from reference.oracle.against import accepts_old_forms
from reference.oracle.diagnose import diagnose
from reference.oracle.inplace import Guard
from reference.oracle.inputs import prepare, prepare_params, upstream_maker
from reference.oracle.params import Param, resolve_mapping
from reference.oracle.report import OracleError, Report, compare, out_of_tolerance, tolerance
from reference.oracle.user import function_name

NOT_CARRIED = ("equals the gradient with dh not carried to the previous step (each step "
               "backpropagates only its own dh[:, t]): in the backward loop, add the dprev_h "
               "of step t + 1 to dh[:, t] before backpropagating step t")


def vanilla_step(x, prev_h, Wx, Wh, b):
    """CS231n's ``rnn_step_forward`` in torch: ``tanh(x @ Wx + prev_h @ Wh + b)``."""
    return torch.tanh(x @ Wx + prev_h @ Wh + b)


def _vanilla(nonlinear, names):
    """CS231n's vanilla RNN over a sequence, ``fn(x, [h0], p, carry)``; ``carry=False``
    cuts each step's input ``h_{t-1}`` from the graph (the "dh not carried" answer)."""
    missing = {"Wx", "Wh", "b"} - set(names)
    if missing:
        raise OracleError(f"the built-in vanilla RNN needs params named Wx, Wh, b; yours "
                          f"are {names}; pass your own torch function or module as against=")

    def run(x, states, p, carry=True):
        h, hs = states[0], []
        for t in range(x.shape[1]):
            prev = h if carry or t == 0 else h.detach()
            h = nonlinear(x[:, t] @ p["Wx"] + prev @ p["Wh"] + p["b"])
            hs.append(h)
        return torch.stack(hs, dim=1)
    return run


def _module_weights(module, mapping, names, label):
    """``(resolve(p) -> torch's parameter dict, notes)``: yours mapped onto the module's
    names (unmapped torch parameters held at zero, and said so)."""
    shapes = {n: tuple(t.shape) for n, t in module.named_parameters()}
    resolved = resolve_mapping(names, shapes, set(), mapping, label)
    held = sorted(set(shapes) - {p.torch_name for p in resolved.values()})
    notes = ([f"{label}'s {', '.join(held)} held at 0: none of your parameters maps onto "
              f"{'them' if len(held) > 1 else 'it'}"] if held else [])

    def weights(p):
        out = {}
        for name, param in resolved.items():
            t = p[name]
            axes = param._axes(t.ndim)
            t = t.permute(*axes) if axes is not None else t
            if param.to_torch is not None:
                t = param.to_torch(t)
            t = param.reorder(t)
            if tuple(t.shape) != shapes[param.torch_name]:
                raise OracleError(f"your {name!r} becomes {tuple(t.shape)} in torch's layout; "
                                  f"{label}'s {param.torch_name!r} has shape "
                                  f"{shapes[param.torch_name]} (map it with mapping=, e.g. "
                                  f"Param({param.torch_name!r}, transpose=True))")
            out[param.torch_name] = t
        for name in held:
            out[name] = torch.zeros(shapes[name], dtype=torch.float64)
        return out
    return weights, notes


RNN_MAPPING = {"Wx": Param("weight_ih_l0", transpose=True),
               "Wh": Param("weight_hh_l0", transpose=True), "b": "bias_ih_l0"}


def _torch_side(against, names, mapping, sequence: bool):
    """``(fn(x, states, params, carry) -> output(s) or None, label, notes, cut)``.

    ``cut``: whether ``carry=False`` builds the "dh not carried" answer.
    """
    if against is None:
        if sequence:
            return _vanilla(torch.tanh, names), "CS231n's vanilla RNN in torch", [], True
        missing = {"Wx", "Wh", "b"} - set(names)
        if missing:
            raise OracleError(f"the built-in vanilla step needs params named Wx, Wh, b; "
                              f"yours are {names}; pass against=")
        return (lambda x, st, p, carry=True: vanilla_step(x, *st, **p),
                "CS231n's vanilla step in torch", [], False)
    if isinstance(against, torch.nn.Module):
        module = copy.deepcopy(against).double()
        label = f"torch.nn.{type(module).__name__}"
        if isinstance(module, torch.nn.RNNBase):
            if module.num_layers != 1 or not module.batch_first or module.bidirectional:
                raise OracleError(f"{label} as against= must have one layer, batch_first=True "
                                  f"and bidirectional=False")
            if not sequence:
                raise OracleError(f"{label} runs a whole sequence; for one step use "
                                  f"{label}Cell, or check_rnn for the sequence")
        elif isinstance(module, torch.nn.RNNCellBase) and sequence:
            raise OracleError(f"{label} is one step; use check_rnn_step, or "
                              f"torch.nn.{type(module).__name__[:-4]} for a sequence")
        if isinstance(module, torch.nn.RNN) and mapping is None and set(names) == set(
                RNN_MAPPING):
            mapping = RNN_MAPPING
        weights, notes = _module_weights(module, mapping, names, label)
        lstm = isinstance(module, (torch.nn.LSTM, torch.nn.LSTMCell))
        plain = isinstance(module, torch.nn.RNN) and mapping is RNN_MAPPING

        def run_module(x, states, p, carry=True):
            if not carry:
                if not plain:
                    return None
                return _vanilla(torch.tanh if module.nonlinearity == "tanh" else torch.relu,
                                names)(x, states, p, carry)
            if isinstance(module, torch.nn.RNNBase):
                hx = [s[None] for s in states]
                if lstm and len(hx) == 1:   # CS231n's lstm_forward: c0 = 0 inside
                    hx.append(torch.zeros_like(hx[0]))
                hx = tuple(hx) if lstm else hx[0]
                return torch.func.functional_call(module, weights(p), (x, hx))[0]
            hx = tuple(states) if lstm else states[0]
            return torch.func.functional_call(module, weights(p), (x, hx))
        return run_module, label, notes, plain

    def run_user(x, states, p, carry=True):
        return against(x, *states, **p) if carry else None
    return run_user, function_name(against), [], False


def _as_list(value):
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _autograd(fn, x, states, values, douts, carry=True):
    """``(outputs, dx, dstates, dparams)`` by autograd of ``fn(x, states, params, carry)``."""
    tx = torch.tensor(x, requires_grad=True)
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    tp = {n: torch.tensor(v, requires_grad=True) for n, v in values.items()}
    outs = fn(tx, ts, tp, carry)
    if outs is None:
        return None
    outs = _as_list(outs)
    torch.autograd.backward(outs, [torch.as_tensor(d) for d in douts])
    grads = {n: (t.grad.numpy() if t.grad is not None else np.zeros(t.shape))
             for n, t in tp.items()}
    dstates = [t.grad.numpy() if t.grad is not None else np.zeros(t.shape) for t in ts]
    return ([o.detach().numpy() for o in outs], tx.grad.numpy(), dstates, grads)


def _torch_outputs(fn, x, states, values) -> list:
    """The counterpart's outputs alone (their number and shapes set the upstream gradients)."""
    with torch.no_grad():
        outs = fn(torch.as_tensor(x), [torch.as_tensor(s) for s in states],
                  {n: torch.as_tensor(v) for n, v in values.items()}, True)
    return [o.numpy() for o in _as_list(outs)]


def _returns(result, want, label):
    result = result if isinstance(result, (tuple, list)) else (result,)
    if len(result) != len(want):
        raise OracleError(f"{label} returned {len(result)} value(s); expected {len(want)}: "
                          f"{', '.join(want)} (in this order; the order of params is the "
                          f"order of the parameter gradients)")
    for name, value in zip(want, result):
        if value is None:
            raise OracleError(f"{label} returned None for {name}; expected an array")
    return list(result)


def _draw_states(states, x, params, default: str, rng) -> dict:
    """Your states, name -> array or shape; default ``{default: (N, H)}``, H from ``Wh``."""
    if states is None:
        wh = params.get("Wh")
        if wh is None:
            raise OracleError(f"give the recurrent state(s), e.g. states={{{default!r}: "
                              f"(N, H)}} (H cannot be read from a parameter named Wh)")
        states = {default: (x.shape[0], (wh if isinstance(wh, tuple) else np.shape(wh))[0])}
    if not isinstance(states, dict) or not states:
        raise OracleError(f"states must be a dict name -> array or shape, in the order your "
                          f"forward takes them, e.g. {{'prev_h': (N, H), 'prev_c': (N, H)}}; "
                          f"got {states!r}")
    return {n: prepare(f"state {n!r}", v, rng, np.float64, _halves) for n, v in states.items()}


def _halves(rng, shape):
    return np.round(rng.standard_normal(shape) * 2) / 2


def _prepare(x, states, params, default, seed):
    rng = np.random.default_rng(seed)
    values = prepare_params(dict(params), rng, np.float64)
    x = prepare("x", x, rng, np.float64, _halves)
    return x, _draw_states(states, x, dict(params), default, rng), values


def _upstream(dout, outputs: list, names: list, seed) -> list:
    """One upstream gradient per output: given (an array, a tuple, a dict by output name)
    or drawn standard normal from ``seed``."""
    if dout is None:
        return [np.asarray(upstream_maker(None, seed + k, np.float64)(o.shape))
                for k, o in enumerate(outputs)]
    given = [dout[n] for n in names] if isinstance(dout, dict) else _as_list(dout)
    if len(given) != len(outputs):
        raise OracleError(f"dout holds {len(given)} array(s); the counterpart has "
                          f"{len(outputs)} output(s): {', '.join(names)}")
    return [np.asarray(upstream_maker(g, seed, np.float64)(o.shape)) for g, o in
            zip(given, outputs)]


def _run_yours(forward, backward, x, states, values, douts, outputs, state_names, guard):
    """Your forward and backward on watched arrays: ``(outputs, dx, dstates, dparams)``."""
    label, blabel = function_name(forward), function_name(backward)
    x_in = guard.hand("x", x)
    s_in = [guard.hand(n, s, f"state {n!r}") for n, s in states.items()]
    p_in = [guard.hand(n, v, f"parameter {n!r}") for n, v in values.items()]
    result = forward(x_in, *s_in, *p_in)
    k = len(outputs)
    if not (isinstance(result, tuple) and len(result) == k + 1):
        got = (f"a tuple of {len(result)}" if isinstance(result, tuple)
               else type(result).__name__)
        raise OracleError(f"{label} returned {got}; expected ({', '.join(outputs)}, cache)")
    guard.check_modified(label)
    mine, cache = [np.asarray(o, np.float64) for o in result[:k]], result[k]
    d_in = [guard.hand(f"d{o}", d) for o, d in zip(outputs, douts)]
    want = ["dx"] + [f"d{n}" for n in state_names] + [f"d{n}" for n in values]
    got = _returns(backward(*d_in, cache), want, blabel)
    guard.check_modified(blabel)
    guard.check_aliasing(dict(zip(want, got)), blabel)
    got = [np.asarray(g, np.float64) for g in got]
    n_states = len(state_names)
    return mine, got[0], got[1:1 + n_states], dict(zip(values, got[1 + n_states:]))


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


def _old_rnn_call(args, kwargs):
    """``check_rnn(forward, backward, x, params, h0, counterpart, *, dh=...)`` -> new form."""
    old = len(args) > 4 or {"h0", "counterpart", "dh"} & set(kwargs)
    if not old:
        return None
    h0 = args[4] if len(args) > 4 else kwargs.pop("h0", None)
    against = args[5] if len(args) > 5 else kwargs.pop("counterpart", None)
    if "dh" in kwargs:
        kwargs["dout"] = kwargs.pop("dh")
    kwargs.setdefault("against", against)
    if h0 is not None:
        kwargs["states"] = {"h0": h0}
    return args[:4], kwargs, ("forward, backward, x, params, *, states={'h0': h0}, "
                              "against=counterpart, dout=dh, ...")


def _old_step_call(args, kwargs):
    """``check_rnn_step(f, b, x, prev_h, params, counterpart, ...)`` -> the new form."""
    if len(args) >= 5 or (len(args) == 4 and not isinstance(args[3], dict)):
        prev_h = args[3]
        params = args[4] if len(args) > 4 else kwargs.pop("params")
        rest = args[5:]
    elif "prev_h" in kwargs or "counterpart" in kwargs:
        prev_h = kwargs.pop("prev_h", None)
        params = args[3] if len(args) > 3 else kwargs.pop("params")
        rest = ()
    else:
        return None
    against = rest[0] if rest else kwargs.pop("counterpart", None)
    kwargs.setdefault("against", against)
    if prev_h is not None:
        kwargs["states"] = {"prev_h": prev_h}
    return (*args[:3], params), kwargs, ("forward, backward, x, params, *, "
                                         "states={'prev_h': prev_h}, against=counterpart, ...")


@accepts_old_forms(_old_rnn_call)
def check_rnn(forward, backward, x, params, *, states=None, against=None, mapping=None,
              dout=None, seed=0, rtol=None, atol=None) -> Report:
    """Check a whole-sequence recurrence's forward and backward through time against torch.

    forward: ``forward(x, *states.values(), *params.values()) -> (h, cache)``,
        x (N, T, D), h (N, T, H).
    backward: ``backward(dout, cache) -> (dx, *dstates, *dparams)``, in the
        order of ``states`` then ``params``; ``dout`` (N, T, H) is the upstream
        gradient of every hidden state.
    x: (N, T, D) array or shape; params: name -> array or shape (drawn
        uniform in [-1, 1]); states: name -> array or shape, in the order
        your forward takes them (default ``{"h0": (N, H)}``, H from ``Wh``).
        Drawn x and states are multiples of 0.5 from ``seed``.
    against: None (CS231n's vanilla tanh RNN, params ``Wx``, ``Wh``, ``b``),
        a ``torch.nn.RNN``/``GRU``/``LSTM`` (one layer, ``batch_first=True``;
        called through ``torch.func.functional_call`` with your parameters,
        named by ``mapping``; a ``torch.nn.RNN`` maps ``Wx``, ``Wh``, ``b``
        onto its own by itself; an LSTM given one state starts from c0 = 0, as
        CS231n's ``lstm_forward``; a torch parameter none of yours maps onto
        is held at 0 and the report says so), or ``f(x, *states, **params) -> h``.
        The "dh not carried" diagnosis is built for the vanilla RNN.
    dout: the upstream gradient (N, T, H); default drawn standard normal.

    Adds a per-time-step table (``report.info["first_wrong_h"]``,
    ``report.info["last_wrong_dx"]``) and the in-place verdict.
    """
    params = dict(params)
    x, states, values = _prepare(x, states, params, "h0", seed)
    fn, torch_name, notes, cut = _torch_side(against, list(values), mapping, sequence=True)
    state_names = list(states)
    outputs = ["h"]
    t_shapes = _torch_outputs(fn, x, list(states.values()), values)
    if len(t_shapes) != 1:
        raise OracleError(f"{torch_name} returned {len(t_shapes)} outputs; expected h alone")
    douts = _upstream(dout, t_shapes, outputs, seed)
    t_outs, t_dx, t_dstates, t_grads = _autograd(fn, x, list(states.values()), values, douts)
    guard = Guard()
    mine, dx, dstates, dparams = _run_yours(forward, backward, x, states, values, douts,
                                            outputs, state_names, guard)
    rtol, atol_scale = tolerance(np.float64, rtol, atol)
    actual = {"h": mine[0], "dx": dx, **{f"d{n}": g for n, g in zip(state_names, dstates)},
              **{f"d{k}": g for k, g in dparams.items()}}
    right = {"h": t_outs[0], "dx": t_dx,
             **{f"d{n}": g for n, g in zip(state_names, t_dstates)},
             **{f"d{k}": t_grads[k] for k in values}}
    rows = [compare(k, actual[k], right[k], rtol, atol_scale) for k in right]
    report_info = _steps(actual["h"], t_outs[0], dx, t_dx, rtol, atol_scale)
    if not all(r.ok for r in rows):
        found = (_autograd(fn, x, list(states.values()), values, douts, carry=False)
                 if cut else None)
        cands = {}
        if found is not None:
            _, c_dx, c_dstates, c_grads = found
            cands = {"dx": c_dx, **{f"d{n}": g for n, g in zip(state_names, c_dstates)},
                     **{f"d{k}": c_grads[k] for k in values}}
        for r in rows:
            if r.verdict != "ok":
                extra = [(cands[r.tensor], NOT_CARRIED)] if r.tensor in cands else []
                r.diagnoses = diagnose(actual[r.tensor], right[r.tensor], rtol, atol_scale,
                                       candidates=extra)
    shapes = ", ".join(f"{n} {s.shape}" for n, s in states.items())
    title = (f"{function_name(forward)}/{function_name(backward)} vs {torch_name} (float64, "
             f"seed {seed}, x {x.shape}, {shapes})")
    report = Report(title, rows, notes + report_info.pop("notes"),
                    extra=report_info.pop("table"), in_place=guard.found)
    report.info.update(report_info)
    return report


@accepts_old_forms(_old_step_call)
def check_rnn_step(forward, backward, x, params, *, states=None, against=None, mapping=None,
                   dout=None, seed=0, rtol=None, atol=None) -> Report:
    """Check one recurrent step, with any number of states, against torch.

    forward: ``forward(x, *states.values(), *params.values()) -> (*next_states, cache)``,
        e.g. CS231n's ``rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)``
        or ``lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b) -> (next_h, next_c, cache)``.
    backward: ``backward(*dnext_states, cache) -> (dx, *dstates, *dparams)``,
        e.g. ``lstm_step_backward(dnext_h, dnext_c, cache) -> (dx, dprev_h, dprev_c,
        dWx, dWh, db)``.
    states: name -> array or shape, in your forward's order (default
        ``{"prev_h": (N, H)}``, H from ``Wh``); the outputs are named
        ``next_<name>`` (``prev_`` dropped), e.g. ``next_h``, ``next_c``.
    against: None (``tanh(x @ Wx + prev_h @ Wh + b)``), a
        ``torch.nn.RNNCell``/``GRUCell``/``LSTMCell`` (called through
        ``torch.func.functional_call`` with your parameters named by
        ``mapping``, e.g. ``{"Wx": Param("weight_ih", transpose=True)}``;
        unmapped torch parameters are held at 0 and noted), or a torch
        function ``f(x, *states, **params)`` returning the next state(s).
    dout: the upstream gradient(s): an array, a tuple in output order, or a
        dict by output name; default drawn standard normal from ``seed``.
    """
    params = dict(params)
    x, states, values = _prepare(x, states, params, "prev_h", seed)
    fn, torch_name, notes, _ = _torch_side(against, list(values), mapping, sequence=False)
    state_names = list(states)
    t_shapes = _torch_outputs(fn, x, list(states.values()), values)
    outputs = [f"next_{n[5:] if n.startswith('prev_') else n}" for n in state_names]
    if len(t_shapes) != len(outputs):
        outputs = ([outputs[0]] if len(t_shapes) == 1 else
                   [f"out{k}" for k in range(len(t_shapes))])
    douts = _upstream(dout, t_shapes, outputs, seed)
    t_outs, t_dx, t_dstates, t_grads = _autograd(fn, x, list(states.values()), values, douts)
    guard = Guard()
    mine, dx, dstates, dparams = _run_yours(forward, backward, x, states, values, douts,
                                            outputs, state_names, guard)
    rtol, atol_scale = tolerance(np.float64, rtol, atol)
    actual = {**dict(zip(outputs, mine)), "dx": dx,
              **{f"d{n}": g for n, g in zip(state_names, dstates)},
              **{f"d{k}": g for k, g in dparams.items()}}
    right = {**dict(zip(outputs, t_outs)), "dx": t_dx,
             **{f"d{n}": g for n, g in zip(state_names, t_dstates)},
             **{f"d{k}": t_grads[k] for k in values}}
    rows = [compare(k, actual[k], right[k], rtol, atol_scale) for k in right]
    for r in rows:
        if r.verdict != "ok":
            r.diagnoses = diagnose(actual[r.tensor], right[r.tensor], rtol, atol_scale)
    shapes = ", ".join(f"{n} {s.shape}" for n, s in states.items())
    return Report(f"{function_name(forward)}/{function_name(backward)} vs {torch_name} "
                  f"(float64, seed {seed}, x {x.shape}, {shapes})", rows, notes,
                  in_place=guard.found)
