"""The two implementations behind one interface, for training side by side.

A :class:`ScratchTwin` and a :class:`TorchTwin` built by :func:`make_twins`
start from the same weights (drawn once by scratch, copied into torch). Each
takes the same ``step(x, y, lr)`` on the same NumPy batch and reports the
loss, so training scripts never branch on the implementation.

The objective of both is ``cross_entropy(logits, y) + 0.5 * l2 * sum(w**2)``
over the weights (not the biases) of conv, transposed conv and linear layers
(``nll_loss`` in place of ``cross_entropy`` when the network ends with LogSoftmax;
for a reconstruction, the architecture's loss against the input's pixels: the
twins' ``task``, :mod:`scripts.lib.tasks`, gives the target and the loss); the
optimizer is any entry of :data:`scripts.lib.optimizers.OPTIMIZERS`, with the same
hyperparameters on both sides, and each side may get its own scheduler
(:data:`scripts.lib.schedulers.SCHEDULERS`). Dropout masks are drawn by torch and
applied by scratch (:func:`reference.dropout.share_masks`). With ``clip_grad_norm``
set, both clip the gradients (scratch: ``scratch.nn.utils.clip_grad_norm_``, torch:
``torch.nn.utils.clip_grad_norm_``) after backward and the L2 term and before the
optimizer step; ``last_grad_norm`` then holds the total norm before clipping of the
last step.
"""
from __future__ import annotations

import numpy as np
import torch

from reference import convert
from reference import dropout as reference_dropout
from reference import model as reference_model
from scratch import arch as A
from scratch import functional as F
from scratch import model as scratch_model
from scratch import nn
from scratch.nn.utils import clip_grad_norm_
from scratch.optim.flat import flatten_state_dict, unflatten_state_dict
from scripts.lib import schedulers, tasks
from scripts.lib.images import MNIST_MEAN, MNIST_STD, normalize  # noqa: F401 (their old home)
from scripts.lib.optimizers import OPTIMIZERS, set_lr

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class NonFiniteError(FloatingPointError):
    """A loss or gradient became NaN or infinite; raised before the weights are updated."""


def penalised_names(model: nn.Sequential) -> list[str]:
    """The parameters L2 applies to: conv, transposed conv and linear weights (not biases,
    not batch-norm or PReLU parameters), inside residual blocks too. Both twins use these
    names."""
    return [f"{name}.weight" for name, layer in model.named_modules()
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]


def no_decay_names(model: nn.Sequential) -> set[str]:
    """The parameters ``--no-decay-bias-norm`` exempts from weight decay: every bias
    (``bias``, ``bias_ih_l0``...) and every batch-norm and PReLU parameter."""
    modules = dict(model.named_modules())
    return {name for name, _ in model.named_parameters()
            if name.rsplit(".", 1)[-1].startswith("bias")
            or isinstance(modules[name.rsplit(".", 1)[0]],
                          (nn.BatchNorm1d, nn.BatchNorm2d, nn.PReLU))}


def loss_name(architecture: A.Architecture) -> str:
    """The loss's ``torch.nn.functional`` name: for classification ``"nll_loss"`` when the
    network ends with LogSoftmax (it gives log-probabilities), else ``"cross_entropy"``
    (on logits); for a reconstruction, its task's loss (:mod:`scripts.lib.tasks`)."""
    return tasks.for_architecture(architecture).loss


def parameter_groups(named_parameters, no_decay: set[str] | None) -> list:
    """The optimizer's ``params``: one list, or (``no_decay`` given) torch-style groups
    ``[{"params": decayed}, {"params": named in no_decay, "weight_decay": 0.0}]``."""
    named = list(named_parameters)
    if no_decay is None:
        return [p for _, p in named]
    groups = [{"params": [p for n, p in named if n not in no_decay]},
              {"params": [p for n, p in named if n in no_decay], "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


class _Scheduled:
    """What both twins share: their own scheduler on their own optimizer."""
    scheduler = None
    side = ""

    def attach_scheduler(self, name: str, arguments: dict) -> None:
        self.scheduler_name = name
        self.scheduler = schedulers.build(name, self.side, self.opt, arguments)

    def scheduler_step(self, metric: float | None = None) -> None:
        if schedulers.SCHEDULERS[self.scheduler_name].needs_metric:
            self.scheduler.step(metric)
        else:
            self.scheduler.step()

    def current_lr(self) -> float:
        """The learning rate of the first parameter group."""
        return float(self.opt.param_groups[0]["lr"])


class ScratchTwin(_Scheduled):
    side = "scratch"

    def __init__(self, model: nn.Sequential, optimizer: str, hyper: dict, l2: float,
                 clip: tuple[float, float] | None = None, *, lr: float = 0.0,
                 no_decay: set[str] | None = None,
                 task: tasks.ClassificationTask | tasks.ReconstructionTask):
        self.model, self.l2 = model, l2
        self.task = task
        self.clip, self.last_grad_norm = clip, None
        self.opt = OPTIMIZERS[optimizer].scratch(
            parameter_groups(model.named_parameters(), no_decay), lr=lr, **hyper)
        self.loss_fn = tasks.SCRATCH_LOSSES[self.task.loss]()
        names = set(penalised_names(model))
        self.penalised = [p for n, p in model.named_parameters() if n in names]

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, float]:
        """One optimizer step; returns (objective, the task's score of the batch: the
        number of correct predictions, or the squared error of the reconstruction).

        Overflow inside NumPy is not warned about: a non-finite loss or gradient raises
        :class:`NonFiniteError` before the weights change, which says it once."""
        self.model.train()
        target = self.task.target(x, y)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            logits = self.model.forward(x)
            loss = float(self.loss_fn(logits, target))
            self.model.backward(self.loss_fn.backward(), input_grad=False)
            if self.l2:
                weights = [p.data for p in self.penalised]
                loss += float(F.l2_penalty(weights, self.l2))
                for p, g in zip(self.penalised, F.l2_penalty_backward(weights, self.l2)):
                    p.grad += g
            if self.clip:
                self.last_grad_norm = float(clip_grad_norm_(self.model.parameters(), *self.clip))
        check_finite(loss, ((n, p.grad) for n, p in self.model.named_parameters()))
        if lr is not None:   # None: the scheduler sets it
            set_lr(self.opt, lr)
        with np.errstate(over="ignore", invalid="ignore"):
            self.opt.step()
        return loss, self.task.score(logits, target)

    def outputs(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """The network's outputs for ``x`` in eval mode, ``batch_size`` images at a time."""
        self.model.eval()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return np.concatenate([self.model.forward(x[i:i + batch_size])
                                   for i in range(0, len(x), batch_size)])

    def predict(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """The task's predictions (classes, or reconstructed pixels) in eval mode."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self.task.predict(self.outputs(x, batch_size))

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
        """Mean loss (without the L2 term) over ``x`` in eval mode."""
        self.model.eval()
        total = 0.0
        target = self.task.target(x, y)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for i in range(0, len(x), batch_size):
                out = self.model.forward(x[i:i + batch_size])
                total += float(self.loss_fn(out, target[i:i + batch_size])) * len(out)
        return total / len(x)

    def state_dict(self) -> dict[str, np.ndarray]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.model.load_state_dict(state)

    def optimizer_state(self) -> dict[str, np.ndarray]:
        return flatten_state_dict(self.opt.state_dict())

    def _generators(self):
        return [layer.generator for layer in self.model.modules()
                if isinstance(layer, nn.dropout._DropoutNd)]

    def rng_state(self) -> list[dict] | None:
        """The states of the generators the dropout layers draw from, in layer order (None
        without dropout): a scratch-only run resumes with the same masks."""
        return [g.bit_generator.state for g in self._generators()] or None

    def load_rng_state(self, states: list[dict]) -> None:
        for generator, state in zip(self._generators(), states, strict=True):
            generator.bit_generator.state = state

    def load_optimizer_state(self, arrays: dict[str, np.ndarray]) -> None:
        groups = self.opt.state_dict()["param_groups"]
        self.opt.load_state_dict(unflatten_state_dict(arrays, groups))

    def sync(self):
        """Nothing to wait for on the CPU."""


class TorchTwin(_Scheduled):
    side = "torch"

    def __init__(self, model: torch.nn.Module, optimizer: str, hyper: dict, l2: float, device,
                 penalised: list[str], clip: tuple[float, float] | None = None, *,
                 lr: float = 0.0, no_decay: set[str] | None = None,
                 task: tasks.ClassificationTask | tasks.ReconstructionTask):
        self.model, self.l2, self.device = model, l2, torch.device(device)
        self.task = task
        self.clip, self.last_grad_norm = clip, None
        self.opt = OPTIMIZERS[optimizer].torch(
            parameter_groups(model.named_parameters(), no_decay), lr=lr, **hyper)
        self.loss_fn = getattr(torch.nn.functional, self.task.loss)
        self.penalised = [p for n, p in model.named_parameters() if n in set(penalised)]

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).to(self.device, non_blocking=True)

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, float]:
        self.model.train()
        target = self.task.target(x, y)
        tx, ty = self._tensor(x), self._tensor(target)
        logits = self.model(tx)
        loss = self.loss_fn(logits, ty)
        if self.l2:
            loss = loss + 0.5 * self.l2 * sum((p * p).sum() for p in self.penalised)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.clip:
            self.last_grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(),
                                                                       *self.clip))
        value = loss.item()
        check_finite(value, ((n, p.grad) for n, p in self.model.named_parameters()))
        if lr is not None:   # None: the scheduler sets it
            set_lr(self.opt, lr)
        self.opt.step()
        return value, self.task.score(logits.detach().cpu().numpy(), target)

    @torch.no_grad()
    def outputs(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """The network's outputs for ``x`` in eval mode, ``batch_size`` images at a time."""
        self.model.eval()
        return np.concatenate([self.model(self._tensor(x[i:i + batch_size])).cpu().numpy()
                               for i in range(0, len(x), batch_size)])

    def predict(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """The task's predictions (classes, or reconstructed pixels) in eval mode."""
        return self.task.predict(self.outputs(x, batch_size))

    @torch.no_grad()
    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
        """Mean loss (without the L2 term) over ``x`` in eval mode."""
        self.model.eval()
        total = 0.0
        target = self.task.target(x, y)
        for i in range(0, len(x), batch_size):
            out = self.model(self._tensor(x[i:i + batch_size]))
            total += self.loss_fn(out, self._tensor(target[i:i + batch_size])).item() * len(out)
        return total / len(x)

    def state_dict(self) -> dict[str, np.ndarray]:
        return convert.to_numpy_state(self.model.state_dict())

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        convert.load_numpy_state(self.model, state)

    def optimizer_state(self) -> dict[str, np.ndarray]:
        return convert.optimizer_state_to_numpy(self.opt)

    def load_optimizer_state(self, arrays: dict[str, np.ndarray]) -> None:
        convert.load_optimizer_state(self.opt, arrays)

    def sync(self):
        """Wait for queued GPU work, so a timer around a step measures the step."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def check_finite(loss: float, named_grads) -> None:
    """Raise :class:`NonFiniteError` naming the loss or the first gradient that is not finite."""
    if not np.isfinite(loss):
        raise NonFiniteError(f"the loss is {loss}")
    for name, g in named_grads:
        if g is None:
            continue
        finite = bool(torch.isfinite(g).all()) if torch.is_tensor(g) else bool(np.isfinite(g).all())
        if not finite:
            raise NonFiniteError(f"the gradient of {name} is not finite")


def make_twins(architecture: A.Architecture, seed: int, dtype: str, device: str,
               optimizer: str, hyper: dict, l2: float | None = None,
               impls=("scratch", "torch"), clip_grad_norm: float | None = None,
               clip_grad_norm_type: float = 2.0, *, lr: float = 0.0,
               no_decay_bias_norm: bool = False):
    """The requested twins, all holding the weights scratch draws from ``seed`` and each
    with a fresh ``optimizer`` (a key of OPTIMIZERS) built with ``hyper`` and ``lr``; each
    clips its gradients to a total ``clip_grad_norm_type`` norm of ``clip_grad_norm`` when
    that is given.

    The twins share the architecture's task (:func:`scripts.lib.tasks.for_architecture`:
    the target and the loss); for classification the loss is NLL when the architecture
    ends with LogSoftmax, else cross-entropy (:func:`loss_name`). ``no_decay_bias_norm``:
    biases, batch-norm and PReLU parameters (:func:`no_decay_names`) go in a second group
    with ``weight_decay`` 0. With
    both twins, dropout layers share masks, torch drawing (step the torch twin first)."""
    scratch = scratch_model.build(architecture, seed=seed, dtype=np.dtype(dtype))
    clip = None if clip_grad_norm is None else (clip_grad_norm, clip_grad_norm_type)
    no_decay = no_decay_names(scratch) if no_decay_bias_norm else None
    common = dict(lr=lr, no_decay=no_decay, task=tasks.for_architecture(architecture))
    twins = {}
    if "scratch" in impls:
        twins["scratch"] = ScratchTwin(scratch, optimizer, hyper, l2, clip, **common)
    if "torch" in impls:
        net = reference_model.build(architecture, dtype=TORCH_DTYPES[dtype], device=device)
        convert.load_numpy_state(net, scratch.state_dict())
        twins["torch"] = TorchTwin(net, optimizer, hyper, l2, device, penalised_names(scratch),
                                   clip, **common)
    if len(twins) == 2:
        reference_dropout.share_masks(scratch, net, leader="torch")
    return twins


def step_order(twins: dict) -> list[str]:
    """The twins' names, torch first: it draws the dropout masks scratch then applies."""
    return sorted(twins, key=lambda name: name != "torch")


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when a GPU is there, else 'cpu'; 'cuda' without a GPU is an error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no GPU "
                         "(torch.cuda.is_available() is False); use --device cpu or auto")
    return device
