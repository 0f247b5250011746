"""Format "c" end to end: `edgemnist export --format c`, then `evaluate`, `predict`, `info`, `bench` on the C artifact,
through the CLI and the Predictor; the manifest's gate figures; a pair that does not belong together is refused."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from toolchains import requires

from edgemnist.bench.machine import cpu_model
from edgemnist.cli import main
from edgemnist.errors import ArtifactError
from edgemnist.manifest import read_manifest
from edgemnist.modelfacts import read_facts
from edgemnist.normalize import normalize_digit


@pytest.fixture(scope="module")
def c_export(export_artifact):
    requires("host", "tflite_micro")
    return export_artifact("c")


def test_export_records_zero_differing_bytes_against_tflm(c_export, export_artifact):
    m = c_export.manifest
    assert c_export.path.name == "edgemnist_model.c" and c_export.path.with_name("edgemnist_model.h").is_file()
    assert m["format"] == "c" and m["quantization"] == "int8" and m["io"] == "int8"
    c = m["c"]
    tflite = export_artifact("tflite", "int8")
    assert c["source"] == {"file": tflite.path.name, "sha256": tflite.manifest["artifact"]["sha256"]}
    host = c["host"]
    assert host["n"] == 10000 and host["tflm"]["differing_bytes"] == 0 and host["tflm"]["differing_images"] == 0
    assert host["accuracy"] == host["tflm_accuracy"] == m["verification"]["accuracy"]
    assert host["litert"]["top1_agreement"] >= 0.995  # recorded; a few bytes differ (single rounding in XNNPACK)
    assert m["verification"]["passed"] and m["verification"]["n"] == 10000
    assert m["input"]["zero_point"] == -128 and m["output"]["scale"] == 1 / 256
    assert c["header"]["file"] == "edgemnist_model.h" and len(c["header"]["sha256"]) == 64
    assert "tflite-micro" in m["tools"] or "edgemnist" in m["tools"]


def test_export_runs_the_cortex_m4_and_wasm_checks_when_the_toolchains_exist(c_export):
    requires("cortex-m4", "wasm32", "wasmtime")
    c = c_export.manifest["c"]
    for path in ("dsp", "portable"):
        run = c["cortex_m4"][path]
        assert run["differing_bytes_vs_host"] == 0 and run["images"] == c["cortex_m4"]["images"] >= 1000
        assert (
            run["sizes"]["ram_bytes"]
            == run["sizes"]["data_bytes"] + run["sizes"]["bss_bytes"] + run["stack_peak_bytes"]
        )
    assert (
        c["cortex_m4"]["dsp"]["instructions_per_inference"] < c["cortex_m4"]["portable"]["instructions_per_inference"]
    )
    assert c["wasm"] == {"path": "wasm-simd128", "images": 10000, "differing_bytes_vs_host": 0}


def test_evaluate_predict_info_on_the_c_artifact(c_export, export_artifact, data_dir, tmp_path, capsys):
    path = str(c_export.path)
    assert main(["evaluate", path, "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    tflm = c_export.manifest["c"]["host"]["tflm_accuracy"]
    assert f"accuracy {tflm:.2%} on 10000 test images" in out and "PASS" in out
    # The same answer as the int8 .tflite in TFLite Micro (the micro artifact's own gate measures that).
    micro = export_artifact("micro").manifest["micro"]["tflm"]["accuracy"]
    assert micro == tflm
    from PIL import Image

    from edgemnist.data import load_mnist

    mn = load_mnist(data_dir)
    Image.fromarray(mn.test_images[0]).save(tmp_path / "seven.png")
    assert main(["predict", path, str(tmp_path / "seven.png")]) == 0
    assert f"  {mn.test_labels[0]}  (" in capsys.readouterr().out
    assert main(["info", path]) == 0
    info = capsys.readouterr().out
    assert "edgemnist C kernel" in info and "matches the manifest" in info and "path=portable" in info


def test_predictor_on_the_c_artifact_equals_the_kernel(c_export, mnist):
    from edgemnist.build.host import HostKernel
    from edgemnist.predictor import Predictor

    x = mnist.test_images[:500]
    with Predictor.load(c_export.path) as p:
        assert p.input.dtype == "int8" and p.output.dtype == "int8"
        proba = p.predict_proba(x)
        digits = p.predict(x).labels
    scores, kernel_digits = HostKernel(c_export.path).run(x.reshape(-1, 784))
    assert np.allclose(proba, (scores.astype(np.float32) + 128) / 256)
    assert np.array_equal(np.asarray(digits), kernel_digits)


def test_bench_host_and_cortex_m4(c_export, export_artifact, data_dir, tmp_path, capsys):
    assert (
        main(
            [
                "bench",
                str(c_export.path),
                "--no-keras",
                "--min-time",
                "0.05",
                "--min-runs",
                "20",
                "--batch-sizes",
                "1",
                "--no-accuracy",
                "--data-dir",
                str(data_dir),
            ]
        )
        == 0
    )
    assert "edgemnist_model.c" in capsys.readouterr().out
    requires("cortex-m4")
    out = tmp_path / "m4.json"
    assert (
        main(
            [
                "bench",
                "--target",
                "cortex-m4",
                str(c_export.path),
                "--images",
                "100",
                "--json",
                str(out),
                "--data-dir",
                str(data_dir),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    assert report["images"] == 100 and set(report["paths"]) == {"dsp", "portable"}
    assert all(p["differing_bytes_vs_host"] == 0 for p in report["paths"].values())
    assert not {"tflm", "targets", "verdict"} & set(report)  # this kernel's own figures, no peer's, no targets
    facts = read_facts(export_artifact("tflite", "int8", "int8").path)  # the .tflite the kernel is generated from
    assert report["macs"] == facts.macs == sum(i * o for i, o in facts.dense_shapes) == 784 * 512 + 512 * 10
    assert report["machine"]["cpu"] == cpu_model()
    assert main(["bench", "--target", "cortex-m4", str(c_export.path.with_name("model.int8.tflite"))]) == 2
    assert "runs C artifacts" in capsys.readouterr().err


def test_a_pair_that_does_not_belong_together_is_refused(c_export, tmp_path):
    from edgemnist.predictor import Predictor

    lone = tmp_path / "lone" / "edgemnist_model.c"
    lone.parent.mkdir()
    shutil.copy(c_export.path, lone)
    with pytest.raises(ArtifactError, match="header edgemnist_model.h is missing"):
        Predictor.load(lone, check_hash=False, allow_unverified=True)
    header = c_export.path.with_name("edgemnist_model.h").read_text()
    sha = read_manifest(c_export.path)["c"]["source"]["sha256"]
    lone.with_name("edgemnist_model.h").write_text(header.replace(sha, "0" * 64))
    with pytest.raises(ArtifactError, match="generated from another model"):
        Predictor.load(lone, check_hash=False, allow_unverified=True)


def test_the_c_backend_imports_no_interpreter(c_export):
    """The device path on the C artifact: a C compiler and ctypes, no TensorFlow, Keras, LiteRT or TFLM."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from edgemnist.predictor import Predictor\n"
        f"p = Predictor.load({str(c_export.path)!r})\n"
        "p.predict(np.zeros((2, 28, 28), np.uint8))\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'ai_edge_litert', "
        "'tflite_micro'})\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_export_writes_the_preprocessing_pair_with_its_manifest_record(c_export, mnist):
    from edgemnist.build import preprocess

    folder = c_export.path.parent
    pp = c_export.manifest["c"]["preprocess"]
    for key, name in (("source", "edgemnist_preprocess.c"), ("header", "edgemnist_preprocess.h")):
        path = folder / name
        assert path.is_file() and path.read_text() == preprocess.texts()[name]
        assert pp[key] == {"file": name, "sha256": preprocess.sha256s()[name]}
    assert (pp["max_width"], pp["max_height"]) == preprocess.max_size()
    assert pp["return_codes"] == preprocess.RETURN_CODES
    assert pp["host"] == {
        "images": 2 * preprocess.CHECK_IMAGES,
        "differing_bytes_vs_python": 0,
        "differing_scores_vs_predict": 0,
    }
    m4 = pp["cortex_m4_compile"]
    if "skipped" not in m4:
        assert "-Werror" in m4["flags"] and m4["code_bytes"] > 0 and m4["bss_bytes"] > 0
        assert all(c.startswith("__aeabi_") or c == "edgemnist_predict" for c in m4["calls"])
    # The landed pair works as shipped: the C preprocessing of a camera frame predicts like the Python one.
    host_pp = preprocess.HostPreprocess(
        folder / "edgemnist_preprocess.c", folder / "edgemnist_preprocess.h", model_c=c_export.path
    )
    gray = preprocess.camera_frame(mnist.test_images[0], 200, 150, 4, np.random.default_rng(1))
    digit, _ = host_pp.predict_gray(gray)
    from edgemnist.build.host import HostKernel

    assert digit == int(np.argmax(HostKernel(c_export.path).run(normalize_digit(gray).reshape(1, -1))[0][0]))
