"""Name the bug behind a wrong tensor, when the evidence is clear.

Every diagnosis is computed: a candidate wrong answer is built from the right
one (its transpose, a multiple of it, a shifted copy) or by torch on a
changed problem (a flipped kernel, a derivative taken from above), and the
diagnosis is given only when yours matches that candidate within the row's
tolerance, the candidate clearly differs from the right answer, and at least
two significant elements take part. One significant element is enough where
the evidence is exact: yours equals the candidate to :data:`EXACT` (relative),
or, for a constant factor, the ratio is a small fraction to that precision
(with a random upstream gradient, 2.0000000000 by chance is not credible).
This keeps diagnoses on shrunk examples and on scalar engines. Otherwise
nothing is said.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from reference.oracle.report import absolute_tolerance, allclose, out_of_tolerance

CLEARLY = 100.0  # a candidate must differ from the right answer by this many tolerances
EXACT = 1e-10    # relative agreement that counts as exact evidence on one element


def _significant(expected, atol_scale) -> int:
    return int((np.abs(expected) > absolute_tolerance(expected, atol_scale)).sum())


def clearly_differs(candidate, expected, rtol, atol_scale) -> bool:
    if candidate.shape != expected.shape:
        return True
    return bool(out_of_tolerance(candidate, expected, CLEARLY * rtol, CLEARLY * atol_scale).any())


def _exactly(actual, candidate) -> bool:
    return bool(np.all(np.abs(actual - candidate) <= EXACT * np.maximum(np.abs(candidate), 1e-300)))


def matches_candidate(actual, candidate, expected, rtol, atol_scale) -> bool:
    """Yours equals ``candidate``, which is clearly not the right answer ``expected``."""
    if actual.shape != candidate.shape or not clearly_differs(candidate, expected, rtol,
                                                              atol_scale):
        return False
    significant = _significant(candidate, atol_scale)
    if significant >= 2:
        return allclose(actual, candidate, rtol, atol_scale)
    return significant == 1 and _exactly(actual, candidate)


def scalar_factor(actual, expected, rtol, atol_scale, batch=None) -> str | None:
    """Yours = c * right for one constant c != 1 (over at least two significant elements)."""
    significant = _significant(expected, atol_scale)
    if actual.shape != expected.shape or significant < 1:
        return None
    c = float(np.vdot(actual, expected) / np.vdot(expected, expected))
    if abs(c - 1) < 1e-6 or not allclose(actual, c * expected, rtol, atol_scale):
        return None
    if significant == 1:  # one element: only an exact small fraction is evidence
        clean = Fraction(c).limit_denominator(64)
        if abs(c - float(clean)) > EXACT * abs(c) or abs(clean.numerator) > 64 or clean == 0:
            return None
    if abs(c) < 1e-12:
        return "yours is zero everywhere; the right one is not"
    def near(value):
        return abs(c - value) <= 1e-6 * abs(value)
    if batch and batch > 1:
        if near(batch):
            return (f"yours is N = {batch} times the right one: the division by the batch "
                    f"size N is missing")
        if near(1 / batch):
            return (f"yours is 1/N = 1/{batch} of the right one: divided by the batch size N "
                    f"once too often")
        if near(-batch):
            return (f"yours is -N = -{batch} times the right one: the sign is flipped and the "
                    f"division by the batch size N is missing")
    clean = Fraction(c).limit_denominator(64)
    exact = near(float(clean)) and abs(clean.numerator) <= 64
    if exact and clean == -1:
        return "yours is the right one with the sign flipped (factor -1)"
    if exact:
        return f"yours is exactly {clean} times the right one (a constant factor)"
    return f"yours is {c:.4g} times the right one everywhere (a constant factor)"


def transposed(actual, expected, rtol, atol_scale) -> str | None:
    """Yours is the right one with its axes reversed (or, for 3+ dims, the first two swapped)."""
    candidates = []
    if expected.ndim >= 2:
        candidates.append((expected.transpose(), "yours is the transpose of the right one "
                                                 "(axes reversed)"))
    if expected.ndim >= 3:
        axes = (1, 0) + tuple(range(2, expected.ndim))
        candidates.append((expected.transpose(axes), "yours has the first two axes of the "
                                                     "right one swapped (out/in transposed)"))
    for candidate, message in candidates:
        if actual.shape == candidate.shape and allclose(actual, candidate, rtol, atol_scale) \
                and _significant(candidate, atol_scale) >= 2 and (
                candidate.shape != expected.shape
                or clearly_differs(candidate, expected, rtol, atol_scale)):
            return message
    return None


def padding_off_by_one(actual, expected, rtol, atol_scale) -> str | None:
    """(N, C, H, W) input gradients that equal the right one on the interior, one pixel off.

    Same shape and shifted by one pixel (the padded gradient cropped from
    ``p + 1`` or ``p - 1`` instead of ``p``), or two pixels larger or smaller
    per axis with the right one as its interior (cropped ``p -/+ 1`` a side).
    """
    if actual.ndim != 4 or expected.ndim != 4 or actual.shape[:2] != expected.shape[:2]:
        return None
    (h, w), (eh, ew) = actual.shape[2:], expected.shape[2:]
    pairs = []
    if (h, w) == (eh, ew) and min(h, w) >= 3:
        pairs += [(actual[..., :-1, :-1], expected[..., 1:, 1:], expected[..., :-1, :-1],
                   "on the interior it equals the right one shifted by one pixel (yours[i] = "
                   "right[i+1]): the padded gradient was cropped from p+1 instead of p"),
                  (actual[..., 1:, 1:], expected[..., :-1, :-1], expected[..., 1:, 1:],
                   "on the interior it equals the right one shifted by one pixel (yours[i] = "
                   "right[i-1]): the padded gradient was cropped from p-1 instead of p")]
    if (h, w) == (eh + 2, ew + 2):
        pairs.append((actual[..., 1:-1, 1:-1], expected, None,
                      "its interior [1:-1, 1:-1] equals the right one: the padding was "
                      "cropped with p-1 instead of p"))
    if (h + 2, w + 2) == (eh, ew) and min(h, w) >= 1:
        pairs.append((actual, expected[..., 1:-1, 1:-1], None,
                      "it equals the interior [1:-1, 1:-1] of the right one: the padding "
                      "was cropped with p+1 instead of p"))
    for mine, right, unshifted, message in pairs:
        if _significant(right, atol_scale) < 2 or not allclose(mine, right, rtol, atol_scale):
            continue
        if unshifted is not None and not clearly_differs(right, unshifted, rtol, atol_scale):
            continue
        return "looks like a padding off by one: " + message
    return None


def diagnose(actual, expected, rtol, atol_scale, *, batch=None, spatial=False,
             candidates=()) -> list[str]:
    """Every diagnosis that fits a wrong tensor.

    candidates: ``(array, message)`` pairs computed elsewhere (by torch on a
    changed problem); spatial: also try the padding off-by-one shapes.
    """
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    found = [m for m in (scalar_factor(actual, expected, rtol, atol_scale, batch),
                         transposed(actual, expected, rtol, atol_scale)) if m]
    if spatial:
        message = padding_off_by_one(actual, expected, rtol, atol_scale)
        found += [message] if message else []
    for candidate, message in candidates:
        candidate = np.asarray(candidate, np.float64)
        if matches_candidate(actual, candidate, expected, rtol, atol_scale):
            found.append(message)
    return list(dict.fromkeys(found))


def unbiased_batch_norm(actual, expected, x, rtol, atol_scale, eps=1e-5) -> str | None:
    """A batch-norm output normalised by the unbiased variance (divided by n - 1).

    Lecture code (makemore's manual backprop) does this; ``F.batch_norm``
    normalises by the biased variance (divided by n) in training. Per
    channel (axis 1, statistics over every other axis), yours minus its
    mean must equal torch's minus its mean times
    ``sqrt((var_n + eps) / (var_{n-1} + eps))``.
    """
    actual, expected, x = (np.asarray(a, np.float64) for a in (actual, expected, x))
    if actual.shape != expected.shape or expected.shape != x.shape or x.ndim < 2:
        return None
    axes = tuple(i for i in range(x.ndim) if i != 1)
    n = x.size // x.shape[1]
    if n < 2:
        return None
    biased = x.var(axis=axes, keepdims=True)
    ratio = np.sqrt((biased + eps) / (biased * n / (n - 1) + eps))
    centred = expected - expected.mean(axis=axes, keepdims=True)
    candidate = actual.mean(axis=axes, keepdims=True) + centred * ratio
    if matches_candidate(actual, candidate, expected, rtol, atol_scale):
        return ("matches batch norm normalised by the unbiased variance (sum / (n - 1), as "
                "in lecture code); F.batch_norm and torch.nn.BatchNorm normalise by the "
                "biased variance (sum / n) in training and keep the unbiased one for "
                "running_var only: use 1/n, or compare with a torch expression using "
                "x.var(dim, unbiased=True)")
    return None


def batch_norm_variance_term(actual, expected, x, rtol, atol_scale) -> str | None:
    """A batch-norm ``dx`` whose variance term is off by a factor (n against n - 1).

    That term is ``c * (x - mean)`` per channel (axis 1, statistics over every
    other axis), so yours minus the right one is, channel by channel, a
    multiple of the centred input, and not zero. Needs three or more
    elements per channel (with two, every zero-mean difference would fit).
    """
    actual, expected, x = (np.asarray(a, np.float64) for a in (actual, expected, x))
    if actual.shape != expected.shape or expected.shape != x.shape or x.ndim < 2:
        return None
    axes = tuple(i for i in range(x.ndim) if i != 1)
    if x.size // x.shape[1] < 3:
        return None
    centred = x - x.mean(axis=axes, keepdims=True)
    residual = actual - expected
    scale = (centred * residual).sum(axis=axes, keepdims=True) / np.maximum(
        (centred ** 2).sum(axis=axes, keepdims=True), 1e-300)
    candidate = expected + scale * centred
    if matches_candidate(actual, candidate, expected, rtol, atol_scale):
        return ("differs from the right one, channel by channel, by a multiple of "
                "x - mean(x): the variance term of a batch-norm backward is off by a factor "
                "(1/n where the forward divides the variance by n - 1, or the reverse)")
    return None
