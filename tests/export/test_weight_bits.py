"""edgemnist export --weight-bits 4|2 end to end: tflite int8 (int8 and float I/O), onnx int8 and micro, each
exported from the session's model, gated on real MNIST, read back from the files; packed INT4/INT2 .tflite
and .onnx against their int8 references in LiteRT and ONNX Runtime; info and evaluate show the width; bad flags
exit 2."""

from __future__ import annotations

import numpy as np
import pytest
from clirun import run_cli
from toolchains import imported

imported("tensorflow")
imported("ai_edge_litert")

from edgemnist import spec  # noqa: E402
from edgemnist.export import all_configs, lowbit  # noqa: E402
from edgemnist.export.onnx import hidden_weights  # noqa: E402
from edgemnist.manifest import read_manifest  # noqa: E402
from edgemnist.predictor import Predictor  # noqa: E402
from edgemnist.tflm.reader import read_micro  # noqa: E402

#: (format, mode, io) of every low-bit target, and the file name each gets at 4 bits.
TARGETS = {
    ("tflite", "int8", "int8"): "model.int8-w4.tflite",
    ("tflite", "int8", "float"): "model.int8-floatio-w4.tflite",
    ("onnx", "int8", "float"): "model.int8-w4.onnx",
    ("micro", "int8", "int8"): "micro-w4/model_data.cc",
}
CASES = [(*t, bits) for bits in (4, 2) for t in TARGETS]
IDS = [f"{f}-{m}-{io}-w{b}" for f, m, io, b in CASES]


def _levels(result) -> np.ndarray:
    """The hidden filter (N, K) as the artifact stores it."""
    if result.config.format == "onnx":
        return hidden_weights(result.path)[0].T
    data = read_micro(result.path).model_bytes if result.config.format == "micro" else result.path.read_bytes()
    return lowbit.stored_filter(data)[0]


@pytest.mark.parametrize("fmt,mode,io,bits", CASES, ids=IDS)
def test_each_width_exports_passes_the_gate_and_records_its_recipe(fmt, mode, io, bits, export_artifact):
    result = export_artifact(fmt, mode, io, weight_bits=bits)
    assert result.path.relative_to(result.path.parents[1 if fmt == "micro" else 0]).as_posix() == TARGETS[
        fmt, mode, io
    ].replace("w4", f"w{bits}")
    manifest = read_manifest(result.path, required=True)
    ver = manifest["verification"]
    assert ver["passed"] and spec.passes(ver["accuracy"], spec.accuracy_floor()), ver
    assert ver["threshold"] == pytest.approx(spec.accuracy_floor())
    assert manifest["export"]["config"]["weight_bits"] == bits and manifest["export"]["config"]["packed"] is False
    weights = manifest["weights"]
    assert weights["bits"] == {"hidden": bits, "probabilities": 8}
    recipe = weights["recipe"]
    assert recipe["bits"] == weights["bits"] and recipe["levels"] == lowbit.BITS[bits][0]
    assert recipe["clip_rule"] == "output-mse" and recipe["seed"] == 0 and recipe["qat"] is None
    assert recipe["clips"]["ratio_min"] <= recipe["clips"]["ratio_median"] <= recipe["clips"]["ratio_max"]
    assert recipe["calibration"]["count"] == 500 and recipe["held_back"]["split"] == "train"
    # The file itself: at most 2^bits distinct weights in every hidden channel, exactly the recipe's levels.
    k = _levels(result)
    assert k.shape == (512, spec.INPUT_SIZE) and k.dtype == np.int8
    assert max(len(np.unique(row)) for row in k) <= 2**bits
    assert set(np.unique(k).tolist()) <= set(recipe["level_values"])
    stored = weights["hidden_stored"]
    assert stored["type"] == "int8" and stored["packed"] is False and stored["max_distinct_per_channel"] <= 2**bits


@pytest.mark.parametrize("bits", [4, 2])
def test_every_target_of_a_width_stores_the_same_levels(bits, export_artifact):
    reference = _levels(export_artifact("tflite", "int8", "int8", weight_bits=bits))
    for fmt, mode, io in TARGETS:
        np.testing.assert_array_equal(_levels(export_artifact(fmt, mode, io, weight_bits=bits)), reference)


@pytest.mark.parametrize("bits", [4, 2])
def test_packed_tflite_agrees_with_its_int8_reference_in_litert(bits, export_artifact, mnist):
    reference = export_artifact("tflite", "int8", "int8", weight_bits=bits)
    packed = export_artifact("tflite", "int8", "int8", weight_bits=bits, packed=True)
    assert packed.path.name == f"model.int8-w{bits}-packed.tflite"
    manifest = read_manifest(packed.path, required=True)
    assert manifest["verification"]["passed"]
    record = manifest["tflite"]["packed"]
    assert record["reference"]["artifact"] == reference.path.name and record["n"] == 10000
    assert record["agreement"] >= 0.999 and record["max_abs_diff"] <= 0.01
    assert (
        manifest["weights"]["hidden_stored"]["type"] == f"int{bits}" and manifest["weights"]["hidden_stored"]["packed"]
    )
    # Smaller by the hidden filter's bytes: 512 x 784 weights at bits/8 bytes each instead of one byte.
    saved = reference.path.stat().st_size - packed.path.stat().st_size
    assert saved >= 512 * spec.INPUT_SIZE * (8 - bits) // 8
    levels, kind, nbytes = lowbit.stored_filter(packed.path.read_bytes())
    assert kind == f"INT{bits}" and nbytes == 512 * spec.INPUT_SIZE * bits // 8
    np.testing.assert_array_equal(levels, _levels(reference))
    # The Predictor loads it (the allow-list admits the packed weights) and LiteRT gives the reference's answers.
    images = mnist.test_images[:1000]
    with Predictor.load(packed.path) as p, Predictor.load(reference.path) as r:
        assert p.weight_bits == r.weight_bits == {"hidden": bits, "probabilities": 8}
        np.testing.assert_array_equal(p.predict(images).labels, r.predict(images).labels)


@pytest.mark.parametrize("bits", [4, 2])
def test_packed_onnx_agrees_with_its_int8_container_in_onnx_runtime(bits, export_artifact, mnist):
    """INT4 (opset 21) and INT2 (opset 25) DequantizeLinear weights, run by ONNX Runtime through the Predictor."""
    onnx = imported("onnx")
    reference = export_artifact("onnx", "int8", weight_bits=bits)
    packed = export_artifact("onnx", "int8", weight_bits=bits, packed=True)
    assert packed.path.name == f"model.int8-w{bits}-packed.onnx"
    manifest = read_manifest(packed.path, required=True)
    assert manifest["verification"]["passed"]
    record = manifest["onnx"]["packed"]
    assert record["runtime"] == "ONNX Runtime" and record["reference"]["artifact"] == reference.path.name
    assert record["n"] == 10000 and record["agreement"] >= 0.999 and record["max_abs_diff"] <= 0.01
    stored = manifest["weights"]["hidden_stored"]
    assert stored == {**stored, "type": f"int{bits}", "packed": True, "bytes": 512 * spec.INPUT_SIZE * bits // 8}
    proto = onnx.load(str(packed.path))
    assert {o.version for o in proto.opset_import if o.domain == ""} == {21 if bits == 4 else 25}
    assert manifest["graph"]["weights"] == sorted({"int8", f"int{bits}"})
    np.testing.assert_array_equal(hidden_weights(packed.path)[0], hidden_weights(reference.path)[0])
    saved = reference.path.stat().st_size - packed.path.stat().st_size
    assert saved >= 512 * spec.INPUT_SIZE * (8 - bits) // 8
    images = mnist.test_images[:1000]
    with Predictor.load(packed.path) as p, Predictor.load(reference.path) as r:
        assert p.backend.runtime == "ONNX Runtime" and p.weight_bits == {"hidden": bits, "probabilities": 8}
        np.testing.assert_array_equal(p.predict(images).labels, r.predict(images).labels)


def test_onnx_and_micro_record_how_they_compare(export_artifact):
    onnx = read_manifest(export_artifact("onnx", "int8", weight_bits=4).path, required=True)
    assert onnx["onnx"]["low_bit_tflite"]["n"] == 10000 and onnx["onnx"]["low_bit_tflite"]["agreement"] >= 0.99
    assert onnx["calibration"]["per_channel"] is True
    micro = read_manifest(export_artifact("micro", weight_bits=4).path, required=True)
    tflm = micro["micro"]["tflm"]
    assert tflm["litert"]["agreement"] >= 0.995 and spec.passes(tflm["accuracy"], spec.accuracy_floor())
    probes = micro["micro"]["packed"]
    assert set(probes) == {"per_channel", "per_tensor"}
    for probe in probes.values():
        assert probe["type"] == "int4" and isinstance(probe["runs"], bool)
        assert probe["flash_saved_bytes"] == micro["micro"]["flash_bytes"] - probe["bytes"] > 0
        if probe["runs"]:  # the arena it needs and what TFLM scores with it, measured
            assert probe["arena_bytes"] >= probe["arena_min_bytes"] > 0 and probe["n"] == 10000
            assert 0 < probe["accuracy"] <= 1
        else:
            assert probe["why"]
    assert probes["per_tensor"]["recipe"]["quantization"] == "per-tensor"


def test_info_and_evaluate_show_the_width(export_artifact, data_dir, capsys):
    path = export_artifact("tflite", "int8", "int8", weight_bits=2, packed=True).path
    rc, out, _ = run_cli(["info", str(path)], capsys)
    assert rc == 0 and "weights       2-bit hidden (int2 levels, packed int2), 8-bit probabilities" in out
    rc, out, _ = run_cli(["evaluate", str(path), "--data-dir", str(data_dir)], capsys)
    assert rc == 0 and "weights 2-bit hidden (int2 levels, packed int2), 8-bit probabilities" in out.splitlines()[0]
    rc, out, _ = run_cli(["info", str(export_artifact("tflite", "int8", "int8").path)], capsys)
    assert rc == 0 and "weights       8-bit" in out


def test_format_all_keeps_8_bits_unless_asked():
    default, _ = all_configs()
    assert {c.weight_bits for c in default} == {8} and not any(c.packed for c in default)
    four, _ = all_configs(weight_bits=4, packed=True)
    got = [(c.format, c.mode, c.io, c.packed) for c in four]
    assert got == [
        ("tflite", "int8", "int8", False),
        ("tflite", "int8", "int8", True),
        ("tflite", "int8", "float", False),
        ("tflite", "int8", "float", True),
        ("onnx", "int8", "float", False),
        ("onnx", "int8", "float", True),
        ("micro", "int8", "int8", False),
        ("c", "int8", "int8", False),
        ("web", "int8", "int8", False),
    ]


@pytest.mark.parametrize(
    "argv,expect",
    [
        (["--weight-bits", "3"], "--weight-bits must be 8, 4 or 2, got 3"),
        (["--weight-bits", "4", "--quantize", "float16"], "needs an int8 mode, not tflite float16"),
        (["--format", "onnx", "--quantize", "dynamic", "--weight-bits", "2"], "not onnx dynamic"),
        (["--packed"], "--packed needs --weight-bits 4 or 2"),
        (["--format", "micro", "--weight-bits", "4", "--packed"], "not micro with 4-bit weights"),
        (["--weight-bits", "four"], "invalid int value"),
    ],
)
def test_bad_weight_bits_exit_2_with_one_line(argv, expect, model_path, tmp_path, capsys):
    rc, out, err = run_cli(["export", "--model", str(model_path), "--out", str(tmp_path / "x"), *argv], capsys)
    assert rc == 2 and expect in err, err
    assert len([line for line in err.splitlines() if line.startswith("error") or ": error:" in line]) == 1
    assert not (tmp_path / "x").exists()


def _retyped(data: bytes, operator: int, kind: str) -> bytes:
    """``data`` with the weights of FULLY_CONNECTED number ``operator`` given TensorType ``kind``, data untouched."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    graph = model.subgraphs[0]
    fcs = [
        op
        for op in graph.operators
        if model.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.FULLY_CONNECTED
    ]
    graph.tensors[fcs[operator].inputs[1]].type = getattr(schema.TensorType, kind)
    builder = flatbuffers.Builder(len(data))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_the_allow_list_takes_packed_weights_only_where_they_fit(export_artifact):
    from edgemnist.errors import ArtifactError
    from edgemnist.flatbuffer import check_tflite

    packed = export_artifact("tflite", "int8", "int8", weight_bits=4, packed=True).path.read_bytes()
    check_tflite(packed, "packed")
    with pytest.raises(ArtifactError, match="holds 200704 bytes but its shape"):
        check_tflite(_retyped(packed, 0, "INT2"), "INT4 data typed INT2")
    with pytest.raises(ArtifactError, match="holds 5120 bytes but its shape"):
        check_tflite(_retyped(packed, 1, "INT4"), "int8 output weights typed INT4")


@pytest.mark.parametrize("bits", [4, 2])
def test_the_c_kernel_with_low_bit_weights_is_byte_identical_to_tflm(bits, export_artifact):
    """--format c --weight-bits 4|2: generated from the int8 .tflite whose hidden weights take 2^bits values, its
    hidden layer packed int4/int2 in the C, gated on the 10,000 test images against the TFLite Micro interpreter
    on that .tflite (0 differing bytes); the firmware paths equal the host build."""
    from toolchains import requires

    requires("host", "tflite_micro")
    from edgemnist.ckernel import layout

    result = export_artifact("c", weight_bits=bits)
    eight = export_artifact("c")
    tflite = export_artifact("tflite", "int8", "int8", weight_bits=bits)
    m = result.manifest
    assert result.path.parent.name == f"c-w{bits}" and result.path.name == "edgemnist_model.c"
    assert m["verification"]["passed"] and m["c"]["source"]["sha256"] == tflite.manifest["artifact"]["sha256"]
    host = m["c"]["host"]
    assert host["n"] == 10000 and host["tflm"]["differing_bytes"] == 0 and host["tflm"]["differing_images"] == 0
    codec = layout.CODECS_BY_BITS[bits]
    layers = m["c"]["layers"]
    assert [x["codec"] for x in layers] == [codec.name, "int8-grouped4"]
    assert [x["weight_bits"] for x in layers] == [bits, 8]
    assert layers[0]["weight_bytes"] == 784 * 512 * bits // 8 and layers[1]["weight_bytes"] == 512 * 12
    assert m["c"]["model_bytes"] == m["c"]["constants_bytes"] < eight.manifest["c"]["constants_bytes"]
    assert m["weights"]["bits"] == tflite.manifest["weights"]["bits"] and m["graph"]["weights"] == [
        f"int{bits}",
        "int8",
    ]
    m4 = m["c"].get("cortex_m4", {})
    if "skipped" not in m4:
        flash = {p: m4[p]["sizes"]["flash_bytes"] for p in ("dsp", "portable")}
        assert all(m4[p]["differing_bytes_vs_host"] == 0 for p in flash)
        assert flash["dsp"] < eight.manifest["c"]["cortex_m4"]["dsp"]["sizes"]["flash_bytes"]
    wasm = m["c"].get("wasm", {})
    assert "skipped" in wasm or wasm["differing_bytes_vs_host"] == 0


def test_the_web_folder_with_4_bit_weights_builds_and_agrees(export_artifact):
    from toolchains import requires

    requires("host", "wasm32", "wasmtime")
    c = export_artifact("c", weight_bits=4)
    web = export_artifact("web", weight_bits=4)
    assert web.path.parts[-3:] == ("web-w4", "web", "edgemnist_model.wasm")
    m = web.manifest
    assert m["verification"]["passed"] and m["web"]["kernel"]["sha256"] == c.manifest["artifact"]["sha256"]
    for name in ("simd", "scalar"):
        assert m["web"][f"wasmtime_{name}"]["differing_bytes"] == 0
    assert m["web"]["wasmtime_simd"]["accuracy"] == c.manifest["verification"]["accuracy"]
