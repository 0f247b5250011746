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


@pytest.mark.parametrize("mutate,message", [
    (lambda p: p[:5], "truncated"),
    (lambda p: b"\x00\x00\x08\x03" + p[4:], "bad magic"),
    (lambda p: p[:4] + struct.pack(">I", 7) + p[8:], "dimensions"),
    (lambda p: p + b"\x00", "trailing bytes"),
    (lambda p: p[:-1] + b"\x02", "corrupted"),
])
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
