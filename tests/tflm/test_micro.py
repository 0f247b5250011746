"""TFLite Micro: the C array, the arena it really needs, and the TFLM interpreter on real MNIST."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from toolchains import imported, requires

imported("tflite_micro")

from edgemnist import spec  # noqa: E402
from edgemnist.errors import ArtifactError, ConfigError  # noqa: E402
from edgemnist.export import micro  # noqa: E402
from edgemnist.fileio import sha256_bytes  # noqa: E402
from edgemnist.tflm import arena as tflm_arena  # noqa: E402
from edgemnist.tflm import reader, runner, writer  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "micro" / "main.cc"


@pytest.fixture(scope="module")
def exported(export_artifact):
    return export_artifact("micro")


@pytest.fixture(scope="module")
def model_bytes(exported) -> bytes:
    return reader.parse_c_array(exported.path.read_text())


def test_manifest_states_arena_flash_and_tflm_accuracy(exported, model_bytes):
    m = exported.manifest
    assert exported.path.name == "model_data.cc" and m["format"] == "micro"
    assert m["quantization"] == "int8" and m["io"] == "int8"
    assert m["input"]["dtype"] == m["output"]["dtype"] == "int8"
    assert m["input"]["zero_point"] == -128 and m["input"]["scale"] == pytest.approx(1 / 255, rel=1e-6)
    facts = m["micro"]
    assert facts["flash_bytes"] == len(model_bytes) and facts["tflite_sha256"] == sha256_bytes(model_bytes)
    assert facts["arena_alignment"] == tflm_arena.ARENA_ALIGNMENT == 16
    arena, least = facts["arena_bytes"], facts["arena_min_bytes"]
    assert arena % 16 == 0 and 0 <= arena - least < 16
    assert 1024 < arena < 64 * 1024  # activations of 784 -> 512 -> 10 plus TFLM bookkeeping; weights stay in flash
    assert facts["header"]["file"] == "model_data.h"
    # Every one of the 10,000 test images, in the TFLM interpreter, at exactly the stated arena.
    tflm = facts["tflm"]
    assert tflm["n"] == 10000 and tflm["arena_bytes"] == arena
    assert tflm["accuracy"] >= spec.accuracy_floor() > 0.97
    assert tflm["accuracy"] == pytest.approx(m["verification"]["accuracy"])  # through the Predictor, same answer
    assert tflm["litert"]["agreement"] >= micro.MIN_LITERT_AGREEMENT
    assert tflm["litert"]["identical_outputs"] > 0.99
    assert m["verification"]["passed"] and m["verification"]["n"] == 10000


def test_header_states_what_the_manifest_says(exported, model_bytes):
    header = exported.path.with_name("model_data.h").read_text()
    facts = exported.manifest["micro"]
    assert f"constexpr std::size_t kEdgemnistTensorArenaSize = {facts['arena_bytes']};" in header
    assert "constexpr int kEdgemnistInputZeroPoint = -128;" in header
    assert sha256_bytes(model_bytes) in header and exported.manifest["source"]["sha256"] in header
    source = exported.path.read_text()
    assert "alignas(16) const unsigned char g_edgemnist_model_data[]" in source
    assert f"const unsigned int g_edgemnist_model_data_len = {len(model_bytes)};" in source


def test_array_is_the_int8_tflite_byte_for_byte(export_artifact, model_bytes):
    tflite = export_artifact("tflite", "int8", io="int8")
    assert tflite.path.read_bytes() == model_bytes


@requires("g++")
def test_generated_source_compiles_links_and_holds_the_bytes(exported, model_bytes, tmp_path):
    main = tmp_path / "main.cc"
    main.write_text(
        '#include <cstdio>\n#include "model_data.h"\n'
        'static_assert(kEdgemnistTensorArenaSize % kEdgemnistTensorArenaAlignment == 0, "aligned arena");\n'
        'static_assert(kEdgemnistInputSize == 784 && kEdgemnistNumClasses == 10, "shapes");\n'
        "int main() {\n"
        '  std::printf("%u %zu %d\\n", g_edgemnist_model_data_len, kEdgemnistTensorArenaSize,\n'
        "              static_cast<int>(reinterpret_cast<unsigned long>(g_edgemnist_model_data) % 16));\n"
        "  std::fwrite(g_edgemnist_model_data, 1, g_edgemnist_model_data_len, stdout);\n"
        "}\n"
    )
    obj = tmp_path / "model_data.o"
    include = f"-I{exported.path.parent}"
    subprocess.run(
        ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-c", str(exported.path), "-o", str(obj)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["g++", "-std=c++17", "-Wall", "-Werror", include, str(main), str(obj), "-o", str(tmp_path / "t")],
        check=True,
        capture_output=True,
    )
    out = subprocess.run([str(tmp_path / "t")], check=True, capture_output=True).stdout
    first, _, data = out.partition(b"\n")
    length, arena, misalignment = (int(v) for v in first.split())
    assert length == len(model_bytes) == exported.manifest["micro"]["flash_bytes"]
    assert arena == exported.manifest["micro"]["arena_bytes"]
    assert misalignment == 0
    assert data == model_bytes


def test_smaller_arena_fails_and_the_stated_one_runs(exported, model_bytes):
    facts = exported.manifest["micro"]
    least, arena = facts["arena_min_bytes"], facts["arena_bytes"]
    assert tflm_arena.arena_fits(model_bytes, arena)
    assert tflm_arena.arena_fits(model_bytes, least)
    assert not tflm_arena.arena_fits(model_bytes, least - 1)
    assert not tflm_arena.arena_fits(model_bytes, arena - tflm_arena.ARENA_ALIGNMENT)
    # TFLM's own allocation report undercounts: sizing the arena from it would fail on the board.
    recorded = tflm_arena.recorded_arena_bytes(model_bytes, arena)
    assert recorded is not None and recorded < least


def test_predictor_on_the_cc_matches_litert_int8(exported, export_artifact, mnist):
    from edgemnist.predictor import Predictor

    tflite = export_artifact("tflite", "int8", io="int8")
    images, labels = mnist.test_images[:300], mnist.test_labels[:300]
    p = Predictor.load(exported.path)
    assert (p.format, p.quantization, p.backend.runtime) == ("micro", "int8", "TFLite Micro")
    assert p.backend.details()["arena_bytes"] == exported.manifest["micro"]["arena_bytes"]
    ref = Predictor.load(tflite.path)
    raw = p.backend.run(runner.quantize_pixels(images))
    raw_ref = ref.backend.run(runner.quantize_pixels(images))
    assert raw.dtype == np.int8 and raw.shape == (300, 10)
    assert np.mean((raw == raw_ref).all(axis=1)) > 0.98
    proba, proba_ref = p.predict_proba(images), ref.predict_proba(images)
    np.testing.assert_array_equal(proba.argmax(1), proba_ref.argmax(1))
    assert np.abs(proba - proba_ref).max() <= 16 / 256
    assert np.mean(p.predict(images).labels == labels) > 0.95
    # One image, and floats in [0, 1], give the same answer as the batch.
    np.testing.assert_array_equal(p.predict_proba(images[7]), proba[7:8])
    np.testing.assert_array_equal(p.predict_proba(images[:5].astype(np.float32) / 255), proba[:5])


def test_predictor_is_thread_safe(exported, mnist):
    from edgemnist.predictor import Predictor

    p = Predictor.load(exported.path)
    images = mnist.test_images[:40]
    expected = p.predict_proba(images)
    results, errors = [None] * 4, []

    def work(i):
        try:
            results[i] = p.predict_proba(images)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_device_path_imports_no_tensorflow(exported):
    code = (
        "import sys, numpy as np\n"
        "from edgemnist.predictor import Predictor\n"
        f"p = Predictor.load({str(exported.path)!r})\n"
        "p.predict(np.zeros((2, 28, 28), np.uint8))\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'ai_edge_litert') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == ""


def test_lone_cc_without_header_measures_its_arena(exported, tmp_path, mnist):
    from edgemnist.predictor import Predictor

    lone = tmp_path / "model_data.cc"
    shutil.copy(exported.path, lone)
    p = Predictor.load(lone)  # no manifest, no header: the backend bisects the arena itself
    assert p.backend.details()["arena_from"] == "measured at load"
    assert p.backend.details()["arena_bytes"] == exported.manifest["micro"]["arena_bytes"]
    assert p.predict(mnist.test_images[:1]).labels[0] == mnist.test_labels[0]


def test_header_of_another_model_is_not_trusted(exported, tmp_path):
    shutil.copy(exported.path, tmp_path / "model_data.cc")
    header = exported.path.with_name("model_data.h").read_text()
    sha = exported.manifest["micro"]["tflite_sha256"]
    (tmp_path / "model_data.h").write_text(header.replace(sha, "0" * 64))
    assert reader.read_micro(tmp_path / "model_data.cc").arena_bytes == 0
    (tmp_path / "model_data.h").write_text(header)
    assert reader.read_micro(tmp_path / "model_data.cc").arena_bytes == exported.manifest["micro"]["arena_bytes"]


def test_parse_c_array_round_trip_and_bad_input():
    data = bytes(range(256)) + b"\x00\xff" * 7
    text = writer.render_source(data, source_sha256=None)
    assert reader.parse_c_array(text) == data
    with pytest.raises(ArtifactError, match="no array"):
        reader.parse_c_array("int x = 1;")
    with pytest.raises(ArtifactError, match="0xzz"):
        reader.parse_c_array(text.replace("0x00,", "0xzz,", 1))
    with pytest.raises(ArtifactError, match="says"):
        reader.parse_c_array(text.replace(f"= {len(data)};", f"= {len(data) + 1};"))


def test_read_micro_refuses_what_is_not_a_model(tmp_path):
    fake = tmp_path / "model_data.cc"
    fake.write_text(writer.render_source(b"not a flatbuffer", source_sha256=None))
    with pytest.raises(ArtifactError, match="TFL3"):
        reader.read_micro(fake)
    (tmp_path / "empty.cc").write_text("// nothing\n")
    with pytest.raises(ArtifactError, match="no array"):
        reader.read_micro(tmp_path / "empty.cc")


def test_export_micro_rejects_bad_arguments(tmp_path):
    from edgemnist.export import ExportConfig

    config = ExportConfig(format="micro")
    with pytest.raises(ConfigError, match=r"\.cc"):
        micro.export_micro(None, tmp_path / "model.tflite", config, calibration=object())
    with pytest.raises(ConfigError, match="calibration"):
        micro.export_micro(None, tmp_path / "model_data.cc", config, calibration=None)
    with pytest.raises(ConfigError, match="io"):
        ExportConfig(format="micro", io="float")


def test_example_uses_the_generated_header_and_its_digit_is_a_seven(exported):
    from edgemnist.predictor import Predictor

    example = EXAMPLE.read_text()
    header = exported.path.with_name("model_data.h").read_text()
    used = set(re.findall(r"\b(kEdgemnist\w+|g_edgemnist\w+)\b", example))
    assert used and all(re.search(rf"\b{name}\b", header) for name in used)
    assert '#include "model_data.h"' in example
    rows = re.findall(r'^\s+"([.#+]{28})",', example, re.MULTILINE)
    assert len(rows) == 28
    digit = np.array([[{"#": 255, "+": 128, ".": 0}[c] for c in row] for row in rows], np.uint8)
    assert Predictor.load(exported.path).predict(digit).labels[0] == 7
