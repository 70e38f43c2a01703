"""Optimizers and learning-rate schedulers, the twin of ``torch.optim``.

One file per optimizer, as ``torch/optim/`` has; the base class (parameter
groups, state, state dicts) is in :mod:`scratch.optim.optimizer`. Every
optimizer follows torch's single-tensor update rule operation for operation,
takes torch's arguments in torch's order with torch's defaults (so one kwargs
dict builds both), and skips parameters whose ``.grad`` is None.
"""
from scratch.optim import lr_scheduler
from scratch.optim.adadelta import Adadelta
from scratch.optim.adagrad import Adagrad
from scratch.optim.adam import Adam
from scratch.optim.adamax import Adamax
from scratch.optim.adamw import AdamW
from scratch.optim.asgd import ASGD
from scratch.optim.lr_scheduler import cosine_lr
from scratch.optim.nadam import NAdam
from scratch.optim.optimizer import Optimizer
from scratch.optim.radam import RAdam
from scratch.optim.rmsprop import RMSprop
from scratch.optim.rprop import Rprop
from scratch.optim.sgd import SGD

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop",
           "cosine_lr", "lr_scheduler"]
__all__ += ["Adamax", "NAdam", "RAdam"]
__all__ += ["ASGD", "Rprop"]
