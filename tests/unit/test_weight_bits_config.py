"""--weight-bits without TensorFlow: ExportConfig's checks and names, INT4/INT2 packing, the manifest's width."""

from __future__ import annotations

import numpy as np
import pytest

from edgemnist.errors import ConfigError
from edgemnist.export.config import ExportConfig
from edgemnist.export.lowbit import pack_bits, unpack_bits
from edgemnist.manifest import weights_text


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"format": "tflite"}, "model.int8.tflite"),
        ({"format": "tflite", "weight_bits": 4}, "model.int8-w4.tflite"),
        ({"format": "tflite", "weight_bits": 2, "io": "float"}, "model.int8-floatio-w2.tflite"),
        ({"format": "tflite", "weight_bits": 4, "packed": True}, "model.int8-w4-packed.tflite"),
        ({"format": "tflite", "weight_bits": 2, "io": "float", "packed": True}, "model.int8-floatio-w2-packed.tflite"),
        ({"format": "onnx", "mode": "int8", "weight_bits": 4, "packed": True}, "model.int8-w4-packed.onnx"),
        ({"format": "onnx", "mode": "int8", "weight_bits": 4}, "model.int8-w4.onnx"),
        ({"format": "micro", "weight_bits": 2}, "micro-w2/model_data.cc"),
        ({"format": "micro"}, "model_data.cc"),
        ({"format": "c", "weight_bits": 4}, "c-w4/edgemnist_model.c"),
        ({"format": "web", "weight_bits": 2}, "web-w2/web/edgemnist_model.wasm"),
    ],
)
def test_artifact_names_say_the_width(kwargs, name):
    assert ExportConfig(**kwargs).artifact_name == name


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"format": "tflite", "weight_bits": 3}, "weight bits must be 8, 4 or 2, got 3"),
        ({"format": "tflite", "weight_bits": "4"}, "got '4'"),
        ({"format": "tflite", "weight_bits": True}, "got True"),
        ({"format": "tflite", "mode": "float16", "weight_bits": 4}, "needs an int8 mode, not tflite float16"),
        ({"format": "onnx", "mode": "float32", "weight_bits": 2}, "low-bit weights: tflite int8, onnx int8, micro"),
        ({"format": "tflite", "packed": True}, "packed weights are for --weight-bits 4 or 2"),
        ({"format": "micro", "weight_bits": 4, "packed": True}, "not micro with 4-bit weights"),
        ({"format": "onnx", "weight_bits": 8, "packed": True}, "not onnx with 8-bit weights"),
        ({"format": "tflite", "weight_bits": 4, "packed": 1}, "packed must be true or false"),
    ],
)
def test_bad_weight_bits_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match) as info:
        ExportConfig(**kwargs)
    assert isinstance(info.value, ValueError)


def test_label_and_unpacked():
    c = ExportConfig("tflite", weight_bits=4, packed=True)
    assert c.label == "tflite int8 (int8 I/O, 4-bit hidden weights packed)"
    assert c.unpacked == ExportConfig("tflite", weight_bits=4) and c.low_bit
    assert not ExportConfig("tflite").low_bit and ExportConfig("tflite").label == "tflite int8 (int8 I/O)"


@pytest.mark.parametrize("bits", [4, 2])
def test_pack_is_low_bits_first_and_round_trips(bits):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    values = np.random.default_rng(0).integers(lo, hi + 1, size=1001).astype(np.int8)  # odd: a padded last byte
    packed = pack_bits(values, bits)
    assert packed.dtype == np.uint8 and len(packed) == -(-1001 * bits // 8)
    np.testing.assert_array_equal(unpack_bits(packed, bits, len(values)), values)
    first = pack_bits(np.array([-1] + [0] * (8 // bits - 1), np.int8), bits)
    assert first.tolist() == [(1 << bits) - 1]  # element 0 in the lowest bits, two's complement


def test_weights_text():
    assert weights_text({"quantization": "int8"}) == "8-bit"
    assert weights_text({"quantization": "float32"}) is None and weights_text(None) is None
    manifest = {
        "quantization": "int8",
        "weights": {
            "bits": {"hidden": 4, "probabilities": 8},
            "recipe": {"levels": "int4"},
            "hidden_stored": {"type": "int4", "packed": True},
        },
    }
    assert weights_text(manifest) == "4-bit hidden (int4 levels, packed int4), 8-bit probabilities"
    manifest["weights"]["recipe"]["levels"] = "int4\x1b[31m"
    assert "\x1b" not in weights_text(manifest)


@pytest.mark.parametrize("weights", [{"bits": "4"}, {"bits": {}}, {"bits": {"hidden": True}}, ["hidden", 4]])
def test_a_manifest_with_a_bad_weights_section_is_refused(weights):
    from edgemnist.errors import ManifestError
    from edgemnist.manifest import SCHEMA, validate

    tensor = {"name": "x", "shape": [-1, 784], "dtype": "float32", "scale": None, "zero_point": None}
    manifest = {
        "schema": SCHEMA,
        "format": "tflite",
        "quantization": "int8",
        "artifact": {"sha256": "0" * 64},
        "input": tensor,
        "output": {**tensor, "shape": [-1, 10]},
    }
    validate(manifest, origin="ok")
    with pytest.raises(ManifestError, match="weights.bits must be"):
        validate({**manifest, "weights": weights}, origin="bad")
