"""Layers that hold parameters and call the functional pairs, the twin of ``torch.nn``.

Every module has ``forward(x)`` (keeps what backward needs) and
``backward(dout)`` (returns ``dx`` and *sets* each parameter's ``.grad``;
it does not accumulate). Parameter and buffer names and shapes equal those of
the torch module of the same name, so ``state_dict()`` moves across by a
plain dict copy plus an array conversion.

Bad input is refused with an error naming the layer, what it expected and
what it got (see :mod:`scratch.checks`): ``ValueError`` for shapes and
values, ``TypeError`` for dtypes (a float input must have the parameters'
dtype: no hidden upcasting), ``RuntimeError`` for backward before forward.
``backward(dout)`` requires ``dout`` of the forward output's shape and dtype.
"""
from __future__ import annotations

import numpy as np

from scratch import checks
from scratch import functional as F


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
        self._out = None  # (shape, dtype) of the last forward output

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout, input_grad=True):
        raise NotImplementedError

    def _keep(self, out, cache):
        """Remember ``cache`` for backward and the output's shape and dtype; return ``out``."""
        self._cache, self._out = cache, (out.shape, out.dtype)
        return out

    def _take_cache(self, dout):
        """The forward cache (used once), after checking ``dout`` against the output."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward "
                               f"(each forward allows one backward)")
        checks.grad(self, dout, *self._out)
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


class Conv2d(Module):
    """Cross-correlation: ``weight`` (out, in/groups, kh, kw), ``bias`` (out,)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, dtype=np.float32):
        super().__init__()
        self.in_channels = checks.count(self, "in_channels", in_channels)
        self.out_channels = checks.count(self, "out_channels", out_channels)
        self.groups = checks.groups(self, groups, in_channels, out_channels)
        self.kernel_size, self.stride, self.padding, self.dilation = checks.window_args(
            self, kernel_size, stride, padding, dilation)
        dtype = checks.param_dtype(self, dtype)
        self._params["weight"] = Parameter(
            np.zeros((out_channels, in_channels // groups, *self.kernel_size), dtype))
        if bias:
            self._params["bias"] = Parameter(np.zeros(out_channels, dtype))

    def forward(self, x):
        """x: (N, in_channels, H, W) of the weight's dtype -> (N, out_channels, H_out, W_out)."""
        w, b = self._params["weight"].data, self._params.get("bias")
        checks.input_array(self, x, "(N, C, H, W)", (4,), dtype=w.dtype,
                           channels=self.in_channels)
        checks.channels(self, x, self.in_channels, "in_channels")
        checks.window_fits(self, x, self.kernel_size, self.padding, self.dilation)
        return self._keep(*F.conv2d_forward(x, w, b.data if b else None, self.stride,
                                            self.padding, self.dilation, self.groups))

    def backward(self, dout, input_grad=True):
        dx, dw, db = F.conv2d_backward(dout, self._take_cache(dout), input_grad)
        self._params["weight"].grad = dw
        if db is not None:
            self._params["bias"].grad = db
        return dx


class Linear(Module):
    """``x @ weight.T + bias``: ``weight`` (out, in), ``bias`` (out,)."""

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32):
        super().__init__()
        self.in_features = checks.count(self, "in_features", in_features)
        self.out_features = checks.count(self, "out_features", out_features)
        dtype = checks.param_dtype(self, dtype)
        self._params["weight"] = Parameter(np.zeros((out_features, in_features), dtype))
        if bias:
            self._params["bias"] = Parameter(np.zeros(out_features, dtype))

    def forward(self, x):
        """x: (N, in_features) of the weight's dtype -> (N, out_features)."""
        w, b = self._params["weight"].data, self._params.get("bias")
        checks.input_array(self, x, "(N, in_features)", (2,), dtype=w.dtype,
                           channels=self.in_features)
        checks.channels(self, x, self.in_features, "in_features", "input features")
        return self._keep(*F.linear_forward(x, w, b.data if b else None))

    def backward(self, dout, input_grad=True):
        dx, dw, db = F.linear_backward(dout, self._take_cache(dout), input_grad)
        self._params["weight"].grad = dw
        if db is not None:
            self._params["bias"].grad = db
        return dx


class _Pool(Module):
    """Pooling over the last two axes of (N, C, H, W) or (C, H, W) input."""
    _forward = None

    def forward(self, x):
        checks.input_array(self, x, "(N, C, H, W) or (C, H, W)", (3, 4))
        checks.window_fits(self, x, *self.geometry)
        try:
            return self._keep(*type(self)._forward(x, *self.args))
        except ValueError as err:  # a window entirely in the padding
            raise ValueError(f"{type(self).__name__}: {err}") from None


class MaxPool2d(_Pool):
    _forward = F.max_pool2d_forward

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        k, _, p, d = checks.window_args(self, kernel_size, stride, padding, dilation, pool=True)
        self.geometry = (k, p, d)
        self.args = (kernel_size, stride, padding, dilation, ceil_mode)

    def backward(self, dout, input_grad=True):
        return F.max_pool2d_backward(dout, self._take_cache(dout))


class AvgPool2d(_Pool):
    _forward = F.avg_pool2d_forward

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        k, _, p, d = checks.window_args(self, kernel_size, stride, padding, pool=True)
        self.geometry = (k, p, d)
        self.args = (kernel_size, stride, padding, ceil_mode, count_include_pad)

    def backward(self, dout, input_grad=True):
        return F.avg_pool2d_backward(dout, self._take_cache(dout))


class _Pointwise(Module):
    """A parameter-free layer given by a functional pair."""
    _forward = _backward = None

    def forward(self, x):
        checks.input_array(self, x)
        return self._keep(*type(self)._forward(x))

    def backward(self, dout, input_grad=True):
        return type(self)._backward(dout, self._take_cache(dout))


class ReLU(_Pointwise):
    _forward, _backward = F.relu_forward, F.relu_backward


class Sigmoid(_Pointwise):
    _forward, _backward = F.sigmoid_forward, F.sigmoid_backward


class Tanh(_Pointwise):
    _forward, _backward = F.tanh_forward, F.tanh_backward


class Flatten(_Pointwise):
    """(N, ...) -> (N, prod(...))."""
    _forward, _backward = F.flatten_forward, F.flatten_backward

    def forward(self, x):
        checks.input_array(self, x, "(N, ...)", min_ndim=2)
        return self._keep(*F.flatten_forward(x))


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = checks.number(self, "negative_slope", negative_slope)

    def forward(self, x):
        checks.input_array(self, x)
        return self._keep(*F.leaky_relu_forward(x, self.negative_slope))

    def backward(self, dout, input_grad=True):
        return F.leaky_relu_backward(dout, self._take_cache(dout))


class PReLU(Module):
    """Learned negative slope: ``weight`` (num_parameters,), one per channel or shared."""

    def __init__(self, num_parameters=1, init=0.25, dtype=np.float32):
        super().__init__()
        self.num_parameters = checks.count(self, "num_parameters", num_parameters)
        dtype = checks.param_dtype(self, dtype)
        self._params["weight"] = Parameter(np.full(num_parameters, init, dtype))

    def forward(self, x):
        """Any shape with one shared slope; (N, num_parameters, ...) with one per channel."""
        w = self._params["weight"].data
        if self.num_parameters == 1:
            checks.input_array(self, x, dtype=w.dtype)
        else:
            checks.input_array(self, x, "(N, C, ...)", min_ndim=2, dtype=w.dtype,
                               channels=self.num_parameters)
            checks.channels(self, x, self.num_parameters, "num_parameters")
        return self._keep(*F.prelu_forward(x, w))

    def backward(self, dout, input_grad=True):
        dx, dw = F.prelu_backward(dout, self._take_cache(dout))
        self._params["weight"].grad = dw
        return dx


class _BatchNorm(Module):
    """Batch statistics in training (updating running stats), running stats in eval.

    ``momentum=None`` gives torch's cumulative moving average.
    """
    layout, ndims = "(N, C, ...)", (2, 3, 4)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, dtype=np.float32):
        super().__init__()
        num_features = checks.count(self, "num_features", num_features)
        dtype = checks.param_dtype(self, dtype)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        if affine:
            self._params["weight"] = Parameter(np.ones(num_features, dtype))
            self._params["bias"] = Parameter(np.zeros(num_features, dtype))
        self._buffers["running_mean"] = np.zeros(num_features, dtype)
        self._buffers["running_var"] = np.ones(num_features, dtype)
        self._buffers["num_batches_tracked"] = np.zeros((), np.int64)

    def forward(self, x):
        w, b = self._params.get("weight"), self._params.get("bias")
        dtype = w.data.dtype if w else self._buffers["running_mean"].dtype
        checks.input_array(self, x, self.layout, self.ndims, dtype=dtype,
                           channels=self.num_features)
        checks.channels(self, x, self.num_features, "num_features")
        momentum = self.momentum
        if self.training:
            checks.batch_stats(self, x)
            self._buffers["num_batches_tracked"] += 1
            if momentum is None:
                momentum = 1.0 / float(self._buffers["num_batches_tracked"])
        return self._keep(*F.batch_norm_forward(
            x, w.data if w else None, b.data if b else None, self._buffers["running_mean"],
            self._buffers["running_var"], self.training, momentum, self.eps))

    def backward(self, dout, input_grad=True):
        dx, dw, db = F.batch_norm_backward(dout, self._take_cache(dout))
        if dw is not None:
            self._params["weight"].grad, self._params["bias"].grad = dw, db
        return dx


class BatchNorm1d(_BatchNorm):
    layout, ndims = "(N, C) or (N, C, L)", (2, 3)


class BatchNorm2d(_BatchNorm):
    layout, ndims = "(N, C, H, W)", (4,)


class Sequential(Module):
    """Named layers applied in order; ``backward`` runs them in reverse."""

    def __init__(self, layers: dict[str, Module]):
        super().__init__()
        self.layers = checks.layers(self, layers, Module)

    def children(self):
        return self.layers

    def forward(self, x):
        """Errors raised by a layer are re-raised with its name: ``layer 'fc1' (Linear): ...``."""
        try:
            for name, layer in self.layers.items():
                x = layer.forward(x)
        except Exception as err:
            checks.name_layer(err, name, layer)
            raise
        return x

    def backward(self, dout, input_grad=True):
        """Backpropagate ``dout``; ``input_grad=False`` skips the gradient of the network input."""
        layers = list(self.layers.items())
        try:
            for i, (name, layer) in enumerate(reversed(layers)):
                first = i == len(layers) - 1
                dout = layer.backward(dout, input_grad=input_grad or not first)
        except Exception as err:
            checks.name_layer(err, name, layer)
            raise
        return dout


class CrossEntropyLoss:
    """Softmax cross-entropy on logits with class-index targets."""

    def __init__(self, reduction="mean"):
        self.reduction = checks.choice(self, "reduction", reduction, ("mean", "sum", "none"))
        self._cache = None
        self._loss_shape = None

    def __call__(self, logits, target):
        return self.forward(logits, target)

    def forward(self, logits, target):
        """logits: (N, num_classes) float; target: (N,) integers in [0, num_classes)."""
        checks.input_array(self, logits, "(N, num_classes)", (2,), what="logits")
        target = checks.targets(self, target, *logits.shape)
        loss, self._cache = F.cross_entropy_forward(logits, target, self.reduction)
        self._loss_shape = loss.shape
        return loss

    def backward(self, dloss=1.0):
        """``dloss`` has the loss's shape: a scalar, or (N,) for ``reduction='none'``."""
        if self._cache is None:
            raise RuntimeError("CrossEntropyLoss.backward called before forward "
                               "(each forward allows one backward)")
        checks.grad(self, dloss, self._loss_shape, dtype=None, what="dloss")
        cache, self._cache = self._cache, None
        return F.cross_entropy_backward(dloss, cache)
