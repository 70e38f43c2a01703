"""Checks of micrograd-style scalar engines: a ``Value`` class with ``backward()``.

    class Value:                      # yours: data, grad, _backward, backward()
        ...
    report = oracle.check_scalar_graph(Value, lambda a, b, c: (a * b + c).tanh() * a,
                                       leaves=("a", "b", "c"))

The expression is written once and run twice: on leaves made by ``Value(x)``
(your engine; then ``out.backward()``, and every leaf's ``.grad`` is read)
and on float64 torch scalars (autograd), unless ``against=`` gives the
torch side separately. Every leaf gets a row ``d<name>``; ``out`` compares
the forward value.

Leaf values are drawn by hypothesis (zeros, ties and arbitrary floats in
[-3, 3]: :func:`reference.oracle.strategies.leaf_values`); the smallest
failing draw is reported, so a wrong derivative
cannot hide behind a point where it happens to be right (``1 - t`` for
tanh's ``1 - t**2`` at t = 0). With ``values=`` the check runs once, there.

The torch side records each use of each node: a node used twice (``a * a``,
``c = a * b; c * c + c``) whose gradient your engine assigns with ``=``
instead of accumulating with ``+=`` keeps one use's contribution, and the
oracle builds exactly those wrong answers to name that bug.
"""
from __future__ import annotations

import itertools
import random

import numpy as np
import torch

from reference.oracle.against import accepts_old_forms
from reference.oracle.diagnose import diagnose, matches_candidate
from reference.oracle.report import (
    NondeterministicError,
    OracleError,
    Report,
    allclose,
    compare,
    tolerance,
)
from reference.oracle.user import function_name

MAX_COMBINATIONS = 64  # ways of keeping one use per node used twice, tried as candidates


class Node:
    """A torch scalar that records every use of itself (for the ``=`` vs ``+=`` candidates)."""

    def __init__(self, t: torch.Tensor, made_by: str, registry: list):
        self.t, self.made_by, self.uses, self.registry = t, made_by, [], registry
        registry.append(self)

    def _use(self) -> torch.Tensor:
        u = self.t.clone()
        u.retain_grad()
        self.uses.append(u)
        return u

    @staticmethod
    def _lift(v):
        return v._use() if isinstance(v, Node) else v

    def _op(self, name, fn, *others):
        return Node(fn(self._use(), *(Node._lift(o) for o in others)), name, self.registry)

    def __add__(self, o): return self._op("+", lambda a, b: a + b, o)  # noqa: E704
    def __radd__(self, o): return self._op("+", lambda a, b: b + a, o)  # noqa: E704
    def __sub__(self, o): return self._op("-", lambda a, b: a - b, o)  # noqa: E704
    def __rsub__(self, o): return self._op("-", lambda a, b: b - a, o)  # noqa: E704
    def __mul__(self, o): return self._op("*", lambda a, b: a * b, o)  # noqa: E704
    def __rmul__(self, o): return self._op("*", lambda a, b: b * a, o)  # noqa: E704
    def __truediv__(self, o): return self._op("/", lambda a, b: a / b, o)  # noqa: E704
    def __rtruediv__(self, o): return self._op("/", lambda a, b: b / a, o)  # noqa: E704
    def __pow__(self, o): return self._op("**", lambda a, b: a ** b, o)  # noqa: E704
    def __neg__(self): return self._op("neg", lambda a: -a)  # noqa: E704
    def tanh(self): return self._op("tanh", torch.tanh)  # noqa: E704
    def relu(self): return self._op("relu", torch.relu)  # noqa: E704
    def exp(self): return self._op("exp", torch.exp)  # noqa: E704
    def log(self): return self._op("log", torch.log)  # noqa: E704
    def sigmoid(self): return self._op("sigmoid", torch.sigmoid)  # noqa: E704


def _torch_side(expr, values: dict, keep=None):
    """``(out, {leaf: grad}, shared)`` by autograd; ``keep`` maps a node index to the one
    use whose gradient replaces the node's summed gradient (the ``=`` bug)."""
    nodes = []
    leaves = {n: Node(torch.tensor(float(v), dtype=torch.float64, requires_grad=True), n,
                      nodes) for n, v in values.items()}
    try:
        out = expr(**leaves)
    except Exception as e:
        raise OracleError(f"the torch side of the expression ({function_name(expr)}) raised "
                          f"{type(e).__name__}: {e}; write it with operators and the methods "
                          f"tanh, relu, exp, log, sigmoid, or pass against=") from e
    t_out = out.t if isinstance(out, Node) else out
    for index, use in (keep or {}).items():
        chosen = nodes[index].uses[use]
        nodes[index].t.register_hook(lambda g, chosen=chosen: chosen.grad.clone())
    t_out.backward()
    grads = {n: (leaf.t.grad.item() if leaf.t.grad is not None else 0.0)
             for n, leaf in leaves.items()}
    shared = [i for i, node in enumerate(nodes) if len(node.uses) >= 2]
    return t_out.item(), grads, [(i, nodes[i]) for i in shared]


def _plain_torch(torch_expr, values: dict):
    leaves = {n: torch.tensor(float(v), dtype=torch.float64, requires_grad=True)
              for n, v in values.items()}
    out = torch_expr(**leaves)
    if not isinstance(out, torch.Tensor) or out.numel() != 1:
        raise OracleError(f"against= ({function_name(torch_expr)}) returned "
                          f"{type(out).__name__}; expected a scalar tensor")
    out.reshape(()).backward()
    return out.item(), {n: (t.grad.item() if t.grad is not None else 0.0)
                        for n, t in leaves.items()}


def _yours(value, expr, values: dict, data: str, grad: str):
    label = function_name(expr)
    leaves = {n: value(float(v)) for n, v in values.items()}
    out = expr(**leaves)
    if not callable(getattr(out, "backward", None)):
        raise OracleError(f"{label} returned {type(out).__name__}; expected one of your "
                          f"Value nodes, with a backward() method")
    out.backward()
    missing = [n for n, leaf in leaves.items() if not hasattr(leaf, grad)]
    if missing or not hasattr(out, data):
        raise OracleError(f"your Value has no attribute {grad!r} or {data!r}; name them "
                          f"with grad= and data=")
    return float(getattr(out, data)), {n: float(getattr(leaf, grad))
                                       for n, leaf in leaves.items()}


def _run_yours_twice(value, expr, values, data, grad, rtol, atol_scale):
    first, second = (_yours(value, expr, values, data, grad) for _ in range(2))
    for name in first[1]:
        if not allclose(second[1][name], first[1][name], rtol, atol_scale):
            raise NondeterministicError(
                f"your backward returned different d{name} for the same leaf values, run "
                f"twice ({first[1][name]:.6g}, then {second[1][name]:.6g}): your engine is "
                f"not a function of its input (a topological order taken from a set, grads "
                f"kept between calls?); make it deterministic first")
    return first


def _compare(value, expr, torch_expr, values, data, grad, rtol, atol_scale):
    out, grads = _run_yours_twice(value, expr, values, data, grad, rtol, atol_scale)
    traced = torch_expr is None
    if traced:
        t_out, t_grads, shared = _torch_side(expr, values)
    else:
        (t_out, t_grads), shared = _plain_torch(torch_expr, values), []
    rows = [compare("out", np.asarray(out), np.asarray(t_out), rtol, atol_scale)]
    rows += [compare(f"d{n}", np.asarray(grads[n]), np.asarray(t_grads[n]), rtol, atol_scale)
             for n in values]
    return rows, grads, t_grads, shared


def _node_name(node, values) -> str:
    return f"leaf {node.made_by}" if node.made_by in values else f"a {node.made_by!r} node"


def _overwrite_candidates(expr, values, shared) -> list:
    """Leaf gradients when each node used twice keeps one use's gradient only (``=``)."""
    found = []
    choices = [range(len(node.uses)) for _, node in shared]
    for combo in itertools.islice(itertools.product(*choices), MAX_COMBINATIONS):
        keep = {i: use for (i, _), use in zip(shared, combo)}
        _, grads, _ = _torch_side(expr, values, keep)
        found.append(grads)
    names = ", ".join(f"{_node_name(node, values)} (used {len(node.uses)} times)"
                      for _, node in shared)
    message = (f"equals the gradient with one use only of each node used more than once "
               f"({names}): a gradient assigned with `=` instead of accumulated with `+=` in "
               f"a _backward")
    return [(g, message) for g in found]


def _diagnosed(value, expr, torch_expr, values, data, grad, rtol, atol_scale):
    rows, grads, t_grads, shared = _compare(value, expr, torch_expr, values, data, grad, rtol,
                                            atol_scale)
    if not all(r.ok for r in rows):
        cands = _overwrite_candidates(expr, values, shared) if shared else []
        for r in rows:
            if r.verdict == "ok" or r.tensor == "out":
                continue
            n = r.tensor[1:]
            r.diagnoses = diagnose(np.asarray(grads[n]), np.asarray(t_grads[n]), rtol,
                                   atol_scale,
                                   candidates=[(np.asarray(g[n]), m) for g, m in cands])
        _diagnose_jointly(rows, grads, t_grads, cands, rtol, atol_scale)
    return rows, shared


def _diagnose_jointly(rows, grads, t_grads, cands, rtol, atol_scale) -> None:
    """One overwrite pattern that explains every leaf gradient at once.

    A single wrong leaf is a scalar, and a scalar match is only trusted when exact;
    the same pattern seen across all the leaves together is evidence at float tolerance.
    """
    names = list(grads)
    mine, right = (np.array([g[n] for n in names], np.float64) for g in (grads, t_grads))
    for candidate, message in cands:
        if matches_candidate(mine, np.array([candidate[n] for n in names], np.float64), right,
                             rtol, atol_scale):
            for r in rows:
                if r.verdict != "ok" and r.tensor != "out" and message not in r.diagnoses:
                    r.diagnoses = [*r.diagnoses, message]
            return


def _nearby(values: dict, seed: int, count: int = 4):
    """Points near ``values``, each leaf moved by 0.25 to 1 either way (repeatable)."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield {n: round(v + float(rng.choice([-1, 1]) * rng.uniform(0.25, 1.0)), 3)
               for n, v in values.items()}


def _borrow_diagnoses(rows, value, expr, torch_expr, values, first, data, grad, rtol,
                      atol_scale, seed) -> None:
    """Diagnose wrong rows at other points when the shown point cannot tell.

    A shrunk draw sits on zeros where wrong answers coincide with right ones, so a
    wrong row may have no diagnosis there: look at the first failing draw, then at
    a few nearby points, and take the diagnosis from the first one that shows it.
    """
    points = ([("the first failing draw", first)] if first is not None and first != values
              else []) + [("a nearby point", p) for p in _nearby(values, seed)]
    for where, point in points:
        if all(r.verdict == "ok" or r.diagnoses for r in rows):
            return
        try:
            found = _diagnosed(value, expr, torch_expr, point, data, grad, rtol, atol_scale)[0]
        except Exception:  # a point outside the expression's domain, in either engine
            continue
        at = ", ".join(f"{n} = {point[n]!r}" for n in values)
        found = {r.tensor: r for r in found}
        for r in rows:
            if r.verdict != "ok" and not r.diagnoses and r.tensor in found:
                r.diagnoses = [f"{d} (found at {where}, {at})" for d in found[r.tensor].diagnoses]


def _old_call(args, kwargs):
    """``check_scalar_graph(value, expr, leaves, torch_expr)`` -> ``against=torch_expr``."""
    if len(args) > 3:
        kwargs["against"], args = args[3], args[:3]
    elif "torch_expr" in kwargs:
        kwargs["against"] = kwargs.pop("torch_expr")
    else:
        return None
    return args, kwargs, "value, expr, leaves, *, against=torch_expr, ..."


@accepts_old_forms(_old_call)
def check_scalar_graph(value, expr, leaves, *, against=None, values=None, examples=100,
                       seed=0, data="data", grad="grad", rtol=None, atol=None) -> Report:
    """Compare a scalar engine's leaf gradients with torch autograd of the same expression.

    value: your Value class (or any ``f(float) -> leaf``).
    expr: ``expr(**leaves) -> output node``, built from your leaves with
        operators (+ - * / **, including with plain numbers) and methods
        (``tanh()``, ``relu()``, ``exp()``, ``log()``, ``sigmoid()``); the same
        function runs on torch scalars, unless ``against`` (written for
        float64 torch scalar tensors) is given.
    leaves: the leaf names, e.g. ``("a", "b")``, drawn by hypothesis; or a
        dict name -> float to check at those values only (same as ``values=``).
    examples: how many draws hypothesis tries (``seed`` makes them repeatable).
    data, grad: the attribute names of a node's value and gradient.
    Returns the report of the smallest failing draw, else of one drawn point
    with a note of how many passed. Needs hypothesis unless values are given.
    """
    torch_expr = against
    if isinstance(leaves, dict):
        values, leaves = dict(leaves), tuple(leaves)
    leaves = tuple(leaves)
    rtol, atol_scale = tolerance(np.float64, rtol, atol)
    label = getattr(value, "__name__", type(value).__name__)
    notes = []
    if values is None:
        from hypothesis import find, settings
        from hypothesis import strategies as st
        from hypothesis.errors import Flaky, HypothesisException, NoSuchExample

        from reference.oracle.strategies import leaf_values
        draws = st.fixed_dictionaries({n: leaf_values() for n in leaves})
        tried = {"n": 0, "first": None}

        def fails(candidate):
            tried["n"] += 1
            rows = _compare(value, expr, torch_expr, candidate, data, grad, rtol,
                            atol_scale)[0]
            failed = not all(r.ok for r in rows)
            if failed and tried["first"] is None:
                tried["first"] = dict(candidate)
            return failed
        try:
            values = find(draws, fails, settings=settings(max_examples=examples,
                                                          database=None, deadline=None),
                          random=random.Random(seed))
            notes.append(f"the smallest failing leaf values hypothesis found (after {tried['n']} "
                         f"evaluations)")
        except NondeterministicError:
            raise
        except Flaky as error:
            raise NondeterministicError(
                f"your engine failed on some leaf values and passed when they were tried again "
                f"(first failing draw: {tried['first']}): it gives different gradients for "
                f"the same input (a topological order taken from a set, grads kept between "
                f"calls?); make it deterministic first, then check its gradients") from error
        except NoSuchExample:
            rng = np.random.default_rng(seed)
            values = {n: round(float(rng.uniform(-2, 2)), 3) for n in leaves}
            notes.append(f"{tried['n']} leaf draws by hypothesis (zeros, ties, arbitrary "
                         f"floats) all passed; the table shows one more point")
        except HypothesisException as error:
            raise OracleError(f"the draw of leaf values could not run "
                              f"({type(error).__name__}: {error})") from error
    values = {n: float(values[n]) for n in leaves}
    rows, shared = _diagnosed(value, expr, torch_expr, values, data, grad, rtol, atol_scale)
    first = tried["first"] if "tried" in locals() else None
    _borrow_diagnoses(rows, value, expr, torch_expr, values, first, data, grad, rtol,
                      atol_scale, seed)
    if shared:
        notes.append("nodes used more than once: " + ", ".join(
            f"{_node_name(node, values)} ({len(node.uses)} uses)" for _, node in shared))
    title = (f"{label} engine, {function_name(expr)} vs torch autograd "
             f"({'the same expression' if torch_expr is None else function_name(torch_expr)}, "
             f"float64)")
    return Report(title, rows, notes, extra=[
        "leaf values: " + ", ".join(f"{n} = {values[n]!r}" for n in leaves)])
