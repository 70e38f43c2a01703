"""Per-sample normalisations: layer norm, group norm, instance norm, RMS norm and local
response norm; forward/backward pairs (batch norm is in :mod:`scratch.functional.batchnorm`).

Unlike batch norm, each of these normalises one sample at a time, so a sample's
output does not depend on the rest of the batch. The textbook backward of a
normalisation over ``M`` values (``xhat = (x - mean) / std``) is

    dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / std,

written out below for groups of channels; instance norm is group norm with one
channel per group.

Layer norm (torch's ``F.layer_norm``) normalises each sample over its last ``k`` axes
(``normalized_shape``, the trailing ``k`` sizes of the input), with the biased variance:

    mean = x.mean(last k axes);  var = ((x - mean)**2).mean(last k axes)
    xhat = (x - mean) / sqrt(var + eps);  out = xhat * weight + bias

``weight`` and ``bias`` have ``normalized_shape`` (or are None). Unlike batch
norm there are no running statistics: training and evaluation compute the same.

Layer norm and group norm (so instance norm with the input's statistics) have fast
paths in :mod:`scratch.backends.fast.normalization`, entered through the lines marked
``FAST PATH``; ``scratch.backends.fast.enabled = False`` leaves only the code below.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scratch.backends.fast import normalization as fast_norm


def _channel_shape(ndim):
    return (1, -1) + (1,) * (ndim - 2)


def _affine(xhat, weight, bias):
    shape = _channel_shape(xhat.ndim)
    out = xhat if weight is None else xhat * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)


def _affine_grads(dout, xhat, weight, has_bias):
    """``(dxhat, dweight, dbias)`` of ``out = xhat * weight + bias`` per channel."""
    axes = (0,) + tuple(range(2, dout.ndim))
    dxhat = dout if weight is None else dout * weight.reshape(_channel_shape(dout.ndim))
    dw = None if weight is None else (dout * xhat).sum(axis=axes)
    return dxhat, dw, dout.sum(axis=axes) if has_bias else None


class LayerNormCache(NamedTuple):
    xhat: np.ndarray        # the normalised input, x's shape
    rstd: np.ndarray        # 1 / sqrt(var + eps), x's shape with the last k axes of size 1
    weight: np.ndarray | None
    has_bias: bool
    axes: tuple             # the normalised axes (the last k)


def layer_norm_forward(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """x: (*, *normalized_shape); weight, bias: normalized_shape or None.

    Returns out (x's shape and dtype) and a :class:`LayerNormCache`.
    """
    if (fast := fast_norm.layer_norm_forward(x, normalized_shape, weight, bias, eps)) is not None:
        return fast                                              # FAST PATH (fewer passes)
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=axes, keepdims=True)
    rstd = 1 / np.sqrt(var + x.dtype.type(eps))
    xhat = centred * rstd
    out = xhat if weight is None else xhat * weight
    if bias is not None:
        out = out + bias
    return np.asarray(out, x.dtype), LayerNormCache(xhat, rstd, weight, bias is not None, axes)


def layer_norm_backward(dout, cache):
    """Returns ``(dx, dweight, dbias)`` (the last two None when absent).

    With ``g = dout * weight`` and ``m`` the number of normalised elements,
    ``dx = rstd * (g - mean(g) - xhat * mean(g * xhat))`` over the normalised
    axes; ``dweight = sum(dout * xhat)`` and ``dbias = sum(dout)`` over the leading axes.
    """
    if isinstance(cache, fast_norm.LayerNormFastCache):
        return fast_norm.layer_norm_backward(dout, cache)        # FAST PATH (its cache)
    xhat, rstd, weight, has_bias, axes = cache
    lead = tuple(range(dout.ndim - len(axes)))
    g = dout if weight is None else dout * weight
    dx = rstd * (g - g.mean(axis=axes, keepdims=True)
                 - xhat * (g * xhat).mean(axis=axes, keepdims=True))
    dweight = None if weight is None else (dout * xhat).sum(axis=lead)
    dbias = dout.sum(axis=lead) if has_bias else None
    return np.asarray(dx, dout.dtype), dweight, dbias


# --------------------------------------------------------------------------- group norm
class GroupNormCache(NamedTuple):
    xhat: np.ndarray        # (N, C, *) normalised input
    inv_std: np.ndarray     # (N, G, 1) 1 / sqrt(var + eps) per sample and group
    weight: np.ndarray | None
    has_bias: bool
    num_groups: int


def group_norm_forward(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each sample's channels in ``num_groups`` consecutive groups.

    x: (N, C, *) with C divisible by ``num_groups``; weight, bias: (C,) or None.
    Mean and biased variance over the ``C / G * prod(*)`` values of each group. An
    input of fewer than 2 dims, or C not divisible by ``num_groups``, is refused with
    torch's RuntimeError (``num_groups=0``: its ZeroDivisionError).
    """
    if x.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{x.ndim}")
    if num_groups == 0:
        raise ZeroDivisionError("integer division or modulo by zero")
    if x.shape[1] % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape [{', '.join(map(str, x.shape))}]"
                           f" and num_groups={num_groups}")
    if (fast := fast_norm.group_norm_forward(x, num_groups, weight, bias, eps)) is not None:
        return fast                                              # FAST PATH (fewer passes)
    n, c = x.shape[:2]
    groups = x.reshape(n, num_groups, -1)                      # (N, G, C/G * prod(*))
    mean = groups.mean(axis=2, keepdims=True)
    var = groups.var(axis=2, keepdims=True)
    inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
    xhat = ((groups - mean) * inv_std).reshape(x.shape)
    return (np.asarray(_affine(xhat, weight, bias), x.dtype),
            GroupNormCache(xhat, inv_std, weight, bias is not None, num_groups))


def group_norm_backward(dout, cache):
    """Returns ``(dx, dweight, dbias)`` (None where weight or bias was None)."""
    if isinstance(cache, fast_norm.GroupNormFastCache):
        return fast_norm.group_norm_backward(dout, cache)        # FAST PATH (its cache)
    xhat, inv_std, weight, has_bias, g = cache
    dxhat, dw, db = _affine_grads(dout, xhat, weight, has_bias)
    n = dout.shape[0]
    d, xh = dxhat.reshape(n, g, -1), xhat.reshape(n, g, -1)   # (N, G, M)
    dx = inv_std * (d - d.mean(axis=2, keepdims=True)
                    - xh * (d * xh).mean(axis=2, keepdims=True))
    return np.asarray(dx.reshape(dout.shape), dout.dtype), dw, db


# --------------------------------------------------------------------------- instance norm
class InstanceNormCache(NamedTuple):
    group: GroupNormCache | None     # the input's own statistics (use_input_stats), or
    xhat: np.ndarray | None          # the input normalised by the running statistics
    inv_std: np.ndarray | None       # (C,) from the running variance
    weight: np.ndarray | None
    has_bias: bool


def instance_norm_forward(x, running_mean=None, running_var=None, weight=None, bias=None,
                          use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise each (sample, channel) over its spatial positions, torch's argument order.

    x: (N, C, *) with at least one spatial axis; weight, bias, running_mean,
    running_var: (C,) or None. With ``use_input_stats`` each instance's own mean and
    biased variance are used and the running buffers, when given, are updated in
    place with the batch average of the instance means and unbiased variances:
    ``running = (1 - momentum) * running + momentum * mean_n(stat)``. Otherwise the
    running statistics normalise (eval mode of a tracking layer).
    """
    c = x.shape[1]
    if not use_input_stats:
        shape = _channel_shape(x.ndim)
        inv_std = 1 / np.sqrt(running_var + x.dtype.type(eps))
        xhat = (x - running_mean.reshape(shape)) * inv_std.reshape(shape)
        return (np.asarray(_affine(xhat, weight, bias), x.dtype),
                InstanceNormCache(None, xhat, inv_std, weight, bias is not None))
    out, group = group_norm_forward(x, c, weight, bias, eps)
    if running_mean is not None:
        inst = x.reshape(x.shape[0], c, -1)                    # (N, C, prod(*))
        m = inst.shape[2]
        mom = x.dtype.type(momentum)
        running_mean *= 1 - mom
        running_mean += mom * inst.mean(axis=2).mean(axis=0)
        running_var *= 1 - mom
        running_var += mom * (inst.var(axis=2) * (m / max(m - 1, 1))).mean(axis=0)
    return out, InstanceNormCache(group, None, None, weight, bias is not None)


def instance_norm_backward(dout, cache):
    """Returns ``(dx, dweight, dbias)``; with running statistics ``dx = dxhat / std``."""
    group, xhat, inv_std, weight, has_bias = cache
    if group is not None:
        return group_norm_backward(dout, group)
    dxhat, dw, db = _affine_grads(dout, xhat, weight, has_bias)
    dx = dxhat * inv_std.reshape(_channel_shape(dout.ndim))
    return np.asarray(dx, dout.dtype), dw, db


# --------------------------------------------------------------------------- RMS norm
class RMSNormCache(NamedTuple):
    x: np.ndarray
    inv_rms: np.ndarray     # 1 / sqrt(mean(x**2) + eps) over the normalised axes (kept)
    weight: np.ndarray | None
    axes: tuple


def rms_norm_forward(x, normalized_shape, weight=None, eps=None):
    """``x / sqrt(mean(x**2) + eps) * weight`` over the last ``len(normalized_shape)``
    axes, which must equal ``normalized_shape``; ``eps=None`` is the machine epsilon of
    x's dtype, as torch. weight: ``normalized_shape`` or None."""
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if x.shape[x.ndim - k:] != normalized_shape or x.ndim < k:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input "
                           f"with shape [*, {', '.join(map(str, normalized_shape))}], but got "
                           f"input of size{list(x.shape)}")
    eps = np.finfo(x.dtype).eps if eps is None else eps
    axes = tuple(range(x.ndim - k, x.ndim))
    inv_rms = 1 / np.sqrt((x * x).mean(axis=axes, keepdims=True) + x.dtype.type(eps))
    out = x * inv_rms if weight is None else x * inv_rms * weight
    return np.asarray(out, x.dtype), RMSNormCache(x, inv_rms, weight, axes)


def rms_norm_backward(dout, cache):
    """``dx = r (dxhat - r**2 x mean(dxhat x))``, ``r`` the inverse RMS, ``dxhat = dout
    * weight``; ``dweight`` sums ``dout * x * r`` over the leading axes. Returns
    ``(dx, dweight)``."""
    x, r, weight, axes = cache
    dxhat = dout if weight is None else dout * weight
    dx = r * (dxhat - r * r * x * (dxhat * x).mean(axis=axes, keepdims=True))
    lead = tuple(range(x.ndim - len(axes)))
    dw = None if weight is None else (dout * x * r).sum(axis=lead)
    return np.asarray(dx, dout.dtype), dw


# --------------------------------------------------------------------------- local response norm
class LocalResponseNormCache(NamedTuple):
    x: np.ndarray
    base: np.ndarray        # k + alpha / size * (sum of x**2 over each channel window)
    size: int
    alpha: float
    beta: float


def _channel_window_sum(a, before, after):
    """``s[:, c] = sum(a[:, c - before : c + after + 1])`` (out-of-range channels count 0),
    by a cumulative sum along axis 1: no loop over channels."""
    pad = [(0, 0)] * a.ndim
    pad[1] = (before + 1, after)
    csum = np.cumsum(np.pad(a, pad), axis=1)
    c = a.shape[1]
    return csum[:, before + 1 + after:before + 1 + after + c] - csum[:, :c]


def local_response_norm_forward(x, size, alpha=1e-4, beta=0.75, k=1.0):
    """``x_c / (k + alpha / size * sum_{j in window(c)} x_j**2) ** beta`` across channels,
    the window ``[c - size // 2, c + (size - 1) // 2]`` (torch's padding; the divisor is
    always ``size``). x: (N, C, *) with at least 3 dims."""
    if x.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {x.ndim} "
                         f"dimensions)")
    dtype = x.dtype
    window = _channel_window_sum(x * x, size // 2, (size - 1) // 2)
    base = dtype.type(k) + dtype.type(alpha) * (window / dtype.type(size))
    out = x / base ** dtype.type(beta)
    return np.asarray(out, dtype), LocalResponseNormCache(x, base, size, alpha, beta)


def local_response_norm_backward(dout, cache):
    """``dx_j = dout_j b_j**-beta - 2 alpha beta / size * x_j * sum_{c: j in window(c)}
    dout_c x_c b_c**(-beta - 1)``; the channels c whose window holds j are
    ``[j - (size - 1) // 2, j + size // 2]``."""
    x, base, size, alpha, beta = cache
    dtype = x.dtype
    b = dtype.type(beta)
    per_c = dout * x * base ** (-b - 1)
    back = _channel_window_sum(per_c, (size - 1) // 2, size // 2)
    dx = dout * base ** -b - dtype.type(2 * alpha * beta / size) * x * back
    return np.asarray(dx, dtype)
