"""edgemnist bench MODEL.keras --weight-bits: every int8 target exported at 8 and 4 bits from the session's model,
measured in its own runtime and on the emulated Cortex-M4, tabulated on stdout, in JSON, Markdown and a PNG;
bad flags exit 2 with one line before anything is exported."""

from __future__ import annotations

import json
import shutil

import pytest
from clirun import run_cli
from toolchains import imported, requires

imported("tensorflow")

from edgemnist.manifest import manifest_path, read_manifest  # noqa: E402


@pytest.fixture(scope="module")
def keras_copy(model_path, tmp_path_factory):
    """The session's model and its training manifest in a folder of their own (weight-bits/ lands beside)."""
    folder = tmp_path_factory.mktemp("weight-bits-bench")
    for p in (model_path, manifest_path(model_path)):
        shutil.copy(p, folder / p.name)
    return folder / model_path.name


@pytest.mark.parametrize(
    "extra,models,words",
    [
        (["--weight-bits", "3"], None, "expected comma-separated widths"),
        (["--weight-bits", "4", "--target", "cortex-m4"], None, "leave out --target"),
        (["--weight-bits", "4", "--images", "10001"], None, "the test set has 10000 images"),
        (["--weight-bits", "4"], ["model.tflite"], "from one .keras model"),
        (["--weight-bits", "4"], ["missing.keras"], "no such file"),
        (["--weight-bits", "4", "--threads", "2", "--no-keras"], None, "leave out --threads, --no-keras"),
    ],
)
def test_bench_weight_bits_bad_flags_exit_2_with_one_line(extra, models, words, keras_copy, tmp_path, capsys):
    """(Before the run below: nothing may have been exported beside the model.)"""
    paths = [str(keras_copy)] if models is None else [str(tmp_path / m) for m in models]
    rc, _, err = run_cli(["bench", *paths, *extra], capsys)
    assert rc == 2 and err.startswith("error: ") and words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "weight-bits").exists() and not (keras_copy.parent / "weight-bits").exists()


@requires("host", "cortex-m4", "wasm32", "tflite_micro")
def test_bench_weight_bits_exports_measures_and_tabulates(keras_copy, data_dir, tmp_path, capsys):
    from edgemnist.bench.weight_bits import TARGETS

    out = {k: tmp_path / f"wb.{k}" for k in ("json", "md", "png")}
    argv = ["bench", str(keras_copy), "--weight-bits", "4", "--images", "20", "--data-dir", str(data_dir)]
    argv += ["--json", str(out["json"]), "--markdown", str(out["md"]), "--plot", str(out["png"])]
    rc, stdout, err = run_cli(argv, capsys)
    assert rc == 0, err
    report = json.loads(out["json"].read_text(encoding="utf-8"))
    rows = report["rows"]
    want = [(b, label) for b in (8, 4) for label, _, packed in TARGETS if not (packed and b == 8)]
    assert [(r["bits"], r["target"]) for r in rows] == want
    folder = keras_copy.parent / "weight-bits"
    by = {(r["bits"], r["target"]): r for r in rows}
    for r in rows:
        artifact = folder / r["artifact"]
        manifest = read_manifest(artifact, required=True)
        assert manifest["verification"]["passed"] and manifest["artifact"]["sha256"] == r["sha256"]
        assert manifest["export"]["config"]["weight_bits"] == r["bits"]
        # The same 10,000 images the export's gate measured, through the Predictor in the artifact's runtime.
        assert r["accuracy"] == pytest.approx(manifest["verification"]["accuracy"], abs=1e-9)
        if r["format"] in ("tflite", "onnx"):
            assert r["stored_bytes"] == artifact.stat().st_size
    assert by[(8, "tflite int8")]["agreement_with_8bit"] == 1.0
    assert 0.99 <= by[(4, "c (C kernel)")]["agreement_with_8bit"] < 1.0
    for fmt in ("tflite", "onnx"):
        packed, container = by[(4, f"{fmt} int8, packed")], by[(4, f"{fmt} int8")]
        assert packed["stored_bytes"] < 0.6 * container["stored_bytes"]
        assert packed["agreement_with_8bit"] == pytest.approx(container["agreement_with_8bit"], abs=1e-3)
    m8, m4 = by[(8, "c (C kernel)")]["cortex_m4"], by[(4, "c (C kernel)")]["cortex_m4"]
    assert m8["images"] == m4["images"] == 20 and m8["differing_bytes_vs_host"] == m4["differing_bytes_vs_host"] == 0
    assert m4["text_bytes"] < 0.6 * m8["text_bytes"] and m4["instructions_per_inference"] > 0
    assert all("cortex_m4" not in r for r in rows if r["format"] != "c")
    assert by[(4, "web (WebAssembly page)")]["stored_bytes"] < by[(8, "web (WebAssembly page)")]["stored_bytes"]
    # Terminal, Markdown and plot say the same.
    assert "vs 8-bit" in stdout and f"{m4['instructions_per_inference']:,.0f}" in stdout
    md = out["md"].read_text(encoding="utf-8")
    assert sum(line.startswith("| 8 |") or line.startswith("| 4 |") for line in md.splitlines()) == len(rows)
    assert out["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(len(line) <= 100 for line in stdout.splitlines())
