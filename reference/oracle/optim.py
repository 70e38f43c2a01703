"""Checks of hand-written update rules against a ``torch.optim`` optimizer, over several steps.

    report = oracle.check_optimizer(adam, {"w": (3, 4), "b": (4,)},
                                    against=lambda p: torch.optim.Adam(p, lr=1e-2),
                                    config={"learning_rate": 1e-2})

Your rule is one of:

- a CS231n-style function ``update(w, dw, config) -> (next_w, config)``, called
  once per parameter per step, each parameter with its own ``config`` (a copy
  of ``config=``; the rule keeps its state in it: ``m``, ``v``, ``t``, ...);
- an object with ``step(params, grads)``: two dicts name -> array; it updates
  ``params`` in place or returns the new dict, and may keep its state in
  ``state[name]`` (a dict per parameter, as torch's ``optimizer.state``).

Both sides start from the same parameters and receive the same gradients,
drawn standard normal from ``seed`` at every step. The report has a row per
parameter (after the last step) and per state entry both sides keep
(``w.m`` against torch's ``exp_avg``: the names are matched through
:data:`STATE_NAMES` or ``state=``), a per-step table, and where yours
equals a known slip replayed on the same gradients, its name:
Adam's bias correction missing, eps inside the square root, the step counted
once per parameter update instead of once per step, weight decay coupled
(Adam's) where AdamW decouples it or the reverse, SGD's weight decay
applied after momentum. A slip is named only when the oracle's replay of
torch's own algorithm equals torch's trajectory on these gradients and the
slipped replay equals yours.
"""
from __future__ import annotations

import inspect

import numpy as np
import torch

from reference.oracle.against import FiniteDifferences
from reference.oracle.diagnose import matches_candidate
from reference.oracle.inplace import Guard
from reference.oracle.inputs import prepare_params
from reference.oracle.report import OracleError, Report, allclose, compare, tolerance
from reference.oracle.user import function_name

# your state name -> torch's, tried where state= does not say
STATE_NAMES = {"m": "exp_avg", "v": "exp_avg_sq", "t": "step", "exp_avg": "exp_avg",
               "exp_avg_sq": "exp_avg_sq", "step": "step", "momentum_buffer": "momentum_buffer",
               "square_avg": "square_avg", "sum": "sum"}


def _torch_trajectory(against, values: dict, grads: list[dict]):
    """Parameters and state after each step of the torch optimizer."""
    tensors = {n: torch.tensor(v, dtype=torch.float64) for n, v in values.items()}
    try:
        opt = against(list(tensors.values()))
    except Exception as e:
        raise OracleError(f"against= must build a torch.optim optimizer from a list of "
                          f"tensors, e.g. lambda params: torch.optim.Adam(params, lr=1e-2); "
                          f"it raised {type(e).__name__}: {e}") from e
    if not isinstance(opt, torch.optim.Optimizer):
        raise OracleError(f"against= returned {type(opt).__name__}; expected a "
                          f"torch.optim.Optimizer")
    params, states = [], []
    for g in grads:
        for n, t in tensors.items():
            t.grad = torch.tensor(g[n], dtype=torch.float64)
        opt.step()
        params.append({n: t.detach().numpy().copy() for n, t in tensors.items()})
        states.append({n: {k: np.array(v.detach().numpy() if isinstance(v, torch.Tensor)
                                       else v, dtype=np.float64)
                           for k, v in opt.state[t].items()} for n, t in tensors.items()})
    return opt, params, states


def _yours(mine, values: dict, grads: list[dict], config: dict | None, guard_each):
    """Your parameters and state after each step; ``guard_each(step) -> Guard``."""
    label = function_name(mine) if not hasattr(mine, "step") else type(mine).__name__
    params = {n: v.copy() for n, v in values.items()}
    configs = {n: dict(config or {}) for n in values}
    out_params, out_states = [], []
    for k, g in enumerate(grads):
        guard = guard_each(k)
        handed = {n: guard.hand(f"d{n}", v, f"the gradient of {n!r}") for n, v in g.items()}
        if hasattr(mine, "step"):
            result = mine.step(params, handed)
            if isinstance(result, dict):
                params = {n: np.asarray(result[n], np.float64) for n in values}
            state = getattr(mine, "state", None) or {}
            states = {n: {s: np.asarray(v, np.float64) for s, v in dict(state.get(n, {})).items()
                          if _numeric(v)} for n in values}
            by = f"{label}.step"
        else:
            for n in values:
                result = mine(params[n], handed[n], configs[n])
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise OracleError(f"{label} returned {type(result).__name__}; expected "
                                      f"(next_w, config)")
                params[n] = np.asarray(result[0], np.float64).copy()
                configs[n] = result[1] if isinstance(result[1], dict) else configs[n]
            states = {n: {s: np.asarray(v, np.float64) for s, v in configs[n].items()
                          if _numeric(v) and s not in (config or {})} for n in values}
            by = label
        guard.check_modified(by)
        out_params.append({n: np.asarray(p, np.float64).copy() for n, p in params.items()})
        out_states.append({n: {s: v.copy() for s, v in st.items()} for n, st in states.items()})
    return label, out_params, out_states


def _numeric(v) -> bool:
    a = np.asarray(v)
    return a.dtype != object and (np.issubdtype(a.dtype, np.number) or a.dtype == bool)


# ------------------------------------------------------------------ replays of torch's rules
def _replay(kind: str, group: dict, values: dict, grads: list[dict], slip: str | None):
    """torch's SGD/Adam/AdamW in NumPy, with one ``slip`` planted (None: as torch)."""
    params = {n: v.copy() for n, v in values.items()}
    state = {n: {} for n in values}
    lr, wd = group["lr"], group["weight_decay"]
    out, counter = [], 0
    for g in grads:
        for n in values:
            p, d = params[n], g[n].copy()
            s = state[n]
            counter += 1
            if kind == "SGD":
                mu = group["momentum"]
                if slip != "decay_after_momentum":
                    d = d + wd * p
                if mu:
                    s["momentum_buffer"] = d.copy() if "momentum_buffer" not in s else \
                        mu * s["momentum_buffer"] + d
                    d = s["momentum_buffer"]
                if slip == "decay_after_momentum":
                    d = d + wd * p
                params[n] = p - lr * d
                continue
            b1, b2 = group["betas"]
            eps = group["eps"]
            decoupled = kind == "AdamW"
            if slip in ("coupled_decay", "decoupled_decay"):
                decoupled = slip == "decoupled_decay"
            if wd and decoupled:
                p = p * (1 - lr * wd)
            elif wd:
                d = d + wd * p
            s["step"] = s.get("step", 0) + 1
            t = counter if slip == "global_step" else s["step"]
            s["exp_avg"] = b1 * s.get("exp_avg", 0 * p) + (1 - b1) * d
            s["exp_avg_sq"] = b2 * s.get("exp_avg_sq", 0 * p) + (1 - b2) * d * d
            m_hat, v_hat = s["exp_avg"], s["exp_avg_sq"]
            if slip != "no_bias_correction":
                m_hat, v_hat = m_hat / (1 - b1 ** t), v_hat / (1 - b2 ** t)
            denom = np.sqrt(v_hat + eps) if slip == "eps_inside_sqrt" else np.sqrt(v_hat) + eps
            params[n] = p - lr * m_hat / denom
        out.append({n: v.copy() for n, v in params.items()})
    return out


SLIPS = {
    "Adam": {
        "no_bias_correction": "the bias correction is missing: m and v are used without "
                              "dividing by 1 - beta1**t and 1 - beta2**t",
        "eps_inside_sqrt": "eps is inside the square root: sqrt(v_hat + eps) where torch "
                           "divides by sqrt(v_hat) + eps",
        "global_step": "the step t is counted once per parameter update (a global counter) "
                       "instead of once per step for each parameter",
        "decoupled_decay": "weight decay is decoupled (AdamW's p -= lr * wd * p); torch.optim.Adam "
                           "adds wd * p to the gradient (use torch.optim.AdamW for decoupled "
                           "decay)"},
    "AdamW": {
        "no_bias_correction": "the bias correction is missing: m and v are used without "
                              "dividing by 1 - beta1**t and 1 - beta2**t",
        "eps_inside_sqrt": "eps is inside the square root: sqrt(v_hat + eps) where torch "
                           "divides by sqrt(v_hat) + eps",
        "global_step": "the step t is counted once per parameter update (a global counter) "
                       "instead of once per step for each parameter",
        "coupled_decay": "weight decay is coupled (added to the gradient, as Adam's L2); "
                         "AdamW decouples it: p *= 1 - lr * weight_decay before the update"},
    "SGD": {
        "decay_after_momentum": "weight decay is applied after momentum (added to the "
                                "velocity's step); torch adds weight_decay * p to the "
                                "gradient before the momentum buffer"},
}


def _replayable(opt) -> str | None:
    kind = type(opt).__name__
    if kind not in SLIPS or len(opt.param_groups) != 1:
        return None
    g = opt.param_groups[0]
    if g.get("maximize") or g.get("amsgrad") or g.get("nesterov") or g.get("dampening", 0):
        return None
    return kind


def _diagnoses(opt, values, grads, torch_params, mine_params, rtol, atol_scale) -> dict:
    """name -> slip messages, where yours equals a slipped replay (and the clean replay
    equals torch)."""
    kind = _replayable(opt)
    if kind is None:
        return {}
    group = opt.param_groups[0]
    clean = _replay(kind, group, values, grads, None)
    if not all(allclose(clean[k][n], torch_params[k][n], rtol, atol_scale)
               for k in range(len(grads)) for n in values):
        return {}
    found = {}
    for slip, message in SLIPS[kind].items():
        if slip == "global_step" and len(values) < 2:
            continue
        if slip.endswith("decay") or slip == "decay_after_momentum":
            if not group["weight_decay"]:
                continue
        if kind == "SGD" and not group["momentum"]:
            continue
        wrong = _replay(kind, group, values, grads, slip)
        for n in values:
            if all(allclose(mine_params[k][n], wrong[k][n], rtol, atol_scale)
                   for k in range(len(grads))) and matches_candidate(
                    mine_params[-1][n], wrong[-1][n], torch_params[-1][n], rtol, atol_scale):
                found.setdefault(n, []).append(message)
    return found


def check_optimizer(mine, params: dict, *, against, steps: int = 5, config: dict | None = None,
                    state: dict | None = None, seed: int = 0, rtol=None, atol=None) -> Report:
    """Check your update rule against a ``torch.optim`` optimizer over ``steps`` steps.

    mine: ``update(w, dw, config) -> (next_w, config)`` (CS231n), or an object
        with ``step(params, grads)`` (see the module docstring).
    params: name -> array, or -> shape to draw uniform in [-1, 1] from ``seed``.
    against: ``lambda params: torch.optim.Adam(params, lr=1e-2, ...)``, a
        function building the torch optimizer from a list of tensors (or an
        optimizer class, for its defaults). Use the same hyperparameters as
        yours.
    steps: how many steps (gradients drawn standard normal from ``seed``).
    config: the starting config each parameter's copy begins from (the
        function form), e.g. ``{"learning_rate": 1e-2}``.
    state: your state name -> torch's (``{"m": "exp_avg"}``) where
        :data:`STATE_NAMES` does not know it; a name mapped to None is not
        compared (e.g. CS231n's ``velocity``, which is ``-lr`` times torch's
        ``momentum_buffer``).

    Returns a :class:`Report` with rows ``<name>`` (after the last step) and
    ``<name>.<state>``, a per-step table (``report.info["first_wrong_step"]``)
    and an in-place finding when your rule writes into a gradient it was given.
    """
    if isinstance(against, FiniteDifferences):
        raise OracleError("check_optimizer compares with a torch.optim optimizer; finite "
                          "differences do not apply")
    if not callable(mine) and not callable(getattr(mine, "step", None)):
        raise OracleError(f"{type(mine).__name__} is neither an update function nor an object "
                          f"with step(params, grads)")
    if hasattr(mine, "step") and len(inspect.signature(mine.step).parameters) != 2:
        raise OracleError(f"{type(mine).__name__}.step must take (params, grads): two dicts "
                          f"name -> array")
    if steps < 1:
        raise OracleError(f"steps must be at least 1; got {steps}")
    rng = np.random.default_rng(seed)
    values = prepare_params(dict(params), rng, np.float64)
    draw = np.random.default_rng([seed, 2])
    grads = [{n: draw.standard_normal(v.shape) for n, v in values.items()}
             for _ in range(steps)]
    opt, t_params, t_states = _torch_trajectory(against, values, grads)
    guards = []

    def guard_each(k):
        guards.append(Guard())
        return guards[-1]
    label, m_params, m_states = _yours(mine, values, grads, config, guard_each)
    rtol, atol_scale = tolerance(np.float64, rtol, atol)
    names = dict(STATE_NAMES, **(state or {}))
    rows, table, first_wrong = [], [], None
    for k in range(steps):
        errs = {n: float(np.max(np.abs(m_params[k][n] - t_params[k][n]), initial=0.0))
                if m_params[k][n].shape == t_params[k][n].shape else np.inf for n in values}
        wrong = [n for n in values if not allclose(m_params[k][n], t_params[k][n], rtol,
                                                   atol_scale)]
        if wrong and first_wrong is None:
            first_wrong = k + 1
        table.append(f"  {k + 1:<5} " + "  ".join(f"{errs[n]:<12.2e}" for n in values)
                     + f"  {'WRONG: ' + ', '.join(wrong) if wrong else 'ok'}")
    for n in values:
        rows.append(compare(n, m_params[-1][n], t_params[-1][n], rtol, atol_scale))
        for s, v in m_states[-1][n].items():
            theirs = names.get(s)
            if theirs is None or theirs not in t_states[-1][n]:
                continue
            rows.append(compare(f"{n}.{s}", v, t_states[-1][n][theirs], rtol, atol_scale))
    if not all(r.ok for r in rows):
        found = _diagnoses(opt, values, grads, t_params, m_params, rtol, atol_scale)
        for r in rows:
            if not r.ok and r.tensor in found:
                r.diagnoses = found[r.tensor]
    header = "  step   " + "  ".join(f"{n + ' err':<12}" for n in values)
    notes = []
    if first_wrong is not None:
        notes.append(f"the parameters first go wrong at step {first_wrong} of {steps}")
    compared = sorted({r.tensor.split(".", 1)[1] for r in rows if "." in r.tensor})
    kept = sorted({s for n in values for s in m_states[-1][n]})
    if kept and not compared:
        notes.append(f"your state {kept} was not compared: name torch's entries with state= "
                     f"(torch keeps {sorted({s for n in values for s in t_states[-1][n]})})")
    found_in_place = [f for g in guards for f in g.found]
    seen, in_place = set(), []
    for f in found_in_place:
        if f.tensor not in seen:
            seen.add(f.tensor)
            in_place.append(f)
    title = (f"{label} vs torch.optim.{type(opt).__name__} (float64, seed {seed}, {steps} "
             f"steps, {', '.join(f'{n} {v.shape}' for n, v in values.items())})")
    report = Report(title, rows, notes, extra=["per step (max abs error of each parameter):\n"
                                               + header + "\n" + "\n".join(table)],
                    in_place=in_place)
    report.info["first_wrong_step"] = first_wrong
    return report
