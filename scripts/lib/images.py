"""MNIST images as the networks see them (standardised) and as pixels in [0, 1]."""
from __future__ import annotations

import numpy as np

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def normalize(images: np.ndarray, dtype: str) -> np.ndarray:
    """uint8 (N, 28, 28) -> (N, 1, 28, 28) standardised with the usual MNIST statistics."""
    x = images.astype(dtype)[:, None] / np.asarray(255, dtype)
    return (x - np.asarray(MNIST_MEAN, dtype)) / np.asarray(MNIST_STD, dtype)


def pixels(x: np.ndarray) -> np.ndarray:
    """The inverse of :func:`normalize`: standardised images -> their pixels in [0, 1],
    exactly ``uint8 / 255`` in ``x``'s dtype (the standardisation's rounding is undone by
    rounding to the nearest of the 256 grey levels)."""
    dtype = x.dtype
    levels = np.rint((x * np.asarray(MNIST_STD, dtype) + np.asarray(MNIST_MEAN, dtype))
                     * np.asarray(255, dtype))
    return np.clip(levels, 0, 255) / np.asarray(255, dtype)
