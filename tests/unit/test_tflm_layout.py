"""The model_data.cc / model_data.h pair is described once (edgemnist.tflm.layout): the writer writes what it
says and the strict reader accepts exactly that, so changing the description changes both. Fast tier: no TFLM, no
TensorFlow (random bytes stand in for the model; the flatbuffer check is ``read_micro``'s, not the array reader's)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edgemnist.errors import ArtifactError
from edgemnist.tflm import layout, reader, writer
from edgemnist.tflm.arena import ARENA_ALIGNMENT
from edgemnist.tflm.layout import MODEL_DATA
from edgemnist.tflm.runner import Quant


def header_text(model_bytes: bytes, desc=MODEL_DATA) -> str:
    return writer.render_header(
        model_bytes=model_bytes,
        arena_bytes=9936,
        arena_min_bytes=9930,
        input=Quant(1 / 255, -128),
        output=Quant(1 / 256, -128),
        source="model.int8.tflite",
        source_sha256="ab" * 32,
        num_classes=10,  # a stand-in array states no output width of its own
        layout=desc,
    )


@pytest.mark.parametrize("size", [1, 11, 12, 13, 24, 1000, 4099])
def test_random_arrays_round_trip(size):
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    text = writer.render_source(data, source_sha256=None)
    assert reader.parse_text(text) == data
    lines = text.split("\n")
    body = lines[lines.index(MODEL_DATA.array_open()) + 1 : lines.index(MODEL_DATA.array_close)]
    assert all(line.count("0x") == MODEL_DATA.bytes_per_line for line in body[:-1])
    assert f"{MODEL_DATA.length_symbol} = {size};" in text


def test_the_header_round_trips(tmp_path):
    data = bytes(range(256)) * 3
    h = tmp_path / MODEL_DATA.header_name
    h.write_text(header_text(data))
    values, why = reader.read_header(h, data, num_classes=10)
    assert why == "" and values["arena_bytes"] == 9936 and values["arena_min_bytes"] == 9930
    assert values["arena_alignment"] == ARENA_ALIGNMENT and values["input_zero_point"] == -128
    assert {c.field for c in MODEL_DATA.constants} <= set(values)
    assert reader.read_header(h, data + b"\0", num_classes=10)[0] is None  # another model's header is not trusted


def test_an_array_whose_length_disagrees_is_refused():
    data = bytes(range(40))
    text = writer.render_source(data, source_sha256=None)
    with pytest.raises(ArtifactError, match="says 41 bytes but the array holds 40"):
        reader.parse_text(text.replace(" = 40;", " = 41;"))
    with pytest.raises(ArtifactError, match="at most 12 bytes"):  # a 13th byte on a line
        reader.parse_text(text.replace("0x0b,\n", "0x0b, 0x00,\n", 1))
    with pytest.raises(ArtifactError, match="at most 12 bytes"):  # a short line before the last
        reader.parse_text(text.replace(", 0x0b,\n", ",\n  0x0b,\n", 1))


def test_a_changed_description_changes_writer_and_reader(tmp_path):
    desc = dataclasses.replace(
        MODEL_DATA,
        array_symbol="g_other_model",
        length_symbol="g_other_model_len",
        bytes_per_line=16,
        constants=tuple(dataclasses.replace(c, symbol=c.symbol + "X") for c in MODEL_DATA.constants),
    )
    data = bytes(range(100))
    text = writer.render_source(data, source_sha256=None, layout=desc)
    assert "g_other_model[]" in text and "g_edgemnist_model_data" not in text
    assert reader.parse_text(text, layout=desc) == data
    with pytest.raises(ArtifactError, match="g_edgemnist_model_data"):
        reader.parse_text(text)  # the default description does not read it
    with pytest.raises(ArtifactError, match="g_other_model"):
        reader.parse_text(writer.render_source(data, source_sha256=None), layout=desc)
    h = tmp_path / "model_data.h"
    h.write_text(header_text(data, desc))
    assert "kEdgemnistTensorArenaSizeX" in h.read_text()
    assert reader.read_header(h, data, num_classes=10, layout=desc)[1] == ""
    assert reader.read_header(h, data, num_classes=10)[0] is None
    assert desc.arena_symbol == "kEdgemnistTensorArenaSizeX" and layout.ARENA_SYMBOL == MODEL_DATA.arena_symbol


def test_constants_have_one_spelling():
    c = layout.Constant("kX", "int", "x")
    assert c.parse_line(c.render(16)) == 16
    for other in ("0x10", "16u", "+16", "016", "16.0"):
        assert c.parse_line(f"constexpr int kX = {other};") is None
    f = layout.Constant("kF", "float", "f")
    assert f.parse_line(f.render(0.5)) == 0.5 and f.parse_line("constexpr float kF = 5e-1f;") is None
