"""Values beyond the tie-friendly numbers in [-4, 4]: arbitrary floats, channels with
a large offset and a small spread (near-constant), where formulas that are right on
paper cancel catastrophically (a one-pass variance ``E[x^2] - E[x]^2``).

Tolerances are the helper's, with batch norm's conditioning factor
``max|x| / sqrt(min var + eps)`` (see helpers.py): the rounding error of ``x - mean``
is about ``u * max|x|``, which ``1/sqrt(var + eps)`` amplifies. A two-pass variance
stays within that; the one-pass form loses about ``u * mean^2 / var`` relative
accuracy in the variance itself, far beyond it for the offsets drawn here.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import event, given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import (
    assert_parity,
    batch_norm_conditioning,
    dtypes,
    torch_run,
    upstream,
)
from reference import convert
from scratch import functional as F
from scratch import nn


@dtypes
@given(shape=S.batch_shapes(min_dims=2, max_dims=4, min_batch=2), training=st.booleans(),
       affine=st.booleans(), data=st.data())
def test_batch_norm_with_offset_and_near_constant_channels_matches_torch(shape, training,
                                                                         affine, data, dtype):
    c = shape[1]
    x = data.draw(S.offset_channels(shape), label="x").astype(dtype)
    axes = (0,) + tuple(range(2, x.ndim))
    if np.abs(x.mean(axis=axes)).max() > 100 * np.sqrt(x.astype(np.float64).var(axis=axes)).min():
        event("batch norm: a channel's mean over 100 times its spread")
    weight, bias = ((data.draw(S.array((c,), S.WEIGHT_VALUES), label=n).astype(dtype)
                     if affine else None) for n in ("weight", "bias"))
    running_mean = data.draw(S.offset_channels((1, c)), label="running_mean")[0].astype(dtype)
    running_var = (1 + np.abs(data.draw(S.array((c,), S.WEIGHT_VALUES), label="rv"))
                   ).astype(dtype)
    seed = data.draw(S.SEEDS, label="seed")
    rm, rv = running_mean.copy(), running_var.copy()
    t_rm, t_rv = torch.tensor(running_mean), torch.tensor(running_var)
    out, cache = F.batch_norm_forward(x, weight, bias, rm, rv, training, 0.1, 1e-5)
    dout = upstream(seed, out.shape, dtype)
    dx, dw, db = F.batch_norm_backward(dout, cache)
    t_out, g = torch_run(TF.batch_norm, dict(input=x, weight=weight, bias=bias), dout, dtype,
                         running_mean=t_rm, running_var=t_rv, training=training,
                         momentum=0.1, eps=1e-5)
    count = x.size // c
    for ch in range(c):
        xc = x[:, ch:ch + 1]
        scale = max(1.0, float(np.abs(xc).max()) / 16)    # magnitudes beyond the helper's 16
        k = count * (batch_norm_conditioning(xc) if training else scale)
        sel = {n: (None if a is None else (a[:, ch] if a.ndim > 1 else a[ch]))
               for n, a in dict(out=out, dx=dx, dw=dw, db=db, rm=rm, rv=rv).items()}
        ref = {n: (None if a is None else (a[:, ch] if a.ndim > 1 else a[ch]))
               for n, a in dict(out=t_out, dx=g["input"], dw=g["weight"], db=g["bias"],
                                rm=t_rm, rv=t_rv).items()}
        var_scale = count * scale * scale
        assert_parity(sel, ref, dtype, reductions=dict(out=k, dx=k, dw=k, db=count,
                                                       rm=count * scale, rv=var_scale))


@dtypes
@given(shape=S.batch_shapes(min_dims=4, max_dims=4, min_batch=2), data=st.data())
def test_batch_norm_module_running_stats_with_offsets_match_torch(shape, data, dtype):
    """Three training steps of offset batches: running mean and variance equal torch's."""
    c = shape[1]
    bn, t_bn = nn.BatchNorm2d(c, dtype=dtype), torch.nn.BatchNorm2d(c)
    t_bn = t_bn.to(torch.float64 if np.dtype(dtype) == np.float64 else torch.float32)
    scale = 1.0
    for step in range(3):
        x = data.draw(S.offset_channels(shape), label=f"x{step}").astype(dtype)
        scale = max(scale, float(np.abs(x).max()) / 16)
        bn.forward(x)
        t_bn(torch.from_numpy(x))
    state = {k: v for k, v in bn.state_dict().items() if k.startswith("running")}
    t_state = convert.to_numpy_state(t_bn.state_dict())
    count = x.size // c
    assert_parity(state, {k: torch.from_numpy(t_state[k]) for k in state}, dtype,
                  reductions=dict(running_mean=3 * count * scale,
                                  running_var=3 * count * scale * scale))
