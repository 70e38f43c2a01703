"""Activation layers, and ``MultiheadAttention`` (torch keeps it in activation.py too).

Pointwise: ``ReLU``, ``Sigmoid``, ``Tanh``, ``LeakyReLU``, ``PReLU``, ``GELU``, ``ELU``,
``SiLU``; piecewise-linear: ``Hardtanh``, ``ReLU6``, ``Threshold``, ``Hardshrink``,
``Softshrink``, ``Hardsigmoid``, ``Hardswish``; smooth: ``Softplus``, ``Mish``, ``SELU``,
``LogSigmoid``, ``Softsign``, ``Tanhshrink``, ``CELU``, ``GLU``; along an axis:
``Softmax``, ``LogSoftmax``, ``Softmin``, ``Softmax2d``. torch's arguments, order,
defaults and repr.

Every activation takes any input shape, a 0-d array included, and returns an
ndarray of the input's shape and dtype (never a NumPy scalar). ``inplace``
is accepted where torch has it, in torch's position, but the output is always
a new array and the input is left unchanged: NumPy has no autograd version
counter to catch an array that a later in-place layer overwrites while an
earlier layer still keeps it for backward (Sigmoid and Tanh keep their output),
which is the error torch raises in that case.

``MultiheadAttention`` comes last (its ``out_proj`` is a
``NonDynamicallyQuantizableLinear``, in :mod:`scratch.nn.linear` as in torch); the
class docstring holds the contract.
"""
from __future__ import annotations

import warnings

import numpy as np

from scratch import checks, init
from scratch import functional as F
from scratch import random as R
from scratch.nn.linear import NonDynamicallyQuantizableLinear
from scratch.nn.module import Module, Parameter


def _inplace(layer, value) -> bool:
    """torch's ``inplace`` flag, which must be a bool (a misplaced positional argument
    is caught here); it does not change what the layer computes (see above)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{type(layer).__name__}: inplace must be True or False, got {value!r}")
    return bool(value)


class _Pointwise(Module):
    """A parameter-free layer given by a functional pair."""
    _forward = _backward = None
    inplace = False

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""

    def _run(self, x):
        """``(out, cache)`` of the functional forward for this layer's arguments."""
        return type(self)._forward(x)

    def forward(self, x):
        checks.input_array(self, x)
        out, cache = self._run(x)
        return self._keep(np.asarray(out), cache)

    def backward(self, dout, input_grad=True):
        return np.asarray(type(self)._backward(dout, self._take_cache(dout)))


class _Flagged(_Pointwise):
    """A layer whose only argument is ``inplace``."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = _inplace(self, inplace)


def _legacy_softmax_dim(name, ndim):
    """torch's choice when ``dim`` is not given (deprecated there, with this warning)."""
    dim = 0 if ndim in (0, 1, 3) else 1
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  f"to include dim=X as an argument.", UserWarning, stacklevel=4)
    return dim


class _SoftmaxBase(_Pointwise):
    def __init__(self, dim=None):
        super().__init__()
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, (int, np.integer))):
            raise TypeError(f"{type(self).__name__}: dim must be an int, got {dim!r}")
        self.dim = None if dim is None else int(dim)

    def extra_repr(self):
        return f"dim={self.dim}"

    def _run(self, x):
        name = type(self).__name__
        dim = (self.dim if self.dim is not None
               else _legacy_softmax_dim(name.lower(), x.ndim))
        F.softmax_dim(dim, x.ndim, name)
        return type(self)._forward(x, dim)


class ReLU(_Pointwise):
    _forward, _backward = F.relu_forward, F.relu_backward

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = _inplace(self, inplace)


class Sigmoid(_Pointwise):
    _forward, _backward = F.sigmoid_forward, F.sigmoid_backward


class Tanh(_Pointwise):
    _forward, _backward = F.tanh_forward, F.tanh_backward


class LeakyReLU(_Pointwise):
    _backward = F.leaky_relu_backward

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = checks.number(self, "negative_slope", negative_slope)
        self.inplace = _inplace(self, inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")

    def _run(self, x):
        return F.leaky_relu_forward(x, self.negative_slope)


class PReLU(Module):
    """Learned negative slope: ``weight`` (num_parameters,), one per channel or shared."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        """torch's arguments in torch's order; ``device``: None or ``'cpu'``; ``dtype``:
        None means float32."""
        super().__init__()
        self.num_parameters = checks.count(self, "num_parameters", num_parameters)
        if not (device is None or (isinstance(device, str) and device == "cpu")):
            raise ValueError(f"PReLU: device must be None or 'cpu' (scratch computes with "
                             f"NumPy on the CPU), got {device!r}")
        dtype = checks.param_dtype(self, np.float32 if dtype is None else dtype)
        self._params["weight"] = Parameter(np.full(num_parameters, init, dtype))

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"

    def forward(self, x):
        """Any shape with one shared slope; (N, num_parameters, ...) with one per channel."""
        w = self._params["weight"].data
        if self.num_parameters == 1:
            checks.input_array(self, x, dtype=w.dtype)
        else:
            checks.input_array(self, x, "(N, C, ...)", min_ndim=2, dtype=w.dtype,
                               channels=self.num_parameters)
            checks.channels(self, x, self.num_parameters, "num_parameters")
        out, cache = F.prelu_forward(x, w)
        return self._keep(np.asarray(out), cache)

    def backward(self, dout, input_grad=True):
        dx, dw = F.prelu_backward(dout, self._take_cache(dout))
        self._params["weight"].grad = dw
        return np.asarray(dx)


class GELU(_Pointwise):
    """``x * Phi(x)``; ``approximate='tanh'`` is torch's tanh approximation."""
    _backward = F.gelu_backward

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = checks.choice(self, "approximate", approximate, ("none", "tanh"))

    def extra_repr(self):
        return f"approximate={self.approximate!r}"

    def _run(self, x):
        return F.gelu_forward(x, self.approximate)


class ELU(_Pointwise):
    """``x`` where ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    _backward = F.elu_backward

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = checks.number(self, "alpha", alpha)
        self.inplace = _inplace(self, inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")

    def _run(self, x):
        return F.elu_forward(x, self.alpha)


class SiLU(_Pointwise):
    """``x * sigmoid(x)`` (swish)."""
    _forward, _backward = F.silu_forward, F.silu_backward

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = _inplace(self, inplace)


# ----------------------------------------------------------- piecewise-linear

class Hardtanh(_Pointwise):
    """``clip(x, min_val, max_val)``; ``min_value``/``max_value`` are torch's deprecated
    spellings, taken with its FutureWarning."""
    _backward = F.hardtanh_backward

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False, min_value=None,
                 max_value=None):
        super().__init__()
        for old, new in ((min_value, "min_val"), (max_value, "max_val")):
            if old is not None:
                warnings.warn(f"keyword argument `{new[:3]}_value` is deprecated and renamed "
                              f"to `{new}`", FutureWarning, stacklevel=2)
        min_val = min_val if min_value is None else min_value
        max_val = max_val if max_value is None else max_value
        self.min_val = checks.number(self, "min_val", min_val)
        self.max_val = checks.number(self, "max_val", max_val)
        self.inplace = _inplace(self, inplace)
        if self.max_val <= self.min_val:
            raise AssertionError(f"max_val ({self.max_val}) must be greater than min_val "
                                 f"({self.min_val})")

    def extra_repr(self):
        return (f"min_val={self.min_val}, max_val={self.max_val}"
                + (", inplace=True" if self.inplace else ""))

    def _run(self, x):
        return F.hardtanh_forward(x, self.min_val, self.max_val)


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``; gradient 0 at both bends, as torch's."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Threshold(_Pointwise):
    """``x`` where ``x > threshold``, else ``value``; both arguments required, as torch's."""
    _backward = F.threshold_backward

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold = checks.number(self, "threshold", threshold)
        self.value = checks.number(self, "value", value)
        self.inplace = _inplace(self, inplace)

    def extra_repr(self):
        return (f"threshold={self.threshold}, value={self.value}"
                + (", inplace=True" if self.inplace else ""))

    def _run(self, x):
        return F.threshold_forward(x, self.threshold, self.value)


class Hardshrink(_Pointwise):
    """``x`` where ``|x| > lambd``, else 0."""
    _backward = F.hardshrink_backward

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = checks.number(self, "lambd", lambd)

    def extra_repr(self):
        return f"{self.lambd}"

    def _run(self, x):
        return F.hardshrink_forward(x, self.lambd)


class Softshrink(Hardshrink):
    """``x -+ lambd`` outside ``[-lambd, lambd]``, else 0; ``lambd >= 0``."""
    _backward = F.softshrink_backward

    def _run(self, x):
        return F.softshrink_forward(x, self.lambd)


class Hardsigmoid(_Pointwise):
    """``clip(x + 3, 0, 6) / 6``. Prints as torch's: ``Hardsigmoid()`` even with
    ``inplace=True``."""
    _forward, _backward = F.hardsigmoid_forward, F.hardsigmoid_backward

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = _inplace(self, inplace)

    def extra_repr(self):
        return ""


class Hardswish(Hardsigmoid):
    """``x * clip(x + 3, 0, 6) / 6`` (MobileNetV3)."""
    _forward, _backward = F.hardswish_forward, F.hardswish_backward


# --------------------------------------------------------------------- smooth

class Softplus(_Pointwise):
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold``."""
    _backward = F.softplus_backward

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = checks.number(self, "beta", beta)
        self.threshold = checks.number(self, "threshold", threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"

    def _run(self, x):
        return F.softplus_forward(x, self.beta, self.threshold)


class Mish(_Flagged):
    """``x tanh(softplus(x))``."""
    _forward, _backward = F.mish_forward, F.mish_backward


class SELU(_Flagged):
    """Scaled ELU with torch's fixed alpha and scale."""
    _forward, _backward = F.selu_forward, F.selu_backward


class LogSigmoid(_Pointwise):
    """``log(sigmoid(x))``, stable."""
    _forward, _backward = F.log_sigmoid_forward, F.log_sigmoid_backward


class Softsign(_Pointwise):
    """``x / (1 + |x|)``."""
    _forward, _backward = F.softsign_forward, F.softsign_backward


class Tanhshrink(_Pointwise):
    """``x - tanh(x)``."""
    _forward, _backward = F.tanhshrink_forward, F.tanhshrink_backward


class CELU(_Pointwise):
    """``x`` above 0, ``alpha (exp(x / alpha) - 1)`` below."""
    _backward = F.celu_backward

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = checks.number(self, "alpha", alpha)
        self.inplace = _inplace(self, inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")

    def _run(self, x):
        return F.celu_forward(x, self.alpha)


class GLU(_Pointwise):
    """``a * sigmoid(b)`` for the halves ``a, b`` of the input along ``dim``."""
    _backward = F.glu_backward

    def __init__(self, dim=-1):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"GLU: dim must be an int, got {dim!r}")
        self.dim = dim

    def extra_repr(self):
        return f"dim={self.dim}"

    def _run(self, x):
        return F.glu_forward(x, self.dim)


# -------------------------------------------------------------- along an axis

class Softmax(_SoftmaxBase):
    """``exp(x) / sum(exp(x), dim)``. ``dim=None`` picks torch's legacy axis with its
    deprecation warning (0 for 0-, 1- and 3-dim input, else 1); pass ``dim``."""
    _forward, _backward = F.softmax_forward, F.softmax_backward


class LogSoftmax(_SoftmaxBase):
    """``x - logsumexp(x, dim)``, stable; feed it to :class:`~scratch.nn.NLLLoss`."""
    _forward, _backward = F.log_softmax_forward, F.log_softmax_backward


class Softmin(_SoftmaxBase):
    """``softmax(-x, dim)``; ``dim=None`` picks torch's legacy axis with its warning."""
    _forward, _backward = F.softmin_forward, F.softmin_backward


class Softmax2d(_Pointwise):
    """Softmax over the channels of (C, H, W) or (N, C, H, W)."""
    _forward, _backward = F.softmax2d_forward, F.softmax2d_backward


# ------------------------------------------------------------------ attention

def _float_mask(layer, mask, what, dtype):
    """A boolean mask (True: masked out) as 0 / -inf, a float one as is (query's dtype)."""
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"{layer}: {what} must be a NumPy array, got {type(mask).__name__}")
    if mask.dtype == bool:
        return np.where(mask, -np.inf, 0).astype(dtype)
    if mask.dtype.kind != "f":
        raise TypeError(f"{layer}: only bool and floating types of {what} are supported, got "
                        f"{mask.dtype}")
    if mask.dtype != dtype:
        raise TypeError(f"{layer}: a float {what} must have the query's dtype {dtype}, got "
                        f"{mask.dtype}")
    return mask


class MultiheadAttention(Module):
    """Multi-head attention, as ``torch.nn.MultiheadAttention``.

    ``MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
    add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None, dtype=None,
    *, generator=None)``. Parameters as torch's: ``in_proj_weight`` (3E, E) when kdim and
    vdim equal embed_dim, else ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim),
    ``v_proj_weight`` (E, vdim); ``in_proj_bias`` (3E,) with bias; ``bias_k``, ``bias_v``
    (1, 1, E) with add_bias_kv; the child ``out_proj`` (a Linear(E, E, bias)). Initialised as
    torch's ``_reset_parameters``: projections xavier-uniform, biases zero, bias_k/bias_v
    xavier-normal, out_proj.weight as Linear's.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)``: query (L, N, E) ((N, L, E) with
    batch_first; unbatched (L, E)), key (S, N, kdim), value (S, N, vdim). Masks are boolean
    (True: **not** allowed to attend, torch's convention here) or float (added to the
    scores): key_padding_mask (N, S) ((S,) unbatched), attn_mask (L, S) or (N*num_heads, L, S).
    ``is_causal`` is a hint that attn_mask is the causal mask, which must be given (as torch).
    Returns ``(attn_output, attn_weights)``: weights (N, L, S) averaged over heads, (N, H, L,
    S) with ``average_attn_weights=False``, None with ``need_weights=False``.

    ``backward(dout, dweights=None)`` returns ``(dquery, dkey, dvalue)``; for self-attention
    (one array passed as all three) the input's gradient is their sum. In training mode with
    ``dropout > 0`` the weights' keep-mask (N*H, L, S) is drawn from the layer's generator
    (kept as ``layer.mask``) or taken from ``layer.mask_source(shape)``.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None, *, generator=None):
        super().__init__()
        name = type(self).__name__
        for what, value in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name}: {what} must be an int, got {value!r}")
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim="
                             f"{embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise AssertionError("embed_dim must be divisible by num_heads")
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.kdim = self.embed_dim if kdim is None else checks.count(self, "kdim", kdim)
        self.vdim = self.embed_dim if vdim is None else checks.count(self, "vdim", vdim)
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.dropout = checks.probability(self, "dropout", dropout, "dropout probability")
        bias = checks.flag(self, "bias", bias)
        self.add_zero_attn = checks.flag(self, "add_zero_attn", add_zero_attn)
        add_bias_kv = checks.flag(self, "add_bias_kv", add_bias_kv)
        self.batch_first = checks.flag(self, "batch_first", batch_first)
        checks.device(self, device)
        dtype = checks.param_dtype(self, dtype)
        e = self.embed_dim
        same = self._qkv_same_embed_dim
        # torch's order, with its empty (None) slots for what this layout does not use
        shapes = ({"in_proj_weight": (3 * e, e), "q_proj_weight": None, "k_proj_weight": None,
                   "v_proj_weight": None} if same else
                  {"q_proj_weight": (e, e), "k_proj_weight": (e, self.kdim),
                   "v_proj_weight": (e, self.vdim), "in_proj_weight": None})
        shapes["in_proj_bias"] = (3 * e,) if bias else None
        for key, shape in shapes.items():
            self._params[key] = None if shape is None else Parameter(np.zeros(shape, dtype))
        if add_bias_kv:
            for key in ("bias_k", "bias_v"):
                self._params[key] = Parameter(np.zeros((1, 1, e), dtype))
        else:
            self.bias_k = self.bias_v = None      # plain attributes, as torch's
        self.generator = R.generator(name, generator)
        self.out_proj = NonDynamicallyQuantizableLinear(e, e, bias, dtype=dtype,
                                                        generator=self.generator)
        self._reset_parameters(self.generator)
        self.mask, self.mask_source = None, None

    def _reset_parameters(self, generator):
        """torch's: xavier-uniform projections, zero biases, xavier-normal bias_k/bias_v."""
        p = self._params
        for key in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
            if p[key] is not None:
                init.xavier_uniform_(p[key].data, generator=generator)
        if p["in_proj_bias"] is not None:
            p["in_proj_bias"].data[...] = 0
            self.out_proj._params["bias"].data[...] = 0
        for key in ("bias_k", "bias_v"):
            if key in p:
                init.xavier_normal_(p[key].data, generator=generator)

    def _projections(self):
        """w_q, w_k, w_v, b_q, b_k, b_v (biases None without bias)."""
        p = self._params
        if self._qkv_same_embed_dim:
            ws = np.split(p["in_proj_weight"].data, 3)
        else:
            ws = [p[f"{c}_proj_weight"].data for c in "qkv"]
        bs = np.split(p["in_proj_bias"].data, 3) if p["in_proj_bias"] is not None else [None] * 3
        return (*ws, *bs)

    # ------------------------------------------------------------------ checks
    def _check(self, query, key, value, key_padding_mask, attn_mask, is_causal):
        name = type(self).__name__
        dtype = self.out_proj._params["weight"].data.dtype
        for what, x in (("query", query), ("key", key), ("value", value)):
            checks.input_array(self, x, "(L, N, E), (N, L, E) with batch_first, or unbatched "
                               "(L, E)", dtype=dtype, what=what)
        if query.ndim not in (2, 3):
            raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but "
                                 f"received {query.ndim}-D query tensor")
        batched = query.ndim == 3
        kind = "batched (3-D)" if batched else "unbatched (2-D)"
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be "
                                 f"{query.ndim}-D but found {key.ndim}-D and {value.ndim}-D "
                                 f"tensors respectively")
        for what, x, want in (("query", query, self.embed_dim), ("key", key, self.kdim),
                              ("value", value, self.vdim)):
            if x.shape[-1] != want:
                raise ValueError(f"{name}: was expecting embedding dimension of {want} for "
                                 f"{what}, but got {x.shape[-1]}")
        if key.shape[:-1] != value.shape[:-1]:
            raise ValueError(f"{name}: key shape {key.shape} does not match value shape "
                             f"{value.shape}")
        if batched and query.shape[1 - self.batch_first] != key.shape[1 - self.batch_first]:
            raise ValueError(f"{name}: query and key have different batch sizes: query "
                             f"{query.shape}, key {key.shape}")
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use "
                               "the Transformer module method `generate_square_subsequent_mask`"
                               " to create this mask.")
        if key_padding_mask is not None and key_padding_mask.ndim != (2 if batched else 1):
            raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be "
                                 f"`None` or {2 if batched else 1}-D but found "
                                 f"{key_padding_mask.ndim}-D tensor instead")
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D "
                                 f"or 3-D but found {attn_mask.ndim}-D tensor instead")
        return batched

    def _check_mask_shapes(self, attn_mask, key_padding_mask, length, batch, source):
        if attn_mask is not None:
            want = ((length, source) if attn_mask.ndim == 2
                    else (batch * self.num_heads, length, source))
            if attn_mask.shape != want:
                raise ValueError(f"The shape of the {attn_mask.ndim}D attn_mask is "
                                 f"{attn_mask.shape}, but should be {want}.")
        if key_padding_mask is not None and key_padding_mask.shape != (batch, source):
            raise ValueError(f"expecting key_padding_mask shape of {(batch, source)}, but got "
                             f"{key_padding_mask.shape}")

    # ------------------------------------------------------------------ forward, backward
    def __call__(self, query, key, value, key_padding_mask=None, need_weights=True,
                 attn_mask=None, average_attn_weights=True, is_causal=False):
        return self.forward(query, key, value, key_padding_mask, need_weights, attn_mask,
                            average_attn_weights, is_causal)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        """See the module doc. Returns ``(attn_output, attn_weights or None)``."""
        batched = self._check(query, key, value, key_padding_mask, attn_mask, is_causal)
        dtype = query.dtype
        kpm = _float_mask(self, key_padding_mask, "key_padding_mask", dtype)
        mask = _float_mask(self, attn_mask, "attn_mask", dtype)
        if batched:
            q, k, v = ((a.transpose(1, 0, 2) if self.batch_first else a)
                       for a in (query, key, value))
        else:
            q, k, v = (a[:, None] for a in (query, key, value))
            kpm = None if kpm is None else kpm[None]
        length, n, _ = q.shape
        self._check_mask_shapes(mask, kpm, length, n, k.shape[0])
        source = k.shape[0] + ("bias_k" in self._params) + self.add_zero_attn
        p = self.dropout if self.training else 0.0
        keep = self._keep_mask((n * self.num_heads, length, source)) if 0 < p < 1 else None
        out_proj = self.out_proj._params
        out, weights, cache = F.multi_head_attention_forward(
            q, k, v, self.num_heads, *self._projections(), out_proj["weight"].data,
            out_proj["bias"].data if out_proj["bias"] is not None else None,
            self._params["bias_k"].data if "bias_k" in self._params else None,
            self._params["bias_v"].data if "bias_v" in self._params else None,
            self.add_zero_attn, mask, kpm, p, keep, need_weights, average_attn_weights)
        if batched:
            out = out.transpose(1, 0, 2) if self.batch_first else out
        else:
            out, weights = out[:, 0], (None if weights is None else weights[0])
        self._cache = (cache, batched, query.shape, key.shape, value.shape)
        self._out = (out.shape, out.dtype, None if weights is None else weights.shape)
        return out, weights

    def _keep_mask(self, shape):
        if self.mask_source is not None:
            mask = np.asarray(self.mask_source(shape), np.float64)
            if mask.shape != shape:
                raise ValueError(f"{type(self).__name__}: mask_source gave a mask of shape "
                                 f"{mask.shape}, expected {shape}")
        else:
            mask = F.draw_keep_mask(self.generator, shape, self.dropout)
        self.mask = mask
        return mask

    def backward(self, dout, dweights=None):
        """dout of attn_output's shape; dweights of attn_weights' (None: zero).
        Returns ``(dquery, dkey, dvalue)``; sets every parameter's ``.grad``."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward "
                               f"(each forward allows one backward)")
        shape, dtype, weights_shape = self._out
        checks.grad(self, dout, shape, dtype)
        if dweights is not None:
            if weights_shape is None:
                raise ValueError(f"{type(self).__name__}.backward got dweights, but forward "
                                 f"returned no weights (need_weights=False)")
            checks.grad(self, dweights, weights_shape, dtype, "dweights")
        (cache, batched, *_), self._cache = self._cache, None
        if batched:
            dout = dout.transpose(1, 0, 2) if self.batch_first else dout
        else:
            dout = dout[:, None]
            dweights = None if dweights is None else dweights[None]
        g = F.multi_head_attention_backward(dout, dweights, cache)
        p = self._params
        if self._qkv_same_embed_dim:
            p["in_proj_weight"].grad = np.concatenate([g.dw_q, g.dw_k, g.dw_v])
        else:
            p["q_proj_weight"].grad, p["k_proj_weight"].grad, p["v_proj_weight"].grad = (
                g.dw_q, g.dw_k, g.dw_v)
        if p["in_proj_bias"] is not None:
            p["in_proj_bias"].grad = np.concatenate([g.db_q, g.db_k, g.db_v])
            self.out_proj._params["bias"].grad = g.db_out
        if "bias_k" in p:
            p["bias_k"].grad, p["bias_v"].grad = g.dbias_k, g.dbias_v
        self.out_proj._params["weight"].grad = g.dw_out
        grads = (g.dquery, g.dkey, g.dvalue)
        if not batched:
            return tuple(a[:, 0] for a in grads)
        return tuple(a.transpose(1, 0, 2) for a in grads) if self.batch_first else grads
