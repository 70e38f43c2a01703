"""Layers that hold parameters and call the functional pairs, the twin of ``torch.nn``.

Every module has ``forward(x)`` (keeps what backward needs) and
``backward(dout)`` (returns ``dx`` and *sets* each parameter's ``.grad``;
it does not accumulate). Parameter and buffer names and shapes equal those of
the torch module of the same name, so ``state_dict()`` moves across by a
plain dict copy plus an array conversion.
"""
from __future__ import annotations

import numpy as np

from scratch import functional as F
from scratch.windows import pair


class Parameter:
    """A trainable array and its gradient (None until a backward pass)."""
    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray):
        self.data = data
        self.grad = None

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class: named parameters, buffers and child modules."""

    def __init__(self):
        self.training = True
        self._params: dict[str, Parameter] = {}
        self._buffers: dict[str, np.ndarray] = {}
        self._cache = None

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout, input_grad=True):
        raise NotImplementedError

    def _take_cache(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        cache, self._cache = self._cache, None
        return cache

    def children(self) -> dict[str, "Module"]:
        return {}

    def named_parameters(self, prefix=""):
        for name, p in self._params.items():
            yield prefix + name, p
        for cname, child in self.children().items():
            yield from child.named_parameters(f"{prefix}{cname}.")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def _named_arrays(self, prefix=""):
        """Parameter then buffer arrays of each module, depth first: torch's state_dict order."""
        for name, p in self._params.items():
            yield prefix + name, p.data
        for name, b in self._buffers.items():
            yield prefix + name, b
        for cname, child in self.children().items():
            yield from child._named_arrays(f"{prefix}{cname}.")

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed and ordered as torch's state_dict."""
        return {name: a.copy() for name, a in self._named_arrays()}

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays into this module in place; keys and shapes must match exactly."""
        targets = dict(self._named_arrays())
        missing = sorted(set(targets) - set(state))
        unexpected = sorted(set(state) - set(targets))
        if missing or unexpected:
            raise KeyError(f"state dict mismatch: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        for name, target in targets.items():
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(f"state dict entry {name!r} has shape {value.shape}, "
                                 f"expected {target.shape}")
            np.copyto(target, value, casting="same_kind")

    def train(self, mode=True):
        self.training = mode
        for child in self.children().values():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    @property
    def dtype(self):
        params = self.parameters()
        return params[0].data.dtype if params else None


class Conv2d(Module):
    """Cross-correlation: ``weight`` (out, in, kh, kw), ``bias`` (out,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, bias=True, dtype=np.float32):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride, self.padding = pair(stride, "stride"), pair(padding, "padding")
        self.dilation = pair(dilation, "dilation")
        self._params["weight"] = Parameter(
            np.zeros((out_channels, in_channels, *self.kernel_size), dtype))
        if bias:
            self._params["bias"] = Parameter(np.zeros(out_channels, dtype))

    def forward(self, x):
        b = self._params.get("bias")
        out, self._cache = F.conv2d_forward(x, self._params["weight"].data,
                                            b.data if b else None, self.stride,
                                            self.padding, self.dilation)
        return out

    def backward(self, dout, input_grad=True):
        dx, dw, db = F.conv2d_backward(dout, self._take_cache(), input_grad)
        self._params["weight"].grad = dw
        if db is not None:
            self._params["bias"].grad = db
        return dx


class Linear(Module):
    """``x @ weight.T + bias``: ``weight`` (out, in), ``bias`` (out,)."""

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self._params["weight"] = Parameter(np.zeros((out_features, in_features), dtype))
        if bias:
            self._params["bias"] = Parameter(np.zeros(out_features, dtype))

    def forward(self, x):
        b = self._params.get("bias")
        out, self._cache = F.linear_forward(x, self._params["weight"].data,
                                            b.data if b else None)
        return out

    def backward(self, dout, input_grad=True):
        dx, dw, db = F.linear_backward(dout, self._take_cache(), input_grad)
        self._params["weight"].grad = dw
        if db is not None:
            self._params["bias"].grad = db
        return dx


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        self.args = (kernel_size, stride, padding, dilation, ceil_mode)

    def forward(self, x):
        out, self._cache = F.max_pool2d_forward(x, *self.args)
        return out

    def backward(self, dout, input_grad=True):
        return F.max_pool2d_backward(dout, self._take_cache())


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.args = (kernel_size, stride, padding, ceil_mode, count_include_pad)

    def forward(self, x):
        out, self._cache = F.avg_pool2d_forward(x, *self.args)
        return out

    def backward(self, dout, input_grad=True):
        return F.avg_pool2d_backward(dout, self._take_cache())


class _Pointwise(Module):
    """A parameter-free layer given by a functional pair."""
    _forward = _backward = None

    def forward(self, x):
        out, self._cache = type(self)._forward(x)
        return out

    def backward(self, dout, input_grad=True):
        return type(self)._backward(dout, self._take_cache())


class ReLU(_Pointwise):
    _forward, _backward = F.relu_forward, F.relu_backward


class Sigmoid(_Pointwise):
    _forward, _backward = F.sigmoid_forward, F.sigmoid_backward


class Tanh(_Pointwise):
    _forward, _backward = F.tanh_forward, F.tanh_backward


class Flatten(_Pointwise):
    _forward, _backward = F.flatten_forward, F.flatten_backward


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        out, self._cache = F.leaky_relu_forward(x, self.negative_slope)
        return out

    def backward(self, dout, input_grad=True):
        return F.leaky_relu_backward(dout, self._take_cache())


class PReLU(Module):
    """Learned negative slope: ``weight`` (num_parameters,), one per channel or shared."""

    def __init__(self, num_parameters=1, init=0.25, dtype=np.float32):
        super().__init__()
        self._params["weight"] = Parameter(np.full(num_parameters, init, dtype))

    def forward(self, x):
        out, self._cache = F.prelu_forward(x, self._params["weight"].data)
        return out

    def backward(self, dout, input_grad=True):
        dx, dw = F.prelu_backward(dout, self._take_cache())
        self._params["weight"].grad = dw
        return dx


class _BatchNorm(Module):
    """Batch statistics in training (updating running stats), running stats in eval.

    ``momentum=None`` gives torch's cumulative moving average.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, dtype=np.float32):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        if affine:
            self._params["weight"] = Parameter(np.ones(num_features, dtype))
            self._params["bias"] = Parameter(np.zeros(num_features, dtype))
        self._buffers["running_mean"] = np.zeros(num_features, dtype)
        self._buffers["running_var"] = np.ones(num_features, dtype)
        self._buffers["num_batches_tracked"] = np.zeros((), np.int64)

    def forward(self, x):
        w, b = self._params.get("weight"), self._params.get("bias")
        momentum = self.momentum
        if self.training:
            self._buffers["num_batches_tracked"] += 1
            if momentum is None:
                momentum = 1.0 / float(self._buffers["num_batches_tracked"])
        out, self._cache = F.batch_norm_forward(
            x, w.data if w else None, b.data if b else None, self._buffers["running_mean"],
            self._buffers["running_var"], self.training, momentum, self.eps)
        return out

    def backward(self, dout, input_grad=True):
        dx, dw, db = F.batch_norm_backward(dout, self._take_cache())
        if dw is not None:
            self._params["weight"].grad, self._params["bias"].grad = dw, db
        return dx


class BatchNorm1d(_BatchNorm):
    pass


class BatchNorm2d(_BatchNorm):
    pass


class Sequential(Module):
    """Named layers applied in order; ``backward`` runs them in reverse."""

    def __init__(self, layers: dict[str, Module]):
        super().__init__()
        self.layers = dict(layers)

    def children(self):
        return self.layers

    def forward(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def backward(self, dout, input_grad=True):
        """Backpropagate ``dout``; ``input_grad=False`` skips the gradient of the network input."""
        layers = list(self.layers.values())
        for i, layer in enumerate(reversed(layers)):
            first = i == len(layers) - 1
            dout = layer.backward(dout, input_grad=input_grad or not first)
        return dout


class CrossEntropyLoss:
    """Softmax cross-entropy on logits with class-index targets."""

    def __init__(self, reduction="mean"):
        self.reduction = reduction
        self._cache = None

    def __call__(self, logits, target):
        return self.forward(logits, target)

    def forward(self, logits, target):
        loss, self._cache = F.cross_entropy_forward(logits, target, self.reduction)
        return loss

    def backward(self, dloss=1.0):
        if self._cache is None:
            raise RuntimeError("CrossEntropyLoss.backward called before forward")
        cache, self._cache = self._cache, None
        return F.cross_entropy_backward(dloss, cache)
