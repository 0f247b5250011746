"""The ONNX static int8 recipe: what drives quantize_static is exactly what is recorded."""

from __future__ import annotations

from dataclasses import fields
from types import SimpleNamespace

from edgemnist.export.onnx import STATIC, StaticRecipe, metadata


def _fake_quantization():
    members = ("QDQ", "QOperator", "QInt8", "QUInt8", "MinMax", "Entropy", "Percentile")
    enum = SimpleNamespace(**{m: f"<{m}>" for m in members})
    return SimpleNamespace(QuantFormat=enum, QuantType=enum, CalibrationMethod=enum)


def test_every_recorded_field_drives_the_quantizer():
    recipe = StaticRecipe(activation_type="QUInt8", calibrate_method="Entropy", per_channel=True)
    kwargs = recipe.apply_kwargs(_fake_quantization())
    assert set(kwargs) == {f.name for f in fields(StaticRecipe)} == set(recipe.to_dict())
    for key, value in recipe.to_dict().items():
        assert kwargs[key] == (value if isinstance(value, bool) else f"<{value}>")


def test_metadata_records_the_applied_recipe():
    import json

    from edgemnist.export.config import ExportConfig

    calibration = SimpleNamespace(recipe={"count": 5, "seed": 0})
    recipe = StaticRecipe(per_channel=True)
    props = metadata(ExportConfig("onnx", "int8"), calibration, {"file": "model.keras", "sha256": "a" * 64}, recipe)
    assert json.loads(props["calibration"]) == {"count": 5, "seed": 0, **recipe.to_dict()}
    assert "calibration" not in metadata(ExportConfig("onnx", "float32"), None)
    assert STATIC == StaticRecipe()
