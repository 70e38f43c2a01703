"""Input validation for :mod:`scratch.nn`: errors that name the layer, what it
expected and what it got, raised before NumPy can fail deep inside a layer.

Every check here is O(1) (shapes, dtypes, a few integers), so modules run them
on every call. ``ValueError`` is raised for bad values and shapes, ``TypeError``
for wrong types and dtypes; the modules raise ``RuntimeError`` for call order.
The ``layer`` argument is the module (or its class name, in constructors).
"""
from __future__ import annotations

import math

import numpy as np

from scratch.windows import pair


def _name(layer) -> str:
    return layer if isinstance(layer, str) else type(layer).__name__


def _dims(n: int) -> str:
    return f"{n} dim" if n == 1 else f"{n} dims"


def _type_name(value) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else (
        f"{kind.__module__}.{kind.__qualname__}")


# --------------------------------------------------------------------------- constructors
def count(layer, what: str, value) -> int:
    """``value`` as a positive int (channels, features, parameters)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{_name(layer)}: {what} must be a positive int, got {value!r}")
    return int(value)


def groups(layer, value, in_channels: int, out_channels: int) -> int:
    """``groups`` must be a positive int dividing both channel counts."""
    value = count(layer, "groups", value)
    if in_channels % value or out_channels % value:
        raise ValueError(f"{_name(layer)}: groups={value} must divide both in_channels="
                         f"{in_channels} and out_channels={out_channels}")
    return value


def number(layer, what: str, value):
    """``value`` must be a real Python or NumPy number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{_name(layer)}: {what} must be a number, got {value!r}")
    return value


def choice(layer, what: str, value, options: tuple):
    if value not in options:
        raise ValueError(f"{_name(layer)}: {what} must be one of "
                         f"{', '.join(map(repr, options))}, got {value!r}")
    return value


def param_dtype(layer, dtype) -> np.dtype:
    """``dtype`` as a NumPy floating dtype (None: float32): parameters must be able to learn."""
    try:
        dt = np.dtype(np.float32 if dtype is None else dtype)
    except TypeError:
        raise TypeError(f"{_name(layer)}: dtype must be a NumPy floating-point type such as "
                        f"np.float32, got {dtype!r}") from None
    if dt.kind != "f":
        raise TypeError(f"{_name(layer)}: dtype must be a floating-point type such as "
                        f"np.float32, got {dt}")
    return dt


def device(layer, value):
    """scratch runs on NumPy arrays in main memory: only ``None`` or ``'cpu'``."""
    if value is None or (isinstance(value, str) and value == "cpu"):
        return value
    raise ValueError(f"{_name(layer)}: device must be None or 'cpu' (scratch computes with "
                     f"NumPy on the CPU), got {value!r}")


def flag(layer, what: str, value) -> bool:
    """``value`` must be a bool: catches a positional argument landing in the wrong slot."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{_name(layer)}: {what} must be True or False, got {value!r}")
    return bool(value)


def positive(layer, what: str, value) -> float:
    """A real number > 0 (batch norm's eps)."""
    number(layer, what, value)
    if not value > 0:
        raise ValueError(f"{_name(layer)}: {what} must be positive, got {value!r}")
    return float(value)


def conv_padding(layer, padding, stride):
    """Conv padding: an int, a pair, ``'valid'`` or ``'same'`` (stride 1 only, as torch)."""
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{_name(layer)}: invalid padding string {padding!r}, should be "
                             f"one of 'same', 'valid'")
        if padding == "same" and any(s != 1 for s in stride):
            raise ValueError(f"{_name(layer)}: padding='same' is not supported for strided "
                             f"convolutions (got stride={stride})")
    return padding


def window_args(layer, kernel_size, stride, padding, dilation=1, pool=False):
    """``(kernel, stride, padding, dilation)`` as pairs, each in range.

    Kernel, stride and dilation must be positive, padding non-negative; pooling
    padding may be at most half the kernel (torch's limit). ``stride=None``
    (pooling) means the kernel size.
    """
    name = _name(layer)
    values = dict(kernel_size=kernel_size,
                  stride=kernel_size if pool and stride is None else stride,
                  padding=0 if isinstance(padding, str) else padding, dilation=dilation)
    pairs = {}
    for arg, value in values.items():
        try:
            pairs[arg] = pair(value, arg)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
        low = 0 if arg == "padding" else 1
        if min(pairs[arg]) < low:
            raise ValueError(f"{name}: {arg} must be {'>= 0' if low == 0 else 'positive'}, "
                             f"got {value!r}")
    k, p = pairs["kernel_size"], pairs["padding"]
    if pool and (p[0] > k[0] // 2 or p[1] > k[1] // 2):
        raise ValueError(f"{name}: padding={padding!r} must be at most half of "
                         f"kernel_size={kernel_size!r} (torch's limit)")
    return k, pairs["stride"], p, pairs["dilation"]


# --------------------------------------------------------------------------- forward
def _nearest(ndim: int, ndims) -> int:
    return min(ndims) if ndim < min(ndims) else max(ndims)


def _rank_hint(shape, want: int, channels) -> str:
    """A suggested fix when a wrong rank has an obvious cause, else ''."""
    ndim = len(shape)
    if ndim == want - 1 and ndim and channels is not None and shape[0] == channels:
        return "; for a single sample add the batch axis: x[None]"
    if want in (3, 4) and ndim == 2 and channels == 1:
        side = math.isqrt(shape[1])
        if shape[0] == shape[1]:
            return "; for a single one-channel image use x[None, None]"
        if side > 1 and side * side == shape[1]:
            return (f"; for a batch of flattened {side}x{side} images use "
                    f"x.reshape(-1, 1, {side}, {side})")
    if ndim == want - 1 and channels == 1:
        return "; to add the missing channel axis use x[:, None]"
    if want == 2 and ndim > 2 and channels is not None and math.prod(shape[1:]) == channels:
        return "; flatten it first: x.reshape(len(x), -1), or put a Flatten layer before"
    return ""


def input_array(layer, x, layout: str | None = None, ndims=(), min_ndim: int = 0,
                dtype=None, channels: int | None = None, what: str = "input"):
    """Check that ``x`` is a floating NumPy array of an accepted rank.

    layout: the expected shape in words, e.g. ``"(N, C, H, W)"``.
    ndims: the accepted numbers of dims (empty: any number >= ``min_ndim``).
    dtype: the layer's parameter dtype, which ``x`` must equal (None: any float).
    channels: the expected size of axis 1, used only to suggest a fix.
    """
    name, var = _name(layer), "x" if what == "input" else what
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} expects {what} as a NumPy array, got {_type_name(x)}; "
                        f"convert it with np.asarray(...)")
    if (ndims and x.ndim not in ndims) or x.ndim < min_ndim:
        wanted = (" or ".join(map(str, ndims)) + " dims" if ndims
                  else f"at least {_dims(min_ndim)}")
        raise ValueError(f"{name} expects {what} of shape {layout} ({wanted}), got shape "
                         f"{x.shape} ({_dims(x.ndim)})"
                         + _rank_hint(x.shape, _nearest(x.ndim, ndims or (min_ndim,)),
                                      channels))
    if x.dtype.kind != "f":
        has = f" (its parameters are {dtype})" if dtype is not None else ""
        to = dtype if dtype is not None else "float32"
        raise TypeError(f"{name} needs floating-point {what}{has}, got dtype {x.dtype}; "
                        f"convert with {var}.astype(np.{to})")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} has {dtype} parameters but got {what} of dtype {x.dtype}; "
                        f"convert with {var}.astype(np.{dtype}) or build the layer with "
                        f"dtype=np.{x.dtype} (no hidden upcasting)")


def channels(layer, x, expected: int, what: str, noun: str = "input channels", axis: int = 1):
    """Axis ``axis`` of ``x`` must equal ``expected`` (``what`` names the constructor argument)."""
    axis = axis % x.ndim
    got = x.shape[axis]
    if got != expected:
        hint = ""
        if x.ndim == 4 and x.shape[-1] == expected:
            hint = "; channels-last (N, H, W, C) input? use x.transpose(0, 3, 1, 2)"
        elif x.ndim == 3 and axis == 0 and expected == 1:
            hint = "; a batch of one-channel images? add the channel axis: x[:, None]"
        elif x.ndim == 3 and axis == 0 and x.shape[-1] == expected:
            hint = "; channels-last (H, W, C) input? use x.transpose(2, 0, 1)"
        elif axis == x.ndim - 1 and x.ndim > 2 and math.prod(x.shape[1:]) == expected:
            hint = ("; flatten it first: x.reshape(len(x), -1), or put a Flatten layer "
                    "before")
        raise ValueError(f"{_name(layer)} expects {expected} {noun} on axis {axis} "
                         f"({what}={expected}), got {got} in input of shape {x.shape}{hint}")


def window_fits(layer, x, kernel, padding, dilation):
    """The dilated kernel must fit the padded spatial size (the last two axes)."""
    size = x.shape[-2:]
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    padded = tuple(s + 2 * p for s, p in zip(size, padding))
    if padded[0] < span[0] or padded[1] < span[1]:
        raise ValueError(
            f"{_name(layer)}: input of spatial size {size} is too small for kernel_size="
            f"{kernel}, dilation={dilation}, padding={padding}: the window spans {span} "
            f"but the padded input is only {padded}")


def pad_fits(layer, x, pads, mode: str):
    """torch's limits for ``F.pad`` modes: reflect pads less than the size, circular
    at most the size (it wraps around once); ``pads`` is (top, bottom, left, right)."""
    size = x.shape[-2:]
    widths = (max(pads[:2]), max(pads[2:]))
    for axis, (n, p) in enumerate(zip(size, widths)):
        if (mode == "reflect" and p >= n) or (mode == "circular" and p > n):
            limit = "less than" if mode == "reflect" else "at most"
            raise ValueError(
                f"{_name(layer)}: padding_mode={mode!r} needs padding {limit} the input's "
                f"spatial size; got padding {p} on axis {x.ndim - 2 + axis} of input of "
                f"shape {x.shape}")
        if mode == "replicate" and n < 1:
            raise ValueError(f"{_name(layer)}: padding_mode='replicate' needs a non-empty "
                             f"input, got shape {x.shape}")


def output_size(layer, value) -> tuple:
    """Adaptive pooling's ``output_size``: an int, or a pair of ints or None (keep that size)."""
    items = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    items = (0, 0) if value is None else items                  # only pair entries may be None
    ok = len(items) == 2 and all(
        v is None or (isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1)
        for v in items)
    if not ok:
        raise ValueError(f"{_name(layer)}: output_size must be a positive int or a pair of "
                         f"positive ints or None, got {value!r}")
    return tuple(None if v is None else int(v) for v in items)


def divisor(layer, value):
    """AvgPool2d's ``divisor_override``: None or a positive int."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                              or value < 1):
        raise ValueError(f"{_name(layer)}: divisor_override must be None or a positive int, "
                         f"got {value!r}")
    return value


def dim_index(layer, what: str, value) -> int:
    """A dimension index (negative counts from the end)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{_name(layer)}: {what} must be an int, got {value!r}")
    return int(value)


def batch_stats(layer, x, when: str = "in training mode"):
    """Batch norm with batch statistics needs more than one value per channel, as torch's
    ``_verify_batch_size``: ``N * prod(spatial) == 1`` is refused; an empty batch
    (``N * prod(spatial) == 0``) passes, as in torch."""
    if math.prod(x.shape[:1] + x.shape[2:]) == 1:
        fix = ("call .eval()" if when == "in training mode" else
               "track running statistics (track_running_stats=True) and call .eval()")
        untracked = "" if when == "in training mode" else f" ({when})"
        raise ValueError(f"{_name(layer)}: Expected more than 1 value per channel when "
                         f"training{untracked}, got input of shape {x.shape}; use a larger "
                         f"batch or {fix}")


# --------------------------------------------------------------------------- backward
def grad(layer, dout, shape, dtype, what: str = "dout"):
    """``dout`` must have the shape and dtype of the forward output.

    With ``dtype=None`` (a loss's ``dloss``) any real number of the right shape passes.
    """
    name = _name(layer)
    if dtype is None:
        if np.shape(dout) != shape:
            raise ValueError(f"{name}.backward expects {what} of shape {shape} (the shape "
                             f"of its forward output), got {np.shape(dout)}")
        return
    if not isinstance(dout, np.ndarray):
        raise TypeError(f"{name}.backward expects {what} as a NumPy array, got "
                        f"{_type_name(dout)}")
    if dout.shape != shape:
        raise ValueError(f"{name}.backward expects {what} of shape {shape} (the shape of "
                         f"its forward output), got {dout.shape}")
    if dout.dtype != dtype:
        raise TypeError(f"{name}.backward expects {what} of dtype {dtype} (the dtype of "
                        f"its forward output), got {dout.dtype}")


# --------------------------------------------------------------------------- containers
def layers(container, args: tuple, module_type) -> dict:
    """torch's ``Sequential(*args)``: the layers themselves, named ``'0'``, ``'1'``, ...,
    or one dict (an ``OrderedDict`` in torch) of name -> layer; as a new dict."""
    name = _name(container)
    if len(args) == 1 and isinstance(args[0], dict):
        named = dict(args[0])
        for key in named:
            layer_name(container, key)
    else:
        named = {str(i): layer for i, layer in enumerate(args)}
    for key, layer in named.items():
        if not isinstance(layer, module_type):
            raise TypeError(f"{name}: layer {key!r} is a {_type_name(layer)}, not a scratch.nn "
                            f"Module; pass the layers themselves, {name}(Linear(4, 2), ReLU()), "
                            f"or one dict of name -> layer, {name}({{'fc': Linear(4, 2)}})")
    return named


def layer_name(container, key) -> str:
    """A child's name: a non-empty string without ``'.'`` (the separator of state_dict keys)."""
    name = _name(container)
    if not isinstance(key, str):
        raise TypeError(f"{name}: a layer name must be a string, got {key!r}")
    if not key or "." in key:
        raise KeyError(f"{name}: a layer name must be a non-empty string without '.', "
                       f"got {key!r}")
    return key


def name_layer(err: Exception, name: str, layer) -> None:
    """Prefix the message of ``err`` (same object: same type and traceback) with
    the container's name for the layer it came from: ``layer 'fc1' (Linear): ...``."""
    where = f"layer {name!r} ({_name(layer)})"
    if type(err) in (ValueError, TypeError, RuntimeError) and len(err.args) == 1:
        err.args = (f"{where}: {err.args[0]}",)
    else:
        err.add_note(f"raised in {where}")


# --------------------------------------------------------------------------- loss
def class_weights(layer, weight) -> np.ndarray:
    """``weight`` as a 1-D float array of per-class weights (its length is checked at forward)."""
    name = _name(layer)
    try:
        array = np.asarray(weight)
    except Exception:   # noqa: BLE001  (any object NumPy cannot read)
        array = np.asarray(None)
    if array.ndim != 1 or array.dtype.kind not in "iuf":
        raise TypeError(f"{name}: weight must be a 1-D array of per-class weights (C,), got "
                        f"{weight!r}")
    return array if array.dtype.kind == "f" else array.astype(np.float64)


def class_weights_length(layer, weight, num_classes: int, class_axis: int):
    if weight is not None and len(weight) != num_classes:
        raise ValueError(f"{_name(layer)}: weight must have one entry per class: expected "
                         f"shape ({num_classes},) for logits with {num_classes} classes on axis "
                         f"{class_axis}, got weight of shape {weight.shape}")


def _index_target_shape(logits_shape, class_axis) -> tuple:
    return tuple(s for i, s in enumerate(logits_shape) if i != class_axis)


def _index_target_words(logits_shape) -> str:
    if len(logits_shape) == 1:
        return f"a 0-d class index for unbatched logits of shape {logits_shape}"
    if len(logits_shape) == 2:
        return f"one class index per row of logits of batch size {logits_shape[0]}"
    return f"one class index per position of logits of shape {logits_shape}, classes on axis 1"


def loss_target(layer, target, logits_shape, ignore_index: int,
                probabilities: bool = True) -> tuple[np.ndarray, bool]:
    """Validate a classification target; return ``(target, is_probabilities)``.

    Class indices: an integer array of the logits' shape without the class axis,
    each value in [0, C) or ``ignore_index``. Probabilities (when allowed): a float
    array of the logits' shape, with ``ignore_index`` negative (torch's rule).
    Reads the targets' min and max (targets are small).
    """
    name = _name(layer)
    class_axis = 0 if len(logits_shape) == 1 else 1
    num_classes = logits_shape[class_axis]
    if num_classes < 1:
        raise ValueError(f"{name} needs at least one class, got logits of shape "
                         f"{logits_shape}")
    target = np.asarray(target)
    if probabilities and target.shape == tuple(logits_shape) and len(logits_shape) > 0:
        if target.dtype.kind != "f":
            raise TypeError(
                f"{name}: a target of the logits' shape {logits_shape} is read as class "
                f"probabilities and must be floating-point, got dtype {target.dtype}; for "
                f"one-hot labels pass class indices, target.argmax(axis={class_axis}), or "
                f"probabilities as floats, target.astype(np.float32)")
        if ignore_index >= 0:
            raise ValueError(f"{name}: ignore_index is not supported for class-probability "
                             f"targets (float target of the logits' shape), got "
                             f"ignore_index={ignore_index}; leave it at its default -100")
        return target, True
    want = _index_target_shape(logits_shape, class_axis)
    if target.shape != want:
        also = (f", or class probabilities of the logits' shape {tuple(logits_shape)}"
                if probabilities else "")
        raise ValueError(f"{name} expects target of shape {want} "
                         f"({_index_target_words(logits_shape)}){also}, got shape "
                         f"{target.shape}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name} expects integer class indices as target, got dtype "
                        f"{target.dtype}; convert with target.astype(np.int64)")
    counted = target[target != ignore_index]
    if counted.size and (counted.min() < 0 or counted.max() >= num_classes):
        bad = counted.min() if counted.min() < 0 else counted.max()
        raise ValueError(f"{name}: target class {bad} is out of range for {num_classes} "
                         f"classes (valid: 0 to {num_classes - 1}); only ignore_index="
                         f"{ignore_index} may lie outside")
    return target, False


def probability(layer, what: str, value, kind: str = "probability"):
    """``value`` a real number in [0, 1] (dropout's p, label smoothing)."""
    number(layer, what, value)
    if not 0 <= value <= 1:
        raise ValueError(f"{_name(layer)}: {what} must be between 0 and 1 ({kind}), "
                         f"got {value}")
    return float(value)
