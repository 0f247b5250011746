"""IDX parsing on small synthetic files (the real MNIST files are tests/data/'s)."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from edgemnist.data import IdxFile, idx_header, parse_idx, read_idx_file
from edgemnist.errors import DataError
from edgemnist.fileio import sha256_bytes


def _spec_for(payload: bytes, shape) -> IdxFile:
    return IdxFile("tiny-labels-idx1-ubyte", shape, sha256_bytes(payload))


def _labels(values) -> tuple[bytes, IdxFile]:
    shape = (len(values),)
    payload = struct.pack(">II", 0x0801, len(values)) + bytes(values)
    return payload, _spec_for(payload, shape)


def test_a_valid_payload_parses_raw_and_gzipped(tmp_path):
    payload, spec = _labels([3, 1, 4, 1, 5, 9])
    assert idx_header(spec) == payload[:8]
    assert parse_idx(payload, spec, origin="x").tolist() == [3, 1, 4, 1, 5, 9]
    (tmp_path / "raw").write_bytes(payload)
    (tmp_path / "gz").write_bytes(gzip.compress(payload))
    for name in ("raw", "gz"):
        assert np.array_equal(read_idx_file(tmp_path / name, spec), [3, 1, 4, 1, 5, 9])


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda p: p[:5], "truncated"),
        (lambda p: b"\x00\x00\x08\x03" + p[4:], "bad magic"),
        (lambda p: p[:4] + struct.pack(">I", 7) + p[8:], "dimensions"),
        (lambda p: p + b"\x00", "trailing bytes"),
        (lambda p: p[:-1] + b"\x02", "a well-formed IDX file, but not MNIST's tiny-labels-idx1-ubyte"),
    ],
)
def test_every_corruption_is_a_data_error_naming_the_origin(mutate, message):
    payload, spec = _labels([3, 1, 4, 1, 5, 9])
    with pytest.raises(DataError, match=message) as info:
        parse_idx(mutate(payload), spec, origin="labels.idx")
    assert str(info.value).startswith("labels.idx: ")


def test_a_label_out_of_range_is_refused():
    payload, spec = _labels([3, 12])
    with pytest.raises(DataError, match="out of range"):
        parse_idx(payload, spec, origin="x")


def test_truncated_gzip_is_refused(tmp_path):
    payload, spec = _labels([1, 2, 3])
    (tmp_path / "cut").write_bytes(gzip.compress(payload)[:-6])
    with pytest.raises(DataError, match="gzip"):
        read_idx_file(tmp_path / "cut", spec)


def _write(folder, key, dims, values=None, seed=0):
    """One IDX file under MNIST's name for ``key``, with dimensions ``dims`` (random bytes, or ``values``)."""
    from edgemnist.data import FILES

    spec = FILES[key]
    rng = np.random.default_rng(seed)
    if values is None:
        high = 256 if len(dims) > 1 else 5
        values = rng.integers(0, high, size=dims, dtype=np.uint8)
    header = struct.pack(f">I{len(dims)}I", spec.magic, *dims)
    (folder / f"{spec.name}.gz").write_bytes(gzip.compress(header + np.asarray(values, np.uint8).tobytes(), 1))


def _foreign(folder, n_train=60, n_test=20, size=(28, 28)):
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder, "train_images", (n_train, *size))
    _write(folder, "train_labels", (n_train,), seed=1)
    _write(folder, "test_images", (n_test, *size), seed=2)
    _write(folder, "test_labels", (n_test,), seed=3)
    return folder


def test_another_dataset_in_mnists_file_names_is_read_named_after_its_folder(tmp_path):
    """Same names and format as MNIST's files, other bytes (what Fashion-MNIST is): another dataset, read with its
    own sizes, its class count from its labels, its files' SHA-256 recorded."""
    from edgemnist.data import load_mnist, load_test

    folder = _foreign(tmp_path / "shapes-demo")
    data = load_mnist(folder, download=False)
    assert not data.is_mnist and data.name == "shapes-demo"
    assert data.train_images.shape == (60, 28, 28) and data.test_labels.shape == (20,)
    assert data.num_classes == max(int(data.train_labels.max()), int(data.test_labels.max())) + 1
    record = data.record()
    assert record["mnist"] is False and set(record["sha256"]) == {
        "train_images",
        "train_labels",
        "test_images",
        "test_labels",
    }
    test = load_test(folder, download=False)
    images, labels = test
    assert images.shape == (20, 28, 28) and test.dataset["name"] == "shapes-demo"


def test_images_of_another_size_are_one_line_naming_the_size_expected(tmp_path):
    from edgemnist.data import load_mnist

    folder = _foreign(tmp_path / "big", size=(32, 32))
    with pytest.raises(DataError) as info:
        load_mnist(folder, download=False)
    msg = str(info.value)
    assert "\n" not in msg and "32x32" in msg and "28x28 greyscale" in msg


def test_labels_that_do_not_match_the_images_are_refused(tmp_path):
    from edgemnist.data import load_mnist

    folder = _foreign(tmp_path / "uneven")
    _write(folder, "test_labels", (19,))
    with pytest.raises(DataError, match="19 labels for the 20 images"):
        load_mnist(folder, download=False)


def test_a_single_class_is_not_a_classification_dataset(tmp_path):
    from edgemnist.data import load_mnist

    folder = _foreign(tmp_path / "one")
    _write(folder, "train_labels", (60,), values=np.zeros(60))
    _write(folder, "test_labels", (20,), values=np.zeros(20))
    with pytest.raises(DataError, match="at least 2 classes"):
        load_mnist(folder, download=False)
