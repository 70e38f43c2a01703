"""Named recipes: a set of settings taken from somewhere known, as data.

``--recipe NAME`` makes a recipe's settings the defaults of the flags, so any flag
given as well overrides it; the record keeps the recipe's name and every resolved
setting. Keys are flag destinations (``scheduler_args`` for ``--scheduler-args``);
a script takes the keys it has flags for (``scripts.lockstep`` has no ``--epochs``).
"""
from __future__ import annotations

RECIPES = {
    "pytorch-examples-mnist": dict(
        source="pytorch/examples mnist/main.py: two 3x3 convs (32, 64), max pool, dropout "
               "0.25 and 0.5, 128 hidden, log-softmax + NLL loss, Adadelta lr 1.0, StepLR "
               "gamma 0.7 per epoch, batch 64, 14 epochs",
        settings=dict(arch="pytorch_examples_mnist", optimizer="adadelta", lr=1.0,
                      scheduler="steplr", scheduler_args="step_size=1,gamma=0.7",
                      scheduler_interval="epoch", batch_size=64, epochs=14, l2=0.0),
    ),
}
"""name -> {"source": where it comes from, "settings": flag destination -> value}."""
