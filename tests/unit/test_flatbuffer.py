"""The TFLite skeleton checker refuses what is not a model before any native runtime sees it."""

from __future__ import annotations

import struct

import pytest

from edgemnist.errors import ArtifactError
from edgemnist.flatbuffer import check_tflite, sniff


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 3,
        b"hello world, not a model",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        struct.pack("<I", 8) + b"TFL3" + b"\xff" * 8,
        struct.pack("<I", 1 << 30) + b"TFL3" + b"\x00" * 16,
    ],
)
def test_garbage_is_an_artifact_error(data):
    with pytest.raises(ArtifactError):
        check_tflite(data, "x.tflite")


def test_sniff_names_common_files():
    assert "PNG" in (sniff(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8) or "")
    assert sniff(b"") is None or isinstance(sniff(b""), str)
