"""Does the architecture fit the data? Checked before a run creates anything.

An architecture file can be valid data and still not fit MNIST: another input
shape, another number of classes (or, for a reconstruction, an output that is
not the input's shape), a Linear fed an image (no Flatten), a layer
that cannot be built. :func:`fitted_twins` builds the twins and pushes one small
batch through each side in eval mode (no state changes, no random draws), and
turns every misfit into one :class:`~scripts.lib.errors.ArchitectureMismatch`
naming what does not fit and what to change.
"""
from __future__ import annotations

import numpy as np

from scratch import arch as A
from scripts.lib import tasks
from scripts.lib.errors import ArchitectureMismatch
from scripts.lib.settings import StepSettings
from scripts.lib.twins import make_twins

PROBE_BATCH = 2
"""Images in the dry forward (two, so batch norm in any mode has a batch)."""


def check_shapes(architecture: A.Architecture, arch_name: str, sample_shape: tuple) -> None:
    """Input shape and output size against the data (as the architecture's task needs it),
    from the architecture's own shapes."""
    where = f"--arch {arch_name}"
    if tuple(architecture.input_shape) != tuple(sample_shape):
        raise ArchitectureMismatch(
            f"{where}: input_shape is {list(architecture.input_shape)}, but MNIST images are "
            f"{list(sample_shape)}: set input_shape = {list(sample_shape)}")
    try:
        out = architecture.shapes()[-1]
    except ValueError as err:
        raise ArchitectureMismatch(f"{where}: {err}") from None
    tasks.for_architecture(architecture).check_output(architecture, out, where)


def fitted_twins(architecture: A.Architecture, settings: StepSettings, device: str, impls,
                 data: tuple) -> dict:
    """:func:`~scripts.lib.twins.make_twins` for ``settings``, after checking the architecture
    against ``data`` (``(train_x, train_y, test_x, test_y)``) and with one batch pushed
    through every twin; ArchitectureMismatch on any misfit."""
    train_x = data[0]
    check_shapes(architecture, settings.arch, train_x.shape[1:])
    where = f"--arch {settings.arch}"
    try:
        twins = make_twins(architecture, settings.seed, settings.dtype, device,
                           settings.optimizer, settings.hyperparameters, settings.l2,
                           impls, settings.clip_grad_norm, settings.clip_grad_norm_type,
                           lr=settings.lr,
                           no_decay_bias_norm=settings.no_decay_bias_norm)
    except (ValueError, TypeError, RuntimeError, IndexError) as err:
        raise ArchitectureMismatch(f"{where}: the network cannot be built: "
                                   f"{_first_line(err)}") from None
    probe = train_x[:PROBE_BATCH]
    for name, twin in twins.items():
        try:
            with np.errstate(all="ignore"):
                predictions = twin.predict(probe, batch_size=PROBE_BATCH)
        except (ValueError, TypeError, RuntimeError, IndexError) as err:
            raise ArchitectureMismatch(
                f"{where}: a forward of {len(probe)} MNIST images fails in {name}: "
                f"{_first_line(err)}") from None
        if predictions.shape != twin.task.prediction_shape(len(probe), probe.shape[1:]):
            raise ArchitectureMismatch(f"{where}: {name} gives predictions of shape "
                                       f"{list(predictions.shape)} for {len(probe)} images")
    return twins


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
