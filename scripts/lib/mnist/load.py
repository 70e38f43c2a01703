"""The verified arrays: images and labels of both splits."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from scripts.lib.mnist.fetch import ensure_mnist
from scripts.lib.mnist.files import (
    IMAGE_SIDE,
    MNIST_FILES,
    FileSpec,
    MNISTError,
    PathLike,
    _verify_bytes,
)
from scripts.lib.mnist.idx import decode_idx


def _load_verified_idx(path: Path, spec: FileSpec) -> np.ndarray:
    """Read the bytes once, check their hash, parse those same bytes."""
    data = path.read_bytes()
    _verify_bytes(data, spec, str(path), path.parent)
    return decode_idx(data, source=str(path))


def load_mnist(root: Optional[PathLike] = None, *, try_torchvision: bool = True,
               verbose: bool = True, repair: bool = False) -> dict:
    """The verified MNIST arrays: ``{"train": (images, labels), "test": (images, labels)}``.

    Images are uint8 of shape (n, 28, 28), labels int64 of shape (n,), n = 60000 for
    train and 10000 for test, read from the idx files that :func:`ensure_mnist`
    provides (same arguments).  The bytes parsed are the bytes whose SHA-256 was
    checked.
    """
    raw = ensure_mnist(root, try_torchvision=try_torchvision, verbose=verbose, repair=repair)
    out = {}
    for split, prefix, n in (("train", "train", 60_000), ("test", "t10k", 10_000)):
        names = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
        images, labels = (_load_verified_idx(raw / nm, MNIST_FILES[nm]) for nm in names)
        if images.dtype != np.uint8 or images.shape != (n, IMAGE_SIDE, IMAGE_SIDE):
            raise MNISTError(f"{raw / names[0]}: expected uint8 images of shape "
                             f"({n}, {IMAGE_SIDE}, {IMAGE_SIDE}), "
                             f"got {images.dtype} {images.shape}.")
        if labels.dtype != np.uint8 or labels.shape != (n,):
            raise MNISTError(f"{raw / names[1]}: expected uint8 labels of shape ({n},), "
                             f"got {labels.dtype} {labels.shape}.")
        out[split] = (images, labels.astype(np.int64))
    return out
