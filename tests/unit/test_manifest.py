"""Manifest validation and building, without any runtime."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from edgemnist.errors import ArtifactChangedError, ManifestError
from edgemnist.fileio import sha256_file
from edgemnist.manifest import (
    SCHEMA,
    build_export_manifest,
    check_sha256,
    manifest_path,
    read_manifest,
    tensor_info,
    validate,
    write_manifest,
)


def _good() -> dict:
    return {
        "schema": SCHEMA,
        "format": "tflite",
        "quantization": "int8",
        "io": "int8",
        "artifact": {"file": "model.int8.tflite", "sha256": "a" * 64},
        "input": tensor_info("pixels", (-1, 784), "int8", 1 / 255, -128),
        "output": tensor_info("probabilities", (-1, 10), "int8", 1 / 256, -128),
        "verification": {"passed": True, "reasons": [], "accuracy": 0.98},
    }


def test_a_good_manifest_validates_and_round_trips(tmp_path):
    art = tmp_path / "model.int8.tflite"
    art.write_bytes(b"x")
    write_manifest(art, _good())
    assert read_manifest(art) == _good()
    assert read_manifest(tmp_path / "none.tflite") is None
    with pytest.raises(ManifestError, match="no manifest"):
        read_manifest(tmp_path / "none.tflite", required=True)


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda m: m.update(schema="x"), "schema"),
        (lambda m: m.update(format="pt"), "format"),
        (lambda m: m.update(quantization="int4"), "quantization"),
        (lambda m: m["artifact"].update(sha256="short"), "sha256"),
        (lambda m: m["input"].update(dtype="int4"), "input.dtype"),
        (lambda m: m["input"].update(scale=0), "input.scale"),
        (lambda m: m["input"].update(zero_point=300), "zero_point"),
        (lambda m: m["output"].update(shape=[]), "output.shape"),
        (lambda m: m.update(verification={"passed": "yes"}), "verification"),
        (lambda m: m["verification"].update(reasons=[1]), "reasons"),
        (lambda m: m["verification"].update(accuracy="high"), "accuracy"),
        (lambda m: m.update(tflite=[1]), "tflite must be an object"),
    ],
)
def test_every_bad_field_is_named(edit, message):
    m = _good()
    edit(m)
    with pytest.raises(ManifestError, match=message):
        validate(m, origin="m.json")


def test_unreadable_manifests_are_manifest_errors(tmp_path):
    art = tmp_path / "model.int8.tflite"
    for text in ("{not json", "[" * 100000, json.dumps([1, 2])):
        manifest_path(art).write_text(text)
        with pytest.raises(ManifestError):
            read_manifest(art)


def test_check_sha256(tmp_path):
    art = tmp_path / "a.tflite"
    art.write_bytes(b"abc")
    m = _good()
    m["artifact"]["sha256"] = sha256_file(art)
    assert check_sha256(art, m) == m["artifact"]["sha256"]
    art.write_bytes(b"abd")
    with pytest.raises(ArtifactChangedError, match="changed since export"):
        check_sha256(art, m)


def test_build_export_manifest_records_the_files_own_recipe():
    from edgemnist.export.config import ExportConfig

    config = ExportConfig("onnx", "int8")
    dataset = {"name": "MNIST", "mnist": True, "classes": 10, "sha256": {"test_labels": "d" * 64}}
    source = SimpleNamespace(
        path=SimpleNamespace(name="model.keras"),
        sha256="b" * 64,
        accuracy=0.98,
        widths=(784, 512, 10),
        gate_reference=0.9788,
        data=SimpleNamespace(record=lambda: dataset),
    )
    report = SimpleNamespace(to_dict=lambda: {"passed": True, "reasons": []})
    facts = {
        "input": tensor_info("pixels", (-1, 784), "float32"),
        "output": tensor_info("probabilities", (-1, 10), "float32"),
        "graph": {"ops": []},
        "calibration": {"count": 500, "per_channel": False},
    }
    calibration = SimpleNamespace(recipe={"count": 500})
    m = build_export_manifest(
        config=config,
        artifact_name="model.int8.onnx",
        artifact_sha256="c" * 64,
        artifact_bytes=3,
        source=source,
        facts=facts,
        calibration=calibration,
        seconds=1.0,
        report=report,
    )
    validate(m, origin="built")
    assert m["calibration"] == {"count": 500, "per_channel": False}  # what the file states, not a second copy
    assert m["labels"] == list(range(10)) and m["layers"] == [784, 512, 10]
    assert m["dataset"] == {**dataset, "gate_reference": 0.9788}
    facts.pop("calibration")
    m = build_export_manifest(
        config=config,
        artifact_name="model.int8.onnx",
        artifact_sha256="c" * 64,
        artifact_bytes=3,
        source=source,
        facts=facts,
        calibration=calibration,
        seconds=1.0,
        report=report,
    )
    assert m["calibration"] == {"count": 500} and m["export"]["config"]["format"] == "onnx"
