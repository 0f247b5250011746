"""The data layer: IDX parsing, every corruption case, npz, source order, and the download path for real."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from mnist_server import serve
from toolchains import requires

from edgemnist import data
from edgemnist.errors import DataError, DownloadError

TEST_KEYS = ("test_images", "test_labels")


def raw_payload(data_dir: Path, key: str) -> bytes:
    return gzip.decompress((data_dir / f"{data.FILES[key].name}.gz").read_bytes())


def test_load_mnist_shapes_dtypes_and_known_values(mnist):
    assert mnist.train_images.shape == (60000, 28, 28) and mnist.train_images.dtype == np.uint8
    assert mnist.train_labels.shape == (60000,) and mnist.train_labels.dtype == np.uint8
    assert mnist.test_images.shape == (10000, 28, 28) and mnist.test_labels.shape == (10000,)
    assert mnist.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(mnist.test_labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    x_train, y_train, x_test, y_test = mnist  # unpacks like a tuple
    assert x_test is mnist.test_images


def test_raw_and_gzip_idx_and_npz_read_identically(tmp_path, data_dir, mnist):
    raw = tmp_path / "raw"
    raw.mkdir()
    for key, spec in data.FILES.items():
        (raw / spec.name).write_bytes(raw_payload(data_dir, key))
    got = data.load_mnist(raw, download=False)
    assert all(np.array_equal(a, b) for a, b in zip(got, mnist, strict=True))

    npz = tmp_path / "npz"
    npz.mkdir()
    np.savez_compressed(
        npz / "mnist.npz",
        x_train=mnist.train_images,
        y_train=mnist.train_labels,
        x_test=mnist.test_images,
        y_test=mnist.test_labels,
    )
    got = data.load_mnist(npz, download=False)
    assert all(np.array_equal(a, b) for a, b in zip(got, mnist, strict=True))


def test_npz_with_pickled_object_array_is_refused(tmp_path):
    np.savez(
        tmp_path / "mnist.npz",
        x_train=np.array([{"a": 1}], dtype=object),
        y_train=np.zeros(1),
        x_test=np.zeros(1),
        y_test=np.zeros(1),
    )
    with pytest.raises(DataError, match="mnist.npz"):
        data.load_mnist(tmp_path, download=False)


def test_npz_with_altered_pixels_is_refused(tmp_path, mnist):
    x_test = mnist.test_images.copy()
    x_test[0, 14, 14] ^= 1
    np.savez(
        tmp_path / "mnist.npz",
        x_train=mnist.train_images,
        y_train=mnist.train_labels,
        x_test=x_test,
        y_test=mnist.test_labels,
    )
    with pytest.raises(DataError, match=r"x_test.*SHA-256"):
        data.load_mnist(tmp_path, download=False)


def _corruptions(payload: bytes) -> dict[str, tuple[bytes, str]]:
    flipped = bytearray(payload)
    flipped[len(payload) // 2] ^= 0x40
    bad_magic = bytearray(payload)
    bad_magic[3] = 0x03
    bad_dims = bytearray(payload)
    bad_dims[7] ^= 0x01
    return {
        "empty": (b"", "truncated"),
        "header_only_partly": (payload[:6], "truncated"),
        "truncated": (payload[: len(payload) - 1000], "truncated"),
        "trailing": (payload + b"\0", "trailing"),
        "bit_flip": (bytes(flipped), "SHA-256"),
        "bad_magic": (bytes(bad_magic), "magic"),
        "bad_dims": (bytes(bad_dims), "dimensions"),
    }


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("case", list(_corruptions(b"\0" * 16)))
def test_every_corruption_of_the_labels_file_names_the_file(tmp_path, data_dir, case, compressed):
    payload = raw_payload(data_dir, "test_labels")
    bad, expect = _corruptions(payload)[case]
    shutil.copy(data_dir / "t10k-images-idx3-ubyte.gz", tmp_path)
    name = "t10k-labels-idx1-ubyte" + (".gz" if compressed else "")
    (tmp_path / name).write_bytes(gzip.compress(bad) if compressed else bad)
    with pytest.raises(DataError, match=expect) as info:
        data.load_test(tmp_path, download=False)
    assert name in str(info.value)


def test_truncated_gzip_stream_and_garbage(tmp_path, data_dir):
    shutil.copy(data_dir / "t10k-labels-idx1-ubyte.gz", tmp_path)
    gz = (data_dir / "t10k-images-idx3-ubyte.gz").read_bytes()
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gz[: len(gz) // 2])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz: truncated gzip"):
        data.load_test(tmp_path, download=False)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b" + b"not really gzip" * 10)
    with pytest.raises(DataError, match="corrupted gzip"):
        data.load_test(tmp_path, download=False)


def test_wrong_file_under_the_right_name(tmp_path, data_dir):
    # the labels file where the images file should be
    shutil.copy(data_dir / "t10k-labels-idx1-ubyte.gz", tmp_path)
    shutil.copy(data_dir / "t10k-labels-idx1-ubyte.gz", tmp_path / "t10k-images-idx3-ubyte.gz")
    with pytest.raises(DataError, match="bad magic number 0x00000801, expected 0x00000803"):
        data.load_test(tmp_path, download=False)


def test_another_real_dataset_is_read_as_a_named_dataset_not_as_mnist(data_dir):
    """Fashion-MNIST: the same names, shapes and IDX format as MNIST, other images: read as a dataset of its own,
    named after its folder, its class count from its labels, its files' SHA-256 recorded (never MNIST's)."""
    fashion = "/usr/share/datasets/fashion-mnist"
    requires(fashion)
    ds = data.load_mnist(fashion, download=False)
    assert not ds.is_mnist and ds.name == "fashion-mnist" and ds.num_classes == 10
    assert ds.train_images.shape == (60000, 28, 28) and ds.test_labels.shape == (10000,)
    assert all(ds.sha256[k] != data.FILES[k].sha256 for k in data.FILES)
    test = data.load_test(fashion, download=False)
    assert test.dataset == ds.record() | {"sha256": {k: ds.sha256[k] for k in ("test_images", "test_labels")}}
    with pytest.raises(DataError, match="was trained on MNIST, but the data given is fashion-mnist"):
        data.check_same_dataset(data.load_test(data_dir, download=False).dataset, test.dataset, "model.keras")


def test_a_mnist_copy_with_one_file_replaced_is_refused_not_read_as_another_dataset(tmp_path, data_dir):
    """MNIST's test labels beside other test images: an altered MNIST copy, never a dataset of its own."""
    shutil.copy(data_dir / "t10k-labels-idx1-ubyte.gz", tmp_path)
    spec = data.FILES["test_images"]
    body = np.random.default_rng(0).integers(0, 256, size=spec.shape, dtype=np.uint8).tobytes()
    (tmp_path / f"{spec.name}.gz").write_bytes(gzip.compress(data.idx_header(spec) + body, compresslevel=1))
    with pytest.raises(DataError) as info:
        data.load_test(tmp_path, download=False)
    msg = str(info.value)
    assert "corrupted" not in msg and "\n" not in msg
    assert "a well-formed IDX file, but not MNIST's t10k-images" in msg


def test_label_out_of_range_is_reported_even_before_hash():
    spec = data.IdxFile("labels", (3,), "0" * 64)
    payload = data.idx_header(spec) + bytes([1, 2, 3])
    with pytest.raises(DataError, match="SHA-256"):
        data.parse_idx(payload, spec, origin="x")


def test_missing_files_and_missing_dir(tmp_path):
    with pytest.raises(DataError, match=r"missing t10k-images-idx3-ubyte\[\.gz\]"):
        data.load_test(tmp_path, download=False)
    with pytest.raises(DataError, match="not a directory"):
        data.load_test(tmp_path / "nope", download=False)


def test_source_order_argument_then_env_then_cache(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(data.ENV_DATA_DIR, raising=False)
    assert data.resolve_data_dir() == (tmp_path / "cache" / "edgemnist", "cache")
    monkeypatch.setenv(data.ENV_DATA_DIR, str(data_dir))
    assert data.resolve_data_dir() == (data_dir, "environment")
    assert data.resolve_data_dir(tmp_path) == (tmp_path, "argument")
    # an explicit folder never triggers a download, even when it is empty
    with pytest.raises(DataError, match="missing"):
        data.load_test(tmp_path)


# --------------------------------------------------------------------------- download through a local server


@pytest.fixture(scope="module")
def mirrors(tmp_path_factory, data_dir):
    """A local server with three mirrors: /missing/ (404), /corrupt/ (bit-flipped files), /good/ (real files)."""
    root = tmp_path_factory.mktemp("www")
    (root / "missing").mkdir()
    (root / "corrupt").mkdir()
    shutil.copytree(data_dir, root / "good", ignore=shutil.ignore_patterns("README*", "SHA256SUMS"))
    for gz in (root / "good").glob("*.gz"):
        payload = bytearray(gzip.decompress(gz.read_bytes()))
        payload[-1] ^= 0xFF
        (root / "corrupt" / gz.name).write_bytes(gzip.compress(bytes(payload), compresslevel=1))
    with serve(root) as base:
        yield base


def test_download_skips_failing_and_corrupt_mirrors(tmp_path, monkeypatch, mirrors, mnist):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(data.ENV_DATA_DIR, raising=False)
    monkeypatch.setenv(data.ENV_MIRRORS, f"{mirrors}/missing/,{mirrors}/corrupt/,{mirrors}/good/")
    got = data.load_mnist(progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(got, mnist, strict=True))
    cache = tmp_path / "edgemnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{s.name}.gz" for s in data.FILES.values())
    # second load reads the cache: no server needed
    monkeypatch.setenv(data.ENV_MIRRORS, "http://127.0.0.1:9/")
    assert np.array_equal(data.load_test(progress=False)[1], mnist.test_labels)


def test_download_with_only_bad_mirrors_fails_and_caches_nothing(tmp_path, monkeypatch, mirrors):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(data.ENV_DATA_DIR, raising=False)
    monkeypatch.setenv(data.ENV_MIRRORS, f"{mirrors}/missing/,{mirrors}/corrupt/")
    with pytest.raises(DownloadError) as info:
        data.load_test(progress=False)
    msg = str(info.value)
    assert "missing/t10k-images-idx3-ubyte.gz" in msg and "SHA-256" in msg
    assert list((tmp_path / "edgemnist").iterdir()) == []


def test_cli_truncated_file_exit_2_one_line_nothing_cached(tmp_path, data_dir, capsys, monkeypatch):
    from edgemnist.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bad = tmp_path / "bad"
    shutil.copytree(data_dir, bad)
    gz = bad / "train-labels-idx1-ubyte.gz"
    gz.write_bytes(gzip.compress(gzip.decompress(gz.read_bytes())[:5000]))
    assert main(["train", "--data-dir", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "train-labels-idx1-ubyte.gz: truncated" in err
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out").exists()  # no empty --out left behind
