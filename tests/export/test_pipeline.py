"""The export pipeline's economy and its records: what one export builds and hashes, and the recipe it applies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgemnist.export import ExportConfig, export_prepared, prepare


@pytest.fixture(scope="module")
def counted_source(model_path, mnist, monkeypatch_module):
    """A Source prepared while every sha256 of model.keras is counted."""
    import sys

    from edgemnist import fileio

    hashes: list[Path] = []
    real = fileio.sha256_file

    def counting(path):
        if Path(path).resolve() == Path(model_path).resolve():
            hashes.append(Path(path))
        return real(path)

    for name, module in list(sys.modules.items()):
        if name.startswith("edgemnist") and getattr(module, "sha256_file", None) is real:
            monkeypatch_module.setattr(module, "sha256_file", counting)
    return prepare(model_path, mnist), hashes


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_one_int8_tflite_export_builds_two_interpreters_and_hashes_the_model_once(
    counted_source, tmp_path, monkeypatch
):
    from ai_edge_litert import interpreter as litert

    source, hashes = counted_source
    built = []
    real_init = litert.Interpreter.__init__

    def counting_init(self, *args, **kwargs):
        built.append(kwargs.get("model_path") or "bytes")
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(litert.Interpreter, "__init__", counting_init)
    result = export_prepared(source, ExportConfig("tflite", "int8"), tmp_path)
    assert result.report.passed
    assert len(built) <= 2, f"{len(built)} LiteRT interpreters built: {built}"
    assert len(hashes) == 1, f"model.keras hashed {len(hashes)} times"


def test_onnx_int8_records_the_recipe_it_applied_in_manifest_and_metadata(counted_source, tmp_path, monkeypatch):
    import onnx
    from onnxruntime import quantization

    from edgemnist.export.onnx import STATIC

    source, _ = counted_source
    applied = []
    real = quantization.quantize_static

    def spy(*args, **kwargs):
        applied.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(quantization, "quantize_static", spy)
    result = export_prepared(source, ExportConfig("onnx", "int8"), tmp_path)
    props = {p.key: p.value for p in onnx.load(str(result.path)).metadata_props}
    in_model = json.loads(props["calibration"])
    in_manifest = json.loads(result.manifest_path.read_text())["calibration"]
    assert in_model == in_manifest == {**source.calibration(500, 0).recipe, **STATIC.to_dict()}
    (kwargs,) = applied
    assert kwargs == STATIC.apply_kwargs(quantization)
    assert {k: str(v).rsplit(".", 1)[-1] if not isinstance(v, bool) else v for k, v in kwargs.items()} == {
        k: in_manifest[k] for k in STATIC.to_dict()
    }


def test_an_exporter_gets_a_verified_input_and_lands_several_fixed_name_companions(
    counted_source, tmp_path, monkeypatch
):
    """What the C kernel and web formats rely on: ``requires`` hands over another verified artifact
    (``job.input``), and companions with fixed names (index.html, several .wasm) are staged and land together."""
    import shutil
    import sys
    import types

    from edgemnist.export import tflite
    from edgemnist.export.base import Exporter
    from edgemnist.formats import FORMATS, Format, Mode
    from edgemnist.predictor import Predictor

    source, _ = counted_source
    seen = {}

    class CopyExporter(Exporter):
        def requires(self, config):
            return ExportConfig("tflite", "int8", "int8")

        def companions(self, target):
            return ("index.html", "kernel.wasm", "simd.wasm")

        def export(self, job):
            seen["input"] = job.input
            files = job.files
            shutil.copy(job.input.path, files.path)
            for name in self.companions(files.path):
                seen.setdefault("staged", []).append(files.companion(name))
                files.companion(name).write_text(f"{name} of {job.input.manifest['artifact']['sha256']}\n")

        def describe(self, job):
            seen.setdefault("jobs", []).append(job)
            return tflite.describe(job.files.path)

        def check(self, job, facts):
            seen["jobs"].append(job)
            return tflite.check(facts, job.config.mode, job.config.io)

        def measure(self, job):
            seen["jobs"].append(job)
            assert job.files.path.exists() and job.files.path.name.startswith(".")  # still staged
            return {}, []

    module = types.ModuleType("edgemnist_test_copy_exporter")
    module.EXPORTER = CopyExporter()
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(
        FORMATS,
        "copy",
        Format(
            name="copy",
            suffix=".tflcopy",
            modes=(Mode("int8", "a verified int8 .tflite, copied", io=("int8",)),),
            exporter=f"{module.__name__}:EXPORTER",
            backend="edgemnist.predictor.litert:LiteRTBackend",
            extra="litert",
            runtime="LiteRT",
        ),
    )
    result = export_prepared(source, ExportConfig("copy"), tmp_path)
    assert seen["input"].report.passed and seen["input"].config == ExportConfig("tflite", "int8", "int8")
    assert len(seen["jobs"]) == 3 and all(j is seen["jobs"][0] for j in seen["jobs"])  # one job, every step
    assert all(p.name.startswith(".") and p.parent == tmp_path for p in seen["staged"])  # hidden temporaries
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "index.html",
        "kernel.wasm",
        "model.int8.tflcopy",
        "model.int8.tflcopy.json",
        "simd.wasm",
    ]
    assert result.manifest["artifact"]["sha256"] == seen["input"].manifest["artifact"]["sha256"]
    assert (tmp_path / "kernel.wasm").read_text().startswith("kernel.wasm of ")
    with Predictor.load(result.path) as p:
        assert p.format == "copy" and p.input.dtype == "int8"
