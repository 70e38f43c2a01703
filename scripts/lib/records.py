"""What a run's record (``metrics.json``, ``lockstep.json``) holds and how to re-run it.

A record has ``settings`` (only what defines the run: the same settings give the
same numbers), ``command`` (the command line that re-runs it into a fresh
folder), ``architecture`` (the network as data), ``data`` (the resolved MNIST
folder and how many images were used), ``environment`` (versions, thread
pools, device, start time, wall time) and ``definitions`` (what each
quantity means). ``--from-record FILE`` takes the settings from a record.
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path

from scratch import arch as A
from scripts.lib.flags import apply_recipe, command_line

TRAIN_DEFINITIONS = {
    "epochs[].<impl>.loss": "mean over the epoch's steps (weighted by batch size) of the "
                            "training objective: cross-entropy of the batch + "
                            "0.5*l2*sum(w**2) over conv and linear weights, computed before "
                            "that step's update",
    "epochs[].<impl>.train_acc": "fraction of the epoch's training images classified "
                                 "correctly by the weights of the moment (before each "
                                 "step's update): a running figure, not a final one",
    "epochs[].<impl>.test_acc": "fraction of the test images (first limit_test) classified "
                                "correctly after the epoch, in eval mode",
    "epochs[].<impl>.seconds": "time spent in that implementation's training steps during "
                               "the epoch (forward, backward, update); excludes evaluation, "
                               "data loading and files",
    "epochs[].<impl>.grad_norm_mean, grad_norm_max": "with --clip-grad-norm: mean and "
                                                      "largest over the epoch's steps of the "
                                                      "total gradient norm (of "
                                                      "--clip-grad-norm-type) before clipping, "
                                                      "as clip_grad_norm_ returns it",
    "epochs[].<impl>.clipped_steps": "with --clip-grad-norm: the epoch's steps whose norm "
                                     "exceeded MAX (so the gradients were scaled down)",
    "epochs[].lr_end": "learning rate the schedule gives after the epoch's last step",
    "step_loss.<impl>": "the training objective of each step, in order",
    "epochs[].<impl>.lr_end": "with --scheduler: the lr of that side's first parameter group "
                              "after the epoch (its own scheduler stepped)",
    "epochs[].<impl>.test_loss": "with --scheduler plateau: mean loss over the test images "
                                 "in eval mode (no L2 term), the metric given to the scheduler",
    "loss": "nll_loss when the architecture ends with LogSoftmax, else cross_entropy",
    "cross_evaluation": "each model's final weights loaded into the other implementation: "
                        "share of test images where both give the same prediction, and "
                        "the accuracy in each",
    "environment.wall_seconds": "wall time of this command, from start to the record "
                                "(after --resume: of the resumed part only)",
}

LOCKSTEP_DEFINITIONS = {
    "steps[].max_rel_param_diff": "after the step: max over parameters and buffers p of "
                                  "max|scratch_p - torch_p| / max|torch_p| (0 when "
                                  "identical)",
    "settings.resync": "when true, torch's weights were copied into scratch after every "
                       "step: each max_rel_param_diff is what that one step added",
    "steps[].worst_param": "the parameter or buffer where that maximum is reached",
    "steps[].scratch_loss, torch_loss": "each side's training objective (cross-entropy + "
                                        "L2 term) on the step's batch, before its update",
    "steps[].scratch_grad_norm, torch_grad_norm": "with --clip-grad-norm: each side's total "
                                                  "gradient norm before clipping",
    "summary.largest_max_rel_param_diff": "largest max_rel_param_diff over all steps",
    "summary.max_abs_loss_diff": "largest |scratch_loss - torch_loss| over all steps",
    "steps[].scratch_lr, torch_lr": "the lr of each side's first parameter group in the step "
                                    "(set by the schedule, or by that side's own scheduler)",
    "loss": "nll_loss when the architecture ends with LogSoftmax, else cross_entropy",
    "environment.wall_seconds": "wall time of this command",
}


def command(prog: str, settings: dict) -> str:
    """The shell command that re-runs ``settings`` (a fresh run folder, default data)."""
    flat = {k: v for k, v in settings.items() if k != "hyperparameters"}
    flat.update(settings.get("hyperparameters", {}))
    return shlex.join(command_line(prog, flat))


def read_record(path: Path) -> dict:
    """A record written by train or lockstep; ValueError saying why it cannot be used."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except OSError as err:
        raise ValueError(f"--from-record: cannot read {path}: {err.strerror or err}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"--from-record: {path} is not JSON ({err})") from None
    if not isinstance(record, dict) or not isinstance(record.get("settings"), dict):
        raise ValueError(f"--from-record: {path} has no 'settings'; expected the "
                         f"metrics.json or lockstep.json a run wrote")
    return record


def record_argv(record: dict, parser) -> list[str]:
    """The record's settings as the flags that set them (so they go through the flags'
    own validators and messages); ValueError for a setting that is no flag of ``parser``."""
    settings = dict(record["settings"])
    settings.update(settings.pop("hyperparameters", None) or {})
    known = {a.dest for a in parser._actions}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"--from-record: settings {unknown} are not flags of "
                         f"{parser.prog}; was the record written by another script?")
    return command_line("", settings)


def recorded_architecture(record: dict, arch_flag: str) -> A.Architecture | None:
    """The architecture stored in the record, when ``--arch`` still names the recorded one
    (so a run from a file re-runs even where the file is gone)."""
    if record.get("settings", {}).get("arch") == arch_flag and "architecture" in record:
        return A.from_dict(record["architecture"], "the record's architecture")
    return None


def parse_args(parser, argv):
    """``(args, architecture or None)``: ``argv`` parsed with a --recipe's settings and, for
    --from-record, the record's settings (flags given as well win) and the architecture it
    recorded. The record's values are parsed as the flags they came from, so an edited
    record is refused with the flag's own message (exit status 2, through
    ``parser.error``), prefixed with the record's path."""
    argv = list(argv)
    args = apply_recipe(parser, argv)
    if args.from_record is None:
        return args, None
    try:
        record = read_record(args.from_record)
        recorded = record_argv(record, parser)
    except ValueError as err:
        parser.error(str(err))
    parser.error_prefix = f"--from-record {args.from_record}: "
    try:
        apply_recipe(parser, recorded)           # the record alone: its own values checked
    finally:
        parser.error_prefix = ""
    args = apply_recipe(parser, [*recorded, *argv])
    return args, recorded_architecture(record, args.arch)
