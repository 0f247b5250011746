"""The format registry: every format has an exporter, a backend and a test; names, modes and errors."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from edgemnist.errors import ArtifactError, ConfigError
from edgemnist.formats import EXPORT_FORMATS, FORMATS, format_for_path, get_format

TESTS = Path(__file__).resolve().parents[1]


def _ref_exists(ref: str) -> bool:
    module, _, attr = ref.partition(":")
    path = Path(importlib.util.find_spec("edgemnist").origin).parent.parent / (module.replace(".", "/") + ".py")
    return path.is_file() and f"{attr}" in path.read_text()


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_has_an_exporter_a_backend_and_a_test(name):
    fmt = FORMATS[name]
    assert _ref_exists(fmt.backend), f"{name}: backend {fmt.backend} not found"
    if fmt.exporter is not None:
        assert _ref_exists(fmt.exporter), f"{name}: exporter {fmt.exporter} not found"
        assert fmt.exporter.endswith(":EXPORTER"), "the registry references the exporter instance"
    tested = [p for p in TESTS.rglob("test_*.py") if f'"{name}"' in p.read_text() or f"'{name}'" in p.read_text()]
    assert tested, f"no test module mentions format {name!r}"


def test_suffixes_are_unique_and_dispatch():
    suffixes = [f.suffix for f in FORMATS.values()]
    assert len(set(suffixes)) == len(suffixes)
    for f in FORMATS.values():
        assert format_for_path(Path("x") / f"m{f.suffix}") is f
    with pytest.raises(ArtifactError, match="unknown model file type"):
        format_for_path("model.pt")


def test_modes_resolve_and_errors_name_no_cli_flag():
    tflite = get_format("tflite")
    assert tflite.default_mode == "int8" and tflite.resolve_io("int8", None) == "int8"
    assert tflite.resolve_io("dynamic", None) == "float"
    with pytest.raises(ConfigError) as info:
        tflite.mode("int4")
    assert "int4" in str(info.value) and "--" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        tflite.resolve_io("dynamic", "int8")
    assert "allowed: float" in str(info.value) and "--" not in str(info.value)
    with pytest.raises(ConfigError, match="unknown format"):
        get_format("pt")


def test_artifact_names():
    assert get_format("tflite").artifact_name("int8", "float") == "model.int8-floatio.tflite"
    assert get_format("tflite").artifact_name("int8", "int8") == "model.int8.tflite"
    assert get_format("micro").artifact_name("int8", "int8") == "model_data.cc"
    assert "keras" not in EXPORT_FORMATS


def test_export_config_defaults_are_the_clis():
    from edgemnist.cli import build_parser
    from edgemnist.export.config import ExportConfig
    from edgemnist.model import TrainConfig

    parser = build_parser()
    export = parser.parse_args(["export"])
    c = ExportConfig("tflite")
    assert (export.calibration_samples, export.seed, export.tolerance) == (c.calibration_samples, c.seed, c.tolerance)
    train = parser.parse_args(["train"])
    t = TrainConfig()
    assert (train.epochs, train.batch_size, train.seed) == (t.epochs, t.batch_size, t.seed)


def test_registry_records_are_frozen_values_like_dataclasses():
    """Mode, Format, TensorSpec and RawLoop are plain classes (no dataclasses on the device path) that behave
    as frozen dataclasses did: built by position or keyword, compared and hashed by value, immutable."""
    import copy

    from edgemnist.formats import Format, Mode
    from edgemnist.predictor import RawLoop, TensorSpec

    m = Mode("int8", "full integer", io=("int8", "float"))
    assert m == Mode(name="int8", description="full integer", io=("int8", "float")) and m.io == ("int8", "float")
    assert Mode("float32", "none").io == ("float",)
    assert m != Mode("int8", "full integer") and m != ("int8", "full integer", ("int8", "float"))
    assert repr(m) == "Mode(name='int8', description='full integer', io=('int8', 'float'))"
    t = TensorSpec("pixels", (-1, 784), "int8", 1 / 255, -128)
    assert t == TensorSpec(name="pixels", shape=(-1, 784), dtype="int8", scale=1 / 255, zero_point=-128)
    assert hash(t) == hash(TensorSpec("pixels", (-1, 784), "int8", 1 / 255, -128)) and len({t, copy.copy(t)}) == 1
    assert TensorSpec("x", (1,), "float32") == TensorSpec("x", (1,), "float32", None, None)
    assert t != TensorSpec("pixels", (-1, 784), "int8", 1 / 255, -127)
    assert repr(t) == f"TensorSpec(name='pixels', shape=(-1, 784), dtype='int8', scale={1 / 255!r}, zero_point=-128)"
    assert TensorSpec.from_dict(t.to_dict()) == t and copy.deepcopy(t) == t
    tflite = get_format("tflite")
    assert copy.deepcopy(tflite) == tflite and hash(tflite) == hash(copy.copy(tflite))
    assert tflite == Format(**{name: getattr(tflite, name) for name in Format.__slots__})
    assert repr(tflite).startswith("Format(name='tflite', suffix='.tflite', modes=(Mode(name='int8'")
    loop = RawLoop("m", len)
    assert loop == RawLoop(method="m", prepare=len) and loop.prepare is len
    for obj, field in ((m, "io"), (t, "scale"), (tflite, "suffix"), (loop, "method")):
        with pytest.raises(AttributeError, match="cannot assign"):
            setattr(obj, field, None)
        with pytest.raises(AttributeError, match="cannot assign"):
            obj.extra_attribute = 1
        with pytest.raises(AttributeError, match="cannot delete"):
            delattr(obj, field)
    with pytest.raises(TypeError):
        TensorSpec("x", (1,))  # dtype is required
    with pytest.raises(TypeError):
        Mode("a", "b", ("c",), "extra")
