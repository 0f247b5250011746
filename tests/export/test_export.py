"""edgemnist export: every TFLite / ONNX mode against Keras on real MNIST, manifests read back from the
artifacts, plain-runtime reproduction, the accuracy gate, bad flags and atomic landing.

Artifacts come from the session fixture ``export_artifact`` (each exported once per session).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from clirun import run_cli

from edgemnist import spec
from edgemnist.errors import ArtifactError, ConfigError, InputError
from edgemnist.export import (
    FLOAT32_ATOL,
    ExportConfig,
    RejectedError,
    all_configs,
    calibration_set,
    export_prepared,
    prepare,
    rejected_path,
)
from edgemnist.fileio import sha256_bytes, sha256_file
from edgemnist.formats import EXPORT_FORMATS, FORMATS
from edgemnist.manifest import manifest_path, read_manifest

# Every (format, mode, io) of the registry whose exporter lives in this repo's tflite/onnx modules
# (micro has its own test module; it builds on the tflite int8 export tested here).
CASES = [(f, m.name, io) for f in ("tflite", "onnx") for m in FORMATS[f].modes for io in m.io]
IDS = [f"{f}-{m}-{io}" for f, m, io in CASES]


def _hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def source(model_path, mnist):
    return prepare(model_path, mnist)


def test_all_configs_cover_the_registry():
    configs, skipped = all_configs()
    got = {(c.format, c.mode, c.io) for c in configs}
    assert set(CASES) <= got and ("tflite", "int8", "float") in got
    expected = {(f, m.name, io) for f in EXPORT_FORMATS for m in FORMATS[f].modes for io in m.io}
    assert (
        got | {(s.split(":")[0], m.name, io) for s in skipped for m in FORMATS[s.split(":")[0]].modes for io in m.io}
        == expected
    )
    float32, _ = all_configs(mode="float32")
    assert [(c.format, c.mode) for c in float32] == [("tflite", "float32"), ("onnx", "float32")]
    with pytest.raises(ConfigError, match="no exportable format"):
        all_configs(mode="float16", io="int8")


# --------------------------------------------------------------------------- artifacts vs Keras


@pytest.mark.parametrize("fmt,mode,io", CASES, ids=IDS)
def test_artifact_verified_against_keras(fmt, mode, io, export_artifact, model_path, mnist):
    result = export_artifact(fmt, mode, io)
    config = ExportConfig(fmt, mode, io)
    assert result.path == model_path.parent / config.artifact_name and result.path.is_file()
    assert result.manifest_path == manifest_path(result.path)
    m = read_manifest(result.path, required=True)  # validated
    assert m == json.loads(json.dumps(result.manifest))
    assert (m["format"], m["quantization"], m["io"]) == (fmt, mode, io)
    assert m["artifact"] == {
        "file": result.path.name,
        "sha256": sha256_file(result.path),
        "bytes": result.path.stat().st_size,
    }
    assert m["source"]["sha256"] == sha256_file(model_path)
    assert m["preprocessing"] == spec.PREPROCESSING and m["labels"] == list(range(10))
    dtype = "int8" if io == "int8" else "float32"
    assert m["input"]["name"] == "pixels" and m["input"]["shape"] == [-1, 784] and m["input"]["dtype"] == dtype
    assert m["output"]["name"] == "probabilities" and m["output"]["shape"] == [-1, 10]
    assert m["output"]["dtype"] == dtype
    assert {"keras", "numpy", "tensorflow-cpu" if "tensorflow-cpu" in m["tools"] else "tensorflow"} <= set(m["tools"])

    v = m["verification"]
    keras_acc = m["source"]["accuracy"]
    assert v["passed"] and v["reasons"] == [] and v["n"] == 10000
    assert v["threshold"] == pytest.approx(spec.accuracy_floor())
    assert v["accuracy"] >= spec.accuracy_floor() and v["reference_accuracy"] == keras_acc
    if mode == "float32":
        assert v["max_abs_diff"] <= FLOAT32_ATOL and v["max_abs_diff_limit"] == FLOAT32_ATOL
        assert v["agreement"] == 1.0 and v["accuracy"] == keras_acc
    elif mode == "float16":
        assert v["max_abs_diff"] < 5e-3 and v["agreement"] >= 0.999
    else:  # int8 weights: within 0.3 pp of the float model, same top-1 on >= 99.5 % of images
        assert abs(v["accuracy"] - keras_acc) <= 0.003 and v["agreement"] >= 0.995
        assert v["max_abs_diff"] < 0.25

    if mode == "int8":
        cal = m["calibration"]
        assert (cal["split"], cal["count"], cal["seed"]) == ("train", 500, 0)
        assert cal["indices_sha256"] == calibration_set(mnist.train_images, 500, 0).recipe["indices_sha256"]
    else:
        assert m["calibration"] is None
    assert m["export"]["config"]["mode"] == mode and m["export"]["seconds"] > 0


def test_tflite_modes_are_what_they_claim(export_artifact):
    """Read back from each flatbuffer: the compute dtypes match the mode (no "int8" that is dynamic-range)."""
    g = {(m, io): export_artifact("tflite", m, io).manifest["graph"] for _, m, io in CASES[:5]}
    assert g[("int8", "int8")]["weights"] == ["int8"] and g[("int8", "int8")]["activations"] == ["int8"]
    assert g[("int8", "int8")]["ops"] == ["FULLY_CONNECTED", "SOFTMAX"]
    assert g[("int8", "float")]["activations"] == ["int8"]  # float I/O, integer compute
    assert set(g[("int8", "float")]["ops"]) == {"QUANTIZE", "FULLY_CONNECTED", "SOFTMAX", "DEQUANTIZE"}
    assert g[("dynamic", "float")]["weights"] == ["int8"] and g[("dynamic", "float")]["activations"] == ["float32"]
    assert g[("float16", "float")]["weights"] == ["float16"]
    assert g[("float32", "float")]["weights"] == ["float32"]


def test_check_refuses_a_mislabelled_artifact(export_artifact):
    from edgemnist.export import onnx as onnx_export
    from edgemnist.export import tflite as tflite_export

    dynamic = tflite_export.describe(export_artifact("tflite", "dynamic").path)
    problems = tflite_export.check(dynamic, "int8", "int8")
    assert any("compute runs in float32" in p for p in problems)
    assert any("input is float32, expected int8" in p for p in problems)
    assert tflite_export.check(dynamic, "dynamic", "float") == []
    f32 = onnx_export.describe(export_artifact("onnx", "float32").path)
    assert any("weights are float32" in p for p in onnx_export.check(f32, "int8", "float"))


def test_int8_tflite_io_quantization_read_from_the_artifact(export_artifact):
    from ai_edge_litert.interpreter import Interpreter

    result = export_artifact("tflite", "int8", "int8")
    m = result.manifest
    it = Interpreter(model_path=str(result.path))
    (inp,), (out,) = it.get_input_details(), it.get_output_details()
    # The flatbuffer stores float32 scales; the manifest records that float32 exactly.
    assert np.float32(m["input"]["scale"]) == np.float32(1 / 255) == np.float32(inp["quantization"][0])
    assert m["input"]["scale"] == float(np.float32(1 / 255))
    assert m["input"]["zero_point"] == -128 == inp["quantization"][1]
    assert m["output"]["scale"] == 1 / 256 == out["quantization"][0] and m["output"]["zero_point"] == -128
    assert list(inp["shape_signature"]) == [-1, 784] and inp["dtype"] == np.int8


def test_sizes(export_artifact):
    size = {(f, m, io): export_artifact(f, m, io).manifest["artifact"]["bytes"] for f, m, io in CASES}
    tfl32, onnx32 = size[("tflite", "float32", "float")], size[("onnx", "float32", "float")]
    assert 1_500_000 < tfl32 < 1_700_000  # 407,050 float32 parameters
    assert size[("tflite", "int8", "int8")] <= 0.27 * tfl32
    assert size[("tflite", "int8", "float")] <= 0.27 * tfl32
    assert size[("tflite", "dynamic", "float")] <= 0.27 * tfl32
    assert size[("tflite", "float16", "float")] <= 0.52 * tfl32
    assert size[("onnx", "int8", "float")] <= 0.27 * onnx32
    assert size[("onnx", "dynamic", "float")] <= 0.27 * onnx32


# --------------------------------------------------------------------------- plain runtimes, no edgemnist code


def _plain_tflite(path, images):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    x = images.reshape(len(images), 784).astype(np.float32) / 255.0
    if inp["dtype"] == np.int8:
        scale, zero = inp["quantization"]
        x = np.clip(np.round(x / scale) + zero, -128, 127).astype(np.int8)
    it.resize_tensor_input(inp["index"], [len(x), 784])
    it.allocate_tensors()
    it.set_tensor(inp["index"], x)
    it.invoke()
    y = it.get_tensor(out["index"])
    if out["dtype"] == np.int8:
        scale, zero = out["quantization"]
        y = (y.astype(np.float32) - zero) * scale
    return y


def _plain_onnx(path, images):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = images.reshape(len(images), 784).astype(np.float32) / 255.0
    return sess.run(["probabilities"], {"pixels": x})[0]


@pytest.mark.parametrize("fmt,mode,io", CASES, ids=IDS)
def test_plain_runtime_reproduces_manifest_accuracy(fmt, mode, io, export_artifact, mnist):
    result = export_artifact(fmt, mode, io)
    run = _plain_tflite if fmt == "tflite" else _plain_onnx
    probs = run(result.path, mnist.test_images)
    assert probs.shape == (10000, 10)
    accuracy = float(np.mean(probs.argmax(1) == mnist.test_labels))
    assert abs(accuracy - result.manifest["verification"]["accuracy"]) <= 0.0005


def test_onnx_graph_contract_and_metadata(export_artifact, mnist):
    import onnx
    import onnxruntime as ort

    for mode in ("int8", "dynamic", "float32"):
        result = export_artifact("onnx", mode)
        model = onnx.load(str(result.path))
        assert next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) == 17
        assert result.manifest["tools"]["onnx_opset"] == 17
        (inp,), (out,) = model.graph.input, model.graph.output
        assert (inp.name, out.name) == ("pixels", "probabilities")
        assert inp.type.tensor_type.shape.dim[0].dim_param == "batch"
        props = {p.key: p.value for p in model.metadata_props}
        assert props["quantization"] == mode and props["format"] == "onnx" and props["opset"] == "17"
        assert json.loads(props["input"]) == result.manifest["input"]
        assert json.loads(props["preprocessing"]) == spec.PREPROCESSING
        assert ("calibration" in props) == (mode == "int8")
        assert json.loads(props["source"]) == {"file": "model.keras", "sha256": result.manifest["source"]["sha256"]}
        sess = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
        for n in (1, 7):  # dynamic batch
            x = mnist.test_images[:n].reshape(n, 784).astype(np.float32) / 255
            assert sess.run(None, {"pixels": x})[0].shape == (n, 10)
    static = export_artifact("onnx", "int8").manifest["graph"]
    assert {"QuantizeLinear", "DequantizeLinear"} <= set(static["ops"]) and static["weights"] == ["int8"]
    assert static["input_quantization"]["dtype"] == "int8"


# --------------------------------------------------------------------------- config and flags


def test_export_config_resolves_and_validates():
    c = ExportConfig("tflite")
    assert (c.mode, c.io, c.artifact_name) == ("int8", "int8", "model.int8.tflite")
    assert ExportConfig("tflite", "int8", "float").artifact_name == "model.int8-floatio.tflite"
    assert ExportConfig("onnx") == ExportConfig("onnx", "int8", "float")
    with pytest.raises(ConfigError, match="allowed: float"):
        ExportConfig("tflite", "float16", "int8")
    with pytest.raises(ConfigError, match="int8, dynamic, float32"):
        ExportConfig("onnx", "float16")
    with pytest.raises(ConfigError, match="source format"):
        ExportConfig("keras")
    with pytest.raises(ConfigError, match="1 to 60000"):
        ExportConfig("onnx", calibration_samples=0)
    with pytest.raises(ConfigError, match="seed"):
        ExportConfig("onnx", seed=-1)
    with pytest.raises(ConfigError, match="tolerance"):
        ExportConfig("onnx", tolerance=101.0)


def test_calibration_comes_from_training_images_seeded(mnist):
    a, b, c = (calibration_set(mnist.train_images, 50, s) for s in (0, 0, 1))
    assert a.recipe == b.recipe and np.array_equal(a.images, b.images)
    assert a.recipe["indices_sha256"] != c.recipe["indices_sha256"]
    assert a.images.shape == (50, 784) and a.images.dtype == np.float32 and a.images.max() <= 1.0
    indices = np.sort(np.random.default_rng(0).choice(60000, 50, replace=False)).astype("<i8")
    assert a.recipe["indices_sha256"] == sha256_bytes(indices.tobytes())
    assert np.array_equal(a.images * 255, mnist.train_images[indices].reshape(50, 784).astype(np.float32))


@pytest.mark.parametrize(
    "argv,expect",
    [
        (["--format", "onnx", "--quantize", "float16"], "expected one of: int8, dynamic, float32"),
        (["--quantize", "float16", "--io", "int8"], "allowed: float"),
        (["--format", "onnx", "--io", "int8"], "allowed: float"),
        (["--format", "keras"], "choose from"),
        (["--quantize", "int4"], "expected one of: int8, dynamic, float16, float32"),
        (["--calibration-samples", "0"], "positive integer"),
        (["--calibration-samples", "70000"], "1 to 60000"),
        (["--tolerance", "-1"], "between 0 and 100"),
    ],
    ids=[
        "onnx-float16",
        "float16-int8io",
        "onnx-int8io",
        "keras",
        "int4",
        "zero-samples",
        "too-many-samples",
        "tolerance",
    ],
)
def test_bad_flags_exit_2_listing_what_is_allowed(argv, expect, tmp_path, capsys):
    rc, out, err = run_cli(["export", "--out", str(tmp_path), *argv], capsys)
    assert rc == 2 and expect in err, err
    assert list(tmp_path.iterdir()) == []


def test_missing_model_says_how_to_train(tmp_path, capsys):
    rc, _, err = run_cli(["export", "--out", str(tmp_path / "nowhere")], capsys)
    assert rc == 2 and "no trained model" in err and "edgemnist train" in err, err
    rc, _, err = run_cli(["export", "--model", str(tmp_path / "absent.keras")], capsys)
    assert rc == 2 and "no such model file" in err, err
    assert not (tmp_path / "nowhere").exists()


def test_cli_format_all_float32_prints_a_table(model_path, data_dir, tmp_path, capsys):
    rc, out, err = run_cli(
        [
            "export",
            "--format",
            "all",
            "--quantize",
            "float32",
            "--model",
            str(model_path),
            "--out",
            str(tmp_path),
            "--data-dir",
            str(data_dir),
        ],
        capsys,
    )
    assert rc == 0, err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "model.float32.onnx",
        "model.float32.onnx.json",
        "model.float32.tflite",
        "model.float32.tflite.json",
    ]
    lines = out.splitlines()
    totals = [line for line in lines if line.startswith("2 exported")]
    assert len(totals) == 1 and "0 rejected" in totals[0], out
    assert lines.index(totals[0]) < lines.index(next(line for line in lines if line.startswith("next:"))), out
    headers = [i for i, line in enumerate(lines) if line.startswith("artifact ")]
    assert len(headers) == 1  # one table, printed row by row (never printed twice)
    table = [line for line in lines[headers[0] : lines.index(totals[0])] if not line.startswith("agreement:")]
    assert table[0].split() == ["artifact", "model", "size", "accuracy", "agreement", "max|dp|", "seconds", "status"]
    assert len(table) == 3 and all(row.rstrip().endswith("ok") and " kB " in row for row in table[1:])


# --------------------------------------------------------------------------- the gate


@pytest.fixture(scope="module")
def broken_model(model_path, tmp_path_factory):
    """The same architecture with its weights zeroed: it always answers 0 (about 10 % accuracy)."""
    from edgemnist.model import load_model, save_model

    model = load_model(model_path)
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    return save_model(model, tmp_path_factory.mktemp("broken") / "model.keras")


def test_failing_gate_exits_1_and_leaves_nothing_valid_looking(
    broken_model, export_artifact, data_dir, tmp_path, capsys
):
    good = export_artifact("tflite", "float32").path
    shutil.copy(good, tmp_path / good.name)  # a stale valid artifact of the same name
    shutil.copy(manifest_path(good), manifest_path(tmp_path / good.name))
    rc, out, err = run_cli(
        [
            "export",
            "--quantize",
            "float32",
            "--model",
            str(broken_model),
            "--out",
            str(tmp_path),
            "--data-dir",
            str(data_dir),
        ],
        capsys,
    )
    assert rc == 1, err
    assert err.startswith("error: ") and "accuracy" in err and ".rejected" in err
    assert "REJECTED" in out
    rejected = rejected_path(tmp_path / good.name)
    assert sorted(p.name for p in tmp_path.iterdir()) == [rejected.name, manifest_path(rejected).name]
    m = json.loads(manifest_path(rejected).read_text())
    assert m["verification"]["passed"] is False and m["artifact"]["file"] == rejected.name
    assert m["artifact"]["sha256"] == sha256_file(rejected)
    assert any("accuracy" in r and "< gate" in r for r in m["verification"]["reasons"])
    assert m["verification"]["accuracy"] < 0.2 and m["verification"]["max_abs_diff"] <= FLOAT32_ATOL

    from edgemnist.predictor import Predictor

    with pytest.raises(ArtifactError):
        Predictor.load(rejected)


def test_a_later_pass_clears_the_rejection(broken_model, source, tmp_path):
    from edgemnist.export import prepare as prepare_

    config = ExportConfig("onnx", "float32")
    with pytest.raises(RejectedError) as info:
        export_prepared(prepare_(broken_model, source.data), config, tmp_path)
    assert info.value.exit_code == 1 and info.value.result.report.passed is False
    assert rejected_path(tmp_path / "model.float32.onnx").is_file()
    result = export_prepared(source, config, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.float32.onnx", "model.float32.onnx.json"]
    assert result.report.passed


# --------------------------------------------------------------------------- atomic landing


@pytest.fixture
def populated(export_artifact, tmp_path):
    """An output folder holding a valid onnx float32 artifact and its manifest, and their bytes."""
    good = export_artifact("onnx", "float32").path
    for p in (good, manifest_path(good)):
        shutil.copy(p, tmp_path / p.name)
    return {p.name: p.read_bytes() for p in tmp_path.iterdir()}


def _unchanged(folder, before):
    assert _hidden(folder) == []
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_exporter_dying_midway_leaves_no_half_file(source, populated, tmp_path, monkeypatch):
    import edgemnist.export.onnx as onnx_export

    def half_then_die(model, out_path, config, calibration, **_):
        out_path.write_bytes(b"\x08\x07half an onnx file")
        raise RuntimeError("killed midway")

    monkeypatch.setattr(onnx_export, "export_onnx", half_then_die)
    with pytest.raises(RuntimeError, match="killed midway"):
        export_prepared(source, ExportConfig("onnx", "float32"), tmp_path)
    _unchanged(tmp_path, populated)


def test_interrupted_verification_leaves_the_old_artifact(source, populated, tmp_path, monkeypatch):
    import edgemnist.verify

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(edgemnist.verify, "verify_predictor", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_prepared(source, ExportConfig("onnx", "float32"), tmp_path)
    _unchanged(tmp_path, populated)


def test_killed_between_manifest_and_artifact_is_refused_not_trusted(source, export_artifact, tmp_path, monkeypatch):
    """The manifest lands first, the artifact last: dying in between leaves an old artifact beside a new
    manifest, which the predictor refuses by sha256 instead of trusting it."""
    import os

    from edgemnist.errors import ArtifactChangedError
    from edgemnist.predictor import Predictor

    other = export_artifact("onnx", "dynamic").path  # an older, different artifact under the target name
    target = tmp_path / "model.float32.onnx"
    shutil.copy(other, target)
    real_replace = os.replace

    def die_before_artifact(src, dst):
        if str(dst) == str(target):
            raise SystemExit("killed")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", die_before_artifact)
    with pytest.raises(SystemExit):
        export_prepared(source, ExportConfig("onnx", "float32"), tmp_path)
    monkeypatch.undo()
    assert read_manifest(target)["quantization"] == "float32" and target.read_bytes() == other.read_bytes()
    with pytest.raises(ArtifactChangedError):
        Predictor.load(target)
    assert _hidden(tmp_path) == []


# --------------------------------------------------------------------------- verify


def test_verify_collects_every_failure(export_artifact, source, mnist):
    from edgemnist.verify import verify

    path = export_artifact("onnx", "float32").path
    good = verify(path, source.reference, mnist.test_images, mnist.test_labels)
    assert good.passed and good.reasons == () and good.accuracy == pytest.approx(source.accuracy)
    wrong_labels = (mnist.test_labels + 1) % 10
    bad = verify(path, np.roll(source.reference, 1, axis=1), mnist.test_images, wrong_labels, max_abs_diff=0.0)
    assert not bad.passed and len(bad.reasons) == 2
    assert "accuracy" in bad.reasons[0] and "max |p - p_keras|" in bad.reasons[1]
    assert bad.agreement < 0.2 and bad.to_dict()["reasons"] == list(bad.reasons)
    with pytest.raises(InputError, match="reference probabilities"):
        verify(path, source.reference[:5], mnist.test_images, mnist.test_labels)
