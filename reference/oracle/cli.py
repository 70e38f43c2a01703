"""``python -m reference.oracle check``: one function or module against torch, by import path.

    python -m reference.oracle check mypkg.layers:relu_forward --against torch.relu --x 4,5
    python -m reference.oracle check mypkg.layers:affine_forward \\
        --against "lambda x, w, b: x @ w + b" --param w=5,3 --param b=3 --x 4,5
    python -m reference.oracle check mypkg.layers:MyLinear --against "torch.nn.Linear(5, 3)" --x 4,5
    python -m reference.oracle check mypkg.layers:relu_forward --against finite-differences

TARGET is ``module:name`` (or ``module.name``): a CS231n forward function
(its backward is ``--backward``, else the ``*_backward`` next to a
``*_forward``), an object with ``forward``/``backward``, or a class of
such objects (built with no arguments). ``--against`` is a torch callable
or module by import path, with arguments in brackets where it is a class
(``torch.nn.Linear(5, 3)``), a ``lambda`` over torch tensors (``torch``
and ``F`` = ``torch.nn.functional`` are in scope), or ``finite-differences``.

Exit status: 0 when the check passes, 1 when it fails (the report is
printed either way), 2 when the call cannot be made (a bad import path, a
bad shape): the message says what was wrong.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import sys


class UsageError(Exception):
    """The command cannot be run as given (exit status 2)."""


def resolve(path: str, what: str):
    """The object at ``module:attr`` or ``module.attr`` (attributes may be dotted)."""
    if ":" in path:
        module_name, attr = path.split(":", 1)
    elif "." in path:
        module_name, attr = path.rsplit(".", 1)
    else:
        raise UsageError(f"{what} {path!r} is not an import path; expected module:name, "
                         f"e.g. mypkg.layers:relu_forward")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as e:
        if "." in module_name and ":" not in path:   # an attribute of an attribute
            try:
                return getattr(resolve(module_name, what), attr)
            except (UsageError, AttributeError):
                pass
        raise UsageError(f"cannot import module {module_name!r} for {what} {path!r}: {e}") \
            from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"module {module_name!r} has no attribute {attr!r} ({what} "
                             f"{path!r})")
        obj = getattr(obj, part)
    return obj


def counterpart(text: str):
    """``--against``: finite differences, a lambda, or an import path (called where it is a
    class with bracketed literal arguments, or a class needing none)."""
    from reference import oracle
    if text in ("finite-differences", "fd"):
        return oracle.finite_differences()
    if text.lstrip().startswith("lambda"):
        import torch
        import torch.nn.functional as F
        try:
            return eval(text, {"torch": torch, "F": F})   # the user's own command line
        except SyntaxError as e:
            raise UsageError(f"--against {text!r} is not a valid lambda: {e}") from None
    path, args = text, ()
    if text.endswith(")") and "(" in text:
        path, inside = text.split("(", 1)
        try:
            args = ast.literal_eval(f"({inside[:-1]},)") if inside[:-1].strip() else ()
        except (ValueError, SyntaxError):
            raise UsageError(f"--against {text!r}: the arguments must be literals, e.g. "
                             f"torch.nn.Linear(5, 3)") from None
    obj = resolve(path, "--against")
    return obj(*args) if isinstance(obj, type) else obj


def shape(text: str) -> tuple:
    try:
        return tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise UsageError(f"{text!r} is not a shape; expected integers separated by commas, "
                         f"e.g. 4,5") from None


def run(args) -> int:
    from reference import oracle
    target = resolve(args.target, "TARGET")
    against = counterpart(args.against)
    x = shape(args.x)
    params = {}
    for item in args.param:
        name, _, value = item.partition("=")
        if not name or not value:
            raise UsageError(f"--param {item!r}: expected name=shape, e.g. w=5,3")
        params[name] = shape(value)
    if isinstance(target, type):
        target = target()
    if callable(getattr(target, "forward", None)) and callable(getattr(target, "backward",
                                                                        None)):
        report = oracle.check_module(target, x, against=against, seed=args.seed)
    elif callable(target):
        backward = args.backward
        if backward is None:
            name = getattr(target, "__name__", "")
            if not name.endswith("_forward"):
                raise UsageError(f"{args.target} is a function; name its backward with "
                                 f"--backward module:name")
            backward = f"{target.__module__}:{name[:-len('_forward')]}_backward"
        report = oracle.check_pair(target, resolve(backward, "--backward"), x, params,
                                   against=against, seed=args.seed)
    else:
        raise UsageError(f"{args.target} is a {type(target).__name__}; expected a forward "
                         f"function, an object with forward/backward, or its class")
    print(report)
    return 0 if report.ok else 1


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m reference.oracle",
                                description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="check one function or module against torch")
    c.add_argument("target", help="module:name of a forward function, a module object or "
                                  "its class")
    c.add_argument("--against", required=True,
                   help="torch counterpart: an import path (torch.relu, "
                        "'torch.nn.Linear(5, 3)'), a lambda, or finite-differences")
    c.add_argument("--backward", default=None,
                   help="module:name of the backward (default: *_backward next to *_forward)")
    c.add_argument("--x", default="3,4", help="the input's shape, drawn (default 3,4)")
    c.add_argument("--param", action="append", default=[],
                   help="a parameter of a forward function as name=shape, in order; repeat")
    c.add_argument("--seed", type=int, default=0, help="seed of the drawn values (default 0)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, ".")   # the user's own package, from where the command runs
    try:
        return run(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        from reference.oracle import OracleError
        if isinstance(e, OracleError):
            print(f"error: {e}", file=sys.stderr)
            return 2
        raise
