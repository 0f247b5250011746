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


def test_a_well_formed_file_of_another_dataset_is_not_called_corrupted(tmp_path):
    """Same names and shapes as MNIST's test files, other pixels (what Fashion-MNIST is): "not MNIST's", never
    "corrupted", naming the file expected and the set it belongs to."""
    from edgemnist.data import FILES, load_test

    rng = np.random.default_rng(0)
    for key in ("test_images", "test_labels"):
        spec = FILES[key]
        high = 256 if len(spec.shape) > 1 else 10
        body = rng.integers(0, high, size=spec.shape, dtype=np.uint8).tobytes()
        (tmp_path / f"{spec.name}.gz").write_bytes(gzip.compress(idx_header(spec) + body, compresslevel=1))
    with pytest.raises(DataError) as info:
        load_test(tmp_path, download=False)
    msg = str(info.value)
    assert "corrupted" not in msg and "\n" not in msg
    assert "a well-formed IDX file, but not MNIST's t10k-" in msg and "edgemnist reads only the MNIST files" in msg
