"""Command-line flags shared by train and lockstep, with messages in the user's words.

A bad value reads ``--epochs: expected a positive whole number, got 'abc'``,
and every flag's help states its default.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from scratch.arch import ARCHITECTURES
from scripts.lib.env import DEFAULT_THREADS
from scripts.lib.optimizers import HYPERPARAMETERS, OPTIMIZERS, SCHEDULES
from scripts.lib.recipes import RECIPES
from scripts.lib.schedulers import SCHEDULERS


class Parser(argparse.ArgumentParser):
    """argparse with ``--flag: message`` in place of ``argument --flag: message``, and a
    one-line usage (``--help`` lists every flag)."""

    error_prefix = ""
    """Put before every message (``--from-record FILE: `` while a record is parsed)."""

    def __init__(self, prog: str, **kwargs):
        super().__init__(prog=prog, usage=f"{prog} [options]   (--help lists them)", **kwargs)

    def error(self, message):
        if message.startswith("argument "):
            message = message[len("argument "):]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {self.error_prefix}{message}\n")


def _typed(parse, expected):
    """A type function that turns any parse failure into 'expected ..., got ...'."""
    def convert(text):
        try:
            return parse(text)
        except (ValueError, TypeError) as err:
            detail = str(err) if str(err).startswith("expected") else expected
            raise argparse.ArgumentTypeError(f"{detail}, got {text!r}") from None
    convert.__name__ = expected
    return convert


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise ValueError("expected a positive whole number")
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise ValueError("expected a whole number >= 0")
    return value


def _non_negative_float(text):
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError("expected a finite number >= 0")
    return value


positive_int = _typed(_positive_int, "expected a positive whole number")
non_negative_int = _typed(_non_negative_int, "expected a whole number >= 0")
non_negative_float = _typed(_non_negative_float, "expected a finite number >= 0")


def data_dir(text):
    """A folder (existing or to be made); a regular file is refused while parsing."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"expected a folder (the MNIST files go in FOLDER/MNIST/raw), but {text!r} is a "
            f"file")
    return path


def out_dir(text):
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"expected a folder for the run's files, but "
                                         f"{text!r} is a file")
    return path


def device(text):
    """auto, cpu or cuda; cuda only where torch sees a GPU (checked while parsing)."""
    from scripts.lib.twins import resolve_device
    if text not in ("auto", "cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"expected auto, cpu or cuda, got {text!r}")
    try:
        resolve_device(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def add_step_flags(p: argparse.ArgumentParser, dtype="float32", device_default="auto") -> None:
    """The flags that define one training step and its data (train and lockstep)."""
    p.add_argument("--arch", default="mnist_cnn", metavar="NAME|FILE",
                   help=f"network: one of {', '.join(ARCHITECTURES)}, or a .json/.toml file "
                        f"describing an Architecture (default mnist_cnn)")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), default="sgd",
                   help="optimizer, the same on both sides (default sgd)")
    p.add_argument("--lr", type=non_negative_float, default=None,
                   help="peak learning rate (default: " + ", ".join(
                       f"{n} {c.lr:g}" for n, c in OPTIMIZERS.items()) + ")")
    p.add_argument("--schedule", choices=list(SCHEDULES), default=None,
                   help="learning rate over all steps, from --lr, set by the script before "
                        "each step (default cosine, to 0; constant with --scheduler)")
    add_scheduler_flags(p)
    for name, hyper in HYPERPARAMETERS.items():
        defaults = ", ".join(f"{n} {c.defaults[name]}" for n, c in OPTIMIZERS.items()
                             if name in c.defaults)
        flag = "--" + name.replace("_", "-")
        if hyper.flag:
            p.add_argument(flag, action="store_const", const=True, default=None,
                           help=f"{hyper.help} (default off)")
        else:
            p.add_argument(flag, type=_typed(hyper.parse, "expected " + name), default=None,
                           help=f"{hyper.help} (default: {defaults})")
    p.add_argument("--l2", type=non_negative_float, default=1e-4,
                   help="L2 penalty in the loss: adds 0.5*l2*sum(w**2) over conv and linear "
                        "weights (default 1e-4)")
    add_clip_flags(p)
    p.add_argument("--batch-size", type=positive_int, default=64,
                   help="training batch size (default 64)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed for the initial weights and the batch order (default 0)")
    p.add_argument("--threads", type=positive_int, default=DEFAULT_THREADS,
                   help=f"threads of scratch's own pool and of torch; NumPy's BLAS stays at one "
                        f"(default {DEFAULT_THREADS}; results are bit-identical for the same "
                        f"seed and thread count)")
    p.add_argument("--device", type=device, default=device_default,
                   help=f"auto, cpu or cuda: device of the torch side; scratch always runs "
                        f"on the CPU (default {device_default}; auto: cuda when available)")
    p.add_argument("--dtype", choices=["float32", "float64"], default=dtype,
                   help=f"floating type of both models (default {dtype})")
    p.add_argument("--limit-train", type=positive_int, default=None,
                   help="use only the first N training images (default: all 60000)")
    p.add_argument("--data-dir", type=data_dir, default=None,
                   help="MNIST root; the files go in DIR/MNIST/raw (default $CNN_PARITY_DATA "
                        "or the user cache directory)")
    p.add_argument("--no-progress", action="store_true",
                   help="hide the progress bar (it is hidden anyway when stderr is not a "
                        "terminal)")


def add_scheduler_flags(p: argparse.ArgumentParser) -> None:
    """--scheduler, --scheduler-args, --scheduler-interval, --no-decay-bias-norm, --recipe."""
    p.add_argument("--scheduler", choices=["none", *SCHEDULERS], default="none",
                   help="a torch.optim.lr_scheduler object on each side's own optimizer, "
                        "starting from --lr (default none: --schedule sets the lr)")
    p.add_argument("--scheduler-args", default="", metavar="K=V,...",
                   help="the scheduler's arguments, as step_size=1,gamma=0.7 (lists with ':', "
                        "as milestones=3:6); T_max, total_iters and total_steps default to the "
                        "number of scheduler steps in the run")
    p.add_argument("--scheduler-interval", choices=["step", "epoch"], default=None,
                   help="step the scheduler after every optimizer step or after every epoch "
                        "(default: epoch; step for onecyclelr)")
    p.add_argument("--no-decay-bias-norm", action="store_true",
                   help="put biases and batch-norm/PReLU parameters in a parameter group with "
                        "weight_decay 0 (the optimizer's --weight-decay; --l2 never applies "
                        "to them)")
    p.add_argument("--recipe", choices=list(RECIPES), default=None,
                   help="a named set of settings (flags given as well override it): " + "; ".join(
                       f"{n}: {r['source']}" for n, r in RECIPES.items()))


def apply_recipe(parser: argparse.ArgumentParser, argv):
    """Parse ``argv``; when it names a --recipe, parse again with the recipe's settings as
    the defaults (so flags given still win)."""
    args = parser.parse_args(argv)
    if args.recipe:
        known = {a.dest for a in parser._actions}
        parser.set_defaults(**{k: v for k, v in RECIPES[args.recipe]["settings"].items()
                               if k in known})
        args = parser.parse_args(argv)
    return args


def scheduler_settings(args) -> dict:
    """schedule, scheduler, scheduler_args (canonical text), scheduler_interval and
    no_decay_bias_norm from flags; ValueError naming the flag that is wrong."""
    from scripts.lib.schedulers import canonical, resolve_arguments
    scheduler = args.scheduler or "none"
    if scheduler == "none":
        if args.scheduler_args or args.scheduler_interval:
            raise ValueError("--scheduler-args and --scheduler-interval need a --scheduler")
        return dict(schedule=args.schedule or "cosine", scheduler="none", scheduler_args="",
                    scheduler_interval=None, no_decay_bias_norm=args.no_decay_bias_norm,
                    recipe=args.recipe)
    if args.schedule not in (None, "constant"):
        raise ValueError(f"--schedule {args.schedule} and --scheduler {scheduler} both set the "
                         f"learning rate: leave out --schedule (or give --schedule constant)")
    arguments = resolve_arguments(scheduler, args.scheduler_args, 1)   # unknown or missing
    try:   # the scheduler's own checks (OneCycleLR needs momentum...), before any work
        import numpy as np

        from scratch.nn import Parameter
        from scripts.lib.schedulers import build
        build(scheduler, "scratch",
              OPTIMIZERS[args.optimizer].scratch([Parameter(np.zeros(1))], lr=1.0), arguments)
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"--scheduler {scheduler}: {err}") from None
    return dict(schedule="constant", scheduler=scheduler,
                scheduler_args=canonical(scheduler, args.scheduler_args),
                scheduler_interval=args.scheduler_interval or SCHEDULERS[scheduler].interval,
                no_decay_bias_norm=args.no_decay_bias_norm, recipe=args.recipe)


def optimizer_settings(args) -> dict:
    """The chosen optimizer's resolved hyperparameters and peak learning rate, from flags;
    ValueError naming a flag that does not apply to that optimizer."""
    import numpy as np

    from scratch.nn import Parameter
    from scripts.lib.optimizers import resolve_hyperparameters
    given = {name: getattr(args, name) for name in HYPERPARAMETERS}
    hyper = resolve_hyperparameters(args.optimizer, given)
    lr = OPTIMIZERS[args.optimizer].lr if args.lr is None else args.lr
    try:   # the optimizer's own checks (nesterov needs momentum...), before any work
        OPTIMIZERS[args.optimizer].scratch([Parameter(np.zeros(1))], lr=lr, **hyper)
    except (ValueError, TypeError) as err:
        raise ValueError(f"--optimizer {args.optimizer}: {err}") from None
    return {"lr": lr, **hyper}


def command_line(prog: str, settings: dict) -> list[str]:
    """The command that re-runs ``settings`` (into a fresh folder): one flag per setting."""
    argv = prog.split()
    for key, value in settings.items():
        if key == "hyperparameters":
            continue
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            argv += [flag, ",".join(repr(v) for v in value)]
        else:
            argv += [flag, repr(value) if isinstance(value, float) else str(value)]
    return argv


def _positive_float(text):
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise ValueError("expected a finite number > 0")
    return value


def _norm_type(text):
    value = float(text)   # 'inf' and '-inf' included, as torch's norm_type
    if math.isnan(value):
        raise ValueError("expected a number, inf or -inf")
    return value


positive_float = _typed(_positive_float, "expected a finite number > 0")


def add_clip_flags(p: argparse.ArgumentParser) -> None:
    """Gradient clipping by total norm, the same on both sides (train and lockstep)."""
    p.add_argument("--clip-grad-norm", type=positive_float, default=None, metavar="MAX",
                   help="clip the gradients to a total norm of MAX after backward (and the L2 "
                        "term) and before each optimizer step: scratch.nn.utils."
                        "clip_grad_norm_ / torch.nn.utils.clip_grad_norm_ (default off)")
    p.add_argument("--clip-grad-norm-type", type=_typed(_norm_type, "expected a number, inf "
                                                                    "or -inf"),
                   default=2.0, metavar="P",
                   help="the norm --clip-grad-norm measures: any p, inf or -inf (default 2)")
