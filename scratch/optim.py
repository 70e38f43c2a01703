"""Optimizers and a learning-rate schedule, the twin of ``torch.optim``.

Each optimizer updates ``Parameter.data`` in place from ``Parameter.grad``
following torch.optim's update rule line for line; parameters whose grad is
None are skipped, as torch skips them.
"""
from __future__ import annotations

import math

import numpy as np


def _non_negative(name, value):
    """``value`` as a Python float, which keeps float32 arithmetic in float32 (a NumPy
    float64 scalar would promote it); ValueError, as torch, when negative or NaN."""
    value = float(value)
    if not value >= 0.0:
        raise ValueError(f"invalid {name} value: {value} (must be >= 0)")
    return value


class Optimizer:
    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        self.lr = lr
        self.state: list[dict] = [{} for _ in self.params]

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = _non_negative("learning rate", value)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Per-parameter state as flat arrays, ``"<param index>.<name>"`` (NumPy only, so
        it saves with ``np.savez`` and loads with ``allow_pickle=False``)."""
        return {f"{i}.{key}": np.array(value, copy=True)
                for i, state in enumerate(self.state) for key, value in state.items()}

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned; shapes must match the parameters."""
        state: list[dict] = [{} for _ in self.params]
        for name, value in arrays.items():
            index, _, key = name.partition(".")
            if not index.isdigit() or int(index) >= len(self.params) or not key:
                raise KeyError(f"optimizer state entry {name!r} does not name one of the "
                               f"{len(self.params)} parameters as '<index>.<key>'")
            param = self.params[int(index)].data
            if key == "step":
                value = int(value)
            elif np.shape(value) != param.shape:
                raise ValueError(f"optimizer state {name!r} has shape {np.shape(value)}, "
                                 f"expected {param.shape}")
            else:
                value = np.array(value, dtype=param.dtype)  # a copy in the parameter's dtype
            state[int(index)][key] = value
        self.state = state

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                self._update(p, p.grad, state)

    def _update(self, p, grad, state):
        raise NotImplementedError


class SGD(Optimizer):
    """``g = grad + wd*p``; ``buf = momentum*buf + (1-dampening)*g`` (``buf = g`` at first);
    ``g = g + momentum*buf`` (nesterov) or ``g = buf``; ``p -= lr*g``."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False,
                 weight_decay=0.0):
        super().__init__(params, lr)
        momentum = _non_negative("momentum", momentum)
        weight_decay = _non_negative("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov momentum requires momentum > 0 and zero dampening")
        self.momentum, self.dampening = momentum, float(dampening)
        self.nesterov, self.weight_decay = nesterov, weight_decay

    def _update(self, p, grad, state):
        if self.weight_decay:
            grad = grad + self.weight_decay * p.data
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                # An array even for a 0-d parameter (where ``grad`` may be a NumPy
                # scalar, which in-place updates would rebind instead of update).
                buf = state["momentum_buffer"] = np.array(grad, dtype=p.data.dtype)
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * grad
            grad = grad + self.momentum * buf if self.nesterov else buf
        p.data -= self.lr * grad


class Adam(Optimizer):
    """torch.optim.Adam (L2 ``weight_decay`` added to the gradient), with optional amsgrad."""
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        super().__init__(params, lr)
        beta1, beta2 = (float(b) for b in betas)
        for i, beta in enumerate((beta1, beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"invalid beta parameter at index {i}: {beta} "
                                 "(must be in [0, 1))")
        self.betas = (beta1, beta2)
        self.eps = _non_negative("eps", eps)
        self.weight_decay = _non_negative("weight_decay", weight_decay)
        self.amsgrad = amsgrad

    def _update(self, p, grad, state):
        beta1, beta2 = self.betas
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data),
                         exp_avg_sq=np.zeros_like(p.data))
            if self.amsgrad:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        if self.decoupled:
            p.data *= 1 - self.lr * self.weight_decay
        elif self.weight_decay:
            grad = grad + self.weight_decay * p.data
        m, v = state["exp_avg"], state["exp_avg_sq"]
        # m.lerp_(grad, 1 - beta1) as torch computes it: for a weight >= 0.5 the form
        # ``grad - (grad - m) * (1 - weight)`` avoids the cancellation in ``m - weight*m``.
        weight = 1 - beta1
        if weight < 0.5:
            m += weight * (grad - m)
        else:
            m[...] = grad - (grad - m) * (1 - m.dtype.type(weight))
        v *= beta2
        v += (1 - beta2) * grad * grad
        if self.amsgrad:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        bias_correction1 = 1 - beta1 ** state["step"]
        bias_correction2 = 1 - beta2 ** state["step"]
        denom = np.sqrt(v) / math.sqrt(bias_correction2) + self.eps
        p.data -= (self.lr / bias_correction1) * (m / denom)


class AdamW(Adam):
    """torch.optim.AdamW: decoupled weight decay ``p *= 1 - lr*wd`` before the Adam step."""
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


def cosine_lr(base_lr: float, step: int, total_steps: int, eta_min: float = 0.0) -> float:
    """Cosine annealing from ``base_lr`` at step 0 to ``eta_min`` at ``total_steps``
    (the closed form of torch's CosineAnnealingLR with ``T_max = total_steps``)."""
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * step / total_steps)) / 2
