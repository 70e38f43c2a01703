"""Whether a scratch random fill draws torch's distribution: a two-sample KS test,
bounds respected and reached; torch's fan-in; a torch module or scratch default init
built from a seed in a dtype (shared by the init and RNN tests)."""
from __future__ import annotations

import math

import numpy as np
import torch

from parity_tests.helpers import TORCH_DTYPE
from scratch import init

ALPHA = 1e-3


# --------------------------------------------------------------------------- helpers
def ks_statistic(a, b) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs."""
    a, b = np.sort(np.ravel(a)), np.sort(np.ravel(b))
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / a.size
    cdf_b = np.searchsorted(b, points, side="right") / b.size
    return float(np.abs(cdf_a - cdf_b).max())


def ks_critical_value(n: int, m: int, alpha: float = ALPHA) -> float:
    """Asymptotic critical value: ``c(alpha) sqrt((n + m) / (n m))``,
    ``c(alpha) = sqrt(-ln(alpha / 2) / 2)`` (1.95 at alpha = 1e-3)."""
    return math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt((n + m) / (n * m))


def assert_same_distribution(scratch_values, torch_values, what=""):
    n, m = np.size(scratch_values), np.size(torch_values)
    assert min(n, m) >= 10_000, "the asymptotic critical value needs large samples"
    d, critical = ks_statistic(scratch_values, torch_values), ks_critical_value(n, m)
    assert d < critical, (f"{what}: KS statistic {d:.4f} >= critical value {critical:.4f} "
                          f"(alpha={ALPHA}, n={n}, m={m})")


def assert_within_bound(values, bound, what=""):
    """All values within ``bound`` as rounded to their dtype."""
    values = np.asarray(values)
    limit = values.dtype.type(bound)
    assert np.all(np.abs(values) <= limit), (
        f"{what}: max |value| {np.abs(values).max()!r} exceeds the bound {limit!r}")


def assert_reaches_bound(values, bound, what=""):
    """The largest |value| is within ``d = ln(1e6) / n`` (relative) of the bound."""
    values = np.asarray(values, dtype=np.float64)
    slack = min(1.0, math.log(1e6) / values.size)
    assert np.abs(values).max() >= bound * (1 - slack), (
        f"{what}: max |value| {np.abs(values).max()} below {bound} * (1 - {slack:.2e})")


def torch_fan_in(shape) -> int:
    """torch's fan_in, read from torch itself (independent of scratch.init.fan_in)."""
    return torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))[0]


def torch_module(factory, seed, dtype):
    """A torch module built (so reset_parameters drawn) under ``seed``, in ``dtype``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory().to(TORCH_DTYPE[np.dtype(dtype)])


def scratch_default_init(weight_shape, has_bias, seed, dtype):
    weight = np.zeros(weight_shape, dtype)
    bias = np.zeros(weight_shape[0], dtype) if has_bias else None
    init.default_init_(weight, bias, np.random.default_rng(seed))
    return weight, bias


# --------------------------------------------------------------------------- gain
