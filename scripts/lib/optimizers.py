"""The optimizers and learning-rate schedules the scripts offer, as data.

Each entry of :data:`OPTIMIZERS` names the scratch class, its torch twin, the
default peak learning rate and the hyperparameters the pair accepts with their
defaults (torch's). Each hyperparameter of :data:`HYPERPARAMETERS` becomes one
command-line flag (``--momentum``, ``--betas``...), so adding an optimizer is
adding an entry here (and any new hyperparameter to :data:`HYPERPARAMETERS`);
the scripts, records and tests pick it up.

A schedule maps ``(base_lr, step, total_steps)`` to the learning rate of that
step; both twins get that number before each step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch

from scratch import optim


@dataclass(frozen=True)
class Hyperparameter:
    parse: Callable[[str], Any]      # command-line text -> value (raises ValueError)
    help: str
    flag: bool = False               # a switch (store_true) rather than a value


@dataclass(frozen=True)
class OptimizerChoice:
    scratch: Callable                # scratch class: (params, lr=..., **hyperparameters)
    torch: Callable                  # torch.optim class, same keywords
    lr: float                        # default peak learning rate
    defaults: dict                   # hyperparameter -> default (also: which ones apply)


def _non_negative(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError("expected a finite number >= 0")
    return value


def _betas(text: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError("expected two numbers in [0, 1) separated by a comma, as 0.9,0.999")
    values = tuple(float(p) for p in parts)
    if not all(0 <= b < 1 for b in values):
        raise ValueError("expected two numbers in [0, 1) separated by a comma, as 0.9,0.999")
    return values


def _pair(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 2 or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError("expected two finite numbers > 0 separated by a comma, as 0.5,1.2")
    return values


HYPERPARAMETERS = {
    "momentum": Hyperparameter(_non_negative, "momentum factor (SGD, RMSprop)"),
    "dampening": Hyperparameter(_non_negative, "SGD dampening of the momentum"),
    "nesterov": Hyperparameter(bool, "SGD: use Nesterov momentum", flag=True),
    "betas": Hyperparameter(_betas, "Adam-family moment decay rates, as 0.9,0.999"),
    "eps": Hyperparameter(_non_negative, "term added to the denominator (Adam, AdamW, "
                                         "Adadelta, RMSprop, Adagrad)"),
    "rho": Hyperparameter(_non_negative, "Adadelta: decay rate of the squared averages"),
    "alpha": Hyperparameter(_non_negative, "RMSprop: smoothing constant; ASGD: power of the "
                                           "eta update"),
    "centered": Hyperparameter(bool, "RMSprop: normalise by the estimated variance",
                               flag=True),
    "lr_decay": Hyperparameter(_non_negative, "Adagrad: learning-rate decay"),
    "initial_accumulator_value": Hyperparameter(_non_negative,
                                                "Adagrad: initial value of the sum of squares"),
    "amsgrad": Hyperparameter(bool, "Adam/AdamW: use the AMSGrad variant", flag=True),
    "weight_decay": Hyperparameter(
        _non_negative, "the optimizer's own weight decay over every parameter (L2 added to "
                       "the gradient for sgd/adam, decoupled for adamw); --l2 is separate"),
    # NAdam, RAdam, Adamax, Rprop, ASGD (betas, eps, alpha and weight_decay are shared above)
    "momentum_decay": Hyperparameter(_non_negative, "NAdam: momentum decay psi"),
    "decoupled_weight_decay": Hyperparameter(
        bool, "NAdam/RAdam: decay the weights apart from the gradient (AdamW-style)",
        flag=True),
    "etas": Hyperparameter(_pair, "Rprop: multiplicative decrease and increase factors, "
                                  "as 0.5,1.2"),
    "step_sizes": Hyperparameter(_pair, "Rprop: minimal and maximal step sizes, as 1e-06,50"),
    "lambd": Hyperparameter(_non_negative, "ASGD: decay term"),
    "t0": Hyperparameter(_non_negative, "ASGD: step at which averaging starts"),
}

OPTIMIZERS = {
    "sgd": OptimizerChoice(optim.SGD, torch.optim.SGD, lr=0.05,
                           defaults=dict(momentum=0.9, dampening=0.0, nesterov=False,
                                         weight_decay=0.0)),
    "adam": OptimizerChoice(optim.Adam, torch.optim.Adam, lr=1e-3,
                            defaults=dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                                          amsgrad=False)),
    "adamw": OptimizerChoice(optim.AdamW, torch.optim.AdamW, lr=1e-3,
                             defaults=dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                                           amsgrad=False)),
    "adadelta": OptimizerChoice(optim.Adadelta, torch.optim.Adadelta, lr=1.0,
                                defaults=dict(rho=0.9, eps=1e-6, weight_decay=0.0)),
    "rmsprop": OptimizerChoice(optim.RMSprop, torch.optim.RMSprop, lr=1e-2,
                               defaults=dict(alpha=0.99, eps=1e-8, weight_decay=0.0,
                                             momentum=0.0, centered=False)),
    "adagrad": OptimizerChoice(optim.Adagrad, torch.optim.Adagrad, lr=1e-2,
                               defaults=dict(lr_decay=0.0, weight_decay=0.0,
                                             initial_accumulator_value=0.0, eps=1e-10)),
    # torch's default learning rates and hyperparameters
    "nadam": OptimizerChoice(optim.NAdam, torch.optim.NAdam, lr=2e-3,
                             defaults=dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                                           momentum_decay=4e-3, decoupled_weight_decay=False)),
    "radam": OptimizerChoice(optim.RAdam, torch.optim.RAdam, lr=1e-3,
                             defaults=dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                                           decoupled_weight_decay=False)),
    "adamax": OptimizerChoice(optim.Adamax, torch.optim.Adamax, lr=2e-3,
                              defaults=dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)),
    "rprop": OptimizerChoice(optim.Rprop, torch.optim.Rprop, lr=1e-2,
                             defaults=dict(etas=(0.5, 1.2), step_sizes=(1e-6, 50.0))),
    "asgd": OptimizerChoice(optim.ASGD, torch.optim.ASGD, lr=1e-2,
                            defaults=dict(lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0)),
}
"""name -> OptimizerChoice. SGD's momentum default is 0.9 (the scripts' choice; torch's is 0)."""


def constant_lr(base_lr: float, step: int, total_steps: int) -> float:
    return base_lr


def linear_lr(base_lr: float, step: int, total_steps: int) -> float:
    """Linear decay from ``base_lr`` at step 0 to 0 at ``total_steps``."""
    return base_lr * (1 - step / total_steps)


def cosine_lr(base_lr: float, step: int, total_steps: int) -> float:
    return optim.cosine_lr(base_lr, step, total_steps)


SCHEDULES = {"cosine": cosine_lr, "constant": constant_lr, "linear": linear_lr}
"""name -> (base_lr, step, total_steps) -> learning rate of that step."""


def resolve_hyperparameters(optimizer: str, given: dict) -> dict:
    """The chosen optimizer's hyperparameters: its defaults overridden by ``given`` (flags
    left unset are None). ValueError naming the flag when one does not apply."""
    choice = OPTIMIZERS[optimizer]
    wrong = [k for k, v in given.items() if v is not None and k not in choice.defaults]
    if wrong:
        flags = ", ".join("--" + k.replace("_", "-") for k in wrong)
        own = ", ".join("--" + k.replace("_", "-") for k in choice.defaults)
        raise ValueError(f"{flags} does not apply to --optimizer {optimizer} "
                         f"(its hyperparameters: {own})")
    return {k: (tuple(given[k]) if isinstance(given.get(k), list) else given[k])
            if given.get(k) is not None else default for k, default in choice.defaults.items()}


def set_lr(optimizer, lr: float) -> None:
    """Set the learning rate of a torch optimizer or a scratch one (with or without groups)."""
    groups = getattr(optimizer, "param_groups", None)
    if groups:
        for group in groups:
            group["lr"] = lr
    else:
        optimizer.lr = lr
