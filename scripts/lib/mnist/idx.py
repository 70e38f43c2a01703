"""The idx format of the MNIST files: encode, decode, read and write (atomically)."""
from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np

from scripts.lib.artifacts import atomic_path
from scripts.lib.mnist.files import _IDX_DTYPES, MNISTError, PathLike


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
