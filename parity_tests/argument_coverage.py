"""Argument coverage: every argument of every public callable in ``scratch/`` must be
drawn at a non-default value somewhere in the suite, or the run fails.

The list of what must be drawn is generated from the signatures, not written by hand:
every public class (its ``__init__`` and the public methods it defines) and every public
function of ``scratch.nn``, ``scratch.functional``, ``scratch.optim`` (and
``lr_scheduler``), ``scratch.init``, ``scratch.nn.utils`` and ``scratch.arch``. While the
suite runs, each of those callables is wrapped to note which of its arguments it was
called with at a value different from the default (a required argument counts once it is
passed at all). At the end of a whole-suite run (the default test paths, no ``-k``/``-m``
or deselection, every test passed) under a derandomised or thorough profile (``ci``,
``thorough``), any argument never seen away from its default fails the run, named
``module.Class.method(argument)``: a new argument cannot slip in undrawn.

Arguments that are deliberately not drawn are listed, each with its reason, in
``parity_tests/argument_coverage_exempt.toml``; an exemption that no longer names an
existing argument fails the run too, so the list stays true.

    pytest -p no:parity_tests.argument_coverage     # switch it off
"""
from __future__ import annotations

import ast
import functools
import importlib
import inspect
import json
import os
import textwrap
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:             # Python 3.10
    import tomli as tomllib

MODULES = ("scratch.nn", "scratch.functional", "scratch.optim", "scratch.optim.lr_scheduler",
           "scratch.init", "scratch.nn.utils", "scratch.arch")
EXEMPT = Path(__file__).with_name("argument_coverage_exempt.toml")
ENFORCED_PROFILES = ("ci", "thorough")
_SKIP_METHODS = {"extra_repr"}             # no arguments of its own to draw

_seen: set[tuple[str, str]] = set()        # (callable, argument) seen away from its default
_required: dict[str, list[str]] = {}       # callable -> every argument it must be seen with


def _is_default(value, default) -> bool:
    if value is default:
        return True
    try:
        return type(value) is type(default) and bool(value == default)
    except Exception:                      # arrays, objects without a truth value
        return False


def _wrap(name: str, fn):
    """``fn`` noting, on each call, which arguments were given at non-default values."""
    if getattr(fn, "_argument_coverage", False):     # exported twice: wrapped once
        return fn
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
    if not params:
        return fn
    _required[name] = [p.name for p in params]
    pending = {p.name for p in params}

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if pending:
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError:              # the callable raises its own error below
                bound = None
            if bound is not None:
                for arg, value in bound.arguments.items():
                    if arg not in pending:
                        continue
                    param = sig.parameters[arg]
                    if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                        drawn = bool(value)
                    else:
                        drawn = (param.default is param.empty
                                 or not _is_default(value, param.default))
                    if drawn:
                        pending.discard(arg)
                        _seen.add((name, arg))
        return fn(*args, **kwargs)
    wrapper._argument_coverage = True
    return wrapper


def _abstract(fn) -> bool:
    """A method whose body only raises NotImplementedError (a base class's placeholder,
    such as ``Module.forward``): subclasses define what is called."""
    try:
        body = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0].body
    except (OSError, TypeError, SyntaxError):
        return False
    body = [node for node in body if not (isinstance(node, ast.Expr)
                                          and isinstance(node.value, ast.Constant))]
    return (len(body) == 1 and isinstance(body[0], ast.Raise)
            and "NotImplementedError" in ast.unparse(body[0]))


def _public(module) -> dict[str, object]:
    """``__all__``, or else the public names the module (or its package) defines itself:
    not the helpers it imports."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, obj in vars(module).items() if not n.startswith("_")
                 and getattr(obj, "__module__", "").startswith(module.__name__)]
    return {n: getattr(module, n) for n in names if hasattr(module, n)}


def _install() -> None:
    """Wrap every public callable of :data:`MODULES` in place (once per process)."""
    done: dict[int, object] = {}
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for attr, obj in _public(module).items():
            if inspect.isclass(obj) and obj.__module__.startswith("scratch"):
                if id(obj) in done:
                    continue
                done[id(obj)] = obj
                for meth, fn in list(vars(obj).items()):
                    if not inspect.isfunction(fn) or meth in _SKIP_METHODS or _abstract(fn):
                        continue
                    if meth.startswith("_") and meth != "__init__":
                        continue
                    qual = f"{obj.__module__}.{obj.__qualname__}.{meth}"
                    setattr(obj, meth, _wrap(qual, fn))
            elif getattr(obj, "_argument_coverage", False):
                continue
            elif inspect.isfunction(obj) and obj.__module__.startswith("scratch"):
                qual = f"{obj.__module__}.{obj.__qualname__}"
                wrapped = done.get(id(obj))
                if wrapped is None:
                    wrapped = done[id(obj)] = _wrap(qual, obj)
                    home = importlib.import_module(obj.__module__)
                    if getattr(home, obj.__name__, None) is obj:
                        setattr(home, obj.__name__, wrapped)
                setattr(module, attr, wrapped)
    for module_name in MODULES:                    # registries of callables, e.g. the zoo
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if isinstance(value, dict):
                for key, item in list(value.items()):
                    if callable(item) and id(item) in done and done[id(item)] is not item:
                        value[key] = done[id(item)]


def _exemptions() -> dict[str, str]:
    with open(EXEMPT, "rb") as f:
        return tomllib.load(f).get("exempt", {})


def _whole_run(config) -> bool:
    opt = config.option
    return (config.args_source == pytest.Config.ArgsSource.TESTPATHS and not opt.keyword
            and not opt.markexpr and not getattr(opt, "lf", False)
            and not getattr(opt, "deselect", None) and not getattr(opt, "exitfirst", False)
            and not opt.collectonly)


def pytest_configure(config):
    _install()
    config._argcov_seen = set()


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if hasattr(config, "workeroutput"):          # an xdist worker: send what it saw
        config.workeroutput["argcov"] = json.dumps(sorted(_seen))
        config.workeroutput["argcov_required"] = json.dumps(_required)
        return
    seen = _seen | config._argcov_seen
    if not _whole_run(config) or session.testsfailed or session.shouldstop:
        return                                 # a partial or failed run proves nothing here
    exempt = _exemptions()
    every = {f"{name}({arg})" for name, args in _required.items() for arg in args}
    missing = sorted(f"{name}({arg})" for name, args in _required.items() for arg in args
                     if (name, arg) not in seen and f"{name}({arg})" not in exempt)
    stale = sorted(key for key in exempt if key not in every)
    config._argcov_report = (missing, stale)
    profile = os.environ.get("HYPOTHESIS_PROFILE", "dev")
    if (missing or stale) and profile in ENFORCED_PROFILES:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    out = getattr(node, "workeroutput", {})
    if "argcov" in out:
        node.config._argcov_seen |= {tuple(x) for x in json.loads(out["argcov"])}
        _required.update(json.loads(out["argcov_required"]))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    missing, stale = getattr(config, "_argcov_report", ((), ()))
    if not missing and not stale:
        return
    tr = terminalreporter
    tr.section("argument coverage", red=True)
    if missing:
        tr.line(f"{len(missing)} public argument(s) never drawn at a non-default value: "
                "draw each in a parity test (or exempt it, with the reason, in "
                "parity_tests/argument_coverage_exempt.toml):")
        for key in missing:
            tr.line(f"  {key}")
    if stale:
        tr.line("exemptions naming no existing argument (remove them):")
        for key in stale:
            tr.line(f"  {key}")
