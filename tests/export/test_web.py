"""Format "web" end to end: `edgemnist export --format web` (the folder, the manifest's gate figures), then
`evaluate`, `predict`, `info`, `bench` on the wasm in wasmtime, `edgemnist serve` on the folder, and the wasm
build itself (deterministic, no imports, a kernel that needs libc refused)."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from toolchains import requires

from edgemnist.build import compile, targets, wasmfile
from edgemnist.cli import main
from edgemnist.errors import ArtifactError
from edgemnist.web import site


@pytest.fixture(scope="module")
def web_export(export_artifact):
    requires("host", "wasm32", "wasmtime")
    export_artifact("c")  # first: the web export then builds from this very C (the host reference below)
    return export_artifact("web")


def test_export_writes_the_folder_and_records_zero_differing_bytes(web_export, export_artifact):
    folder = web_export.path.parent
    assert web_export.path.name == "edgemnist_model.wasm" and folder.name == "web"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [
            "edgemnist_model.wasm",
            "edgemnist_model.scalar.wasm",
            "edgemnist_model.wasm.json",
            "index.html",
            "edgemnist.js",
        ]
    )
    m = web_export.manifest
    assert m["format"] == "web" and m["quantization"] == "int8" and m["verification"]["passed"]
    web = m["web"]
    assert web["n"] == 10000
    for name in ("simd", "scalar"):
        assert web["wasm"][name]["imports"] == [] and "missing_exports" not in web["wasm"][name]
        assert web[f"wasmtime_{name}"]["differing_bytes"] == 0
    c = export_artifact("c")
    assert web["kernel"]["sha256"] == c.manifest["artifact"]["sha256"]
    assert web["wasmtime_simd"]["accuracy"] == m["verification"]["accuracy"] == c.manifest["verification"]["accuracy"]
    assert web["wasm"]["simd"]["sha256"] == m["artifact"]["sha256"]
    requires("chromium", "playwright")
    chromium = web["chromium"]
    assert chromium["ran"] is True
    assert chromium["simd"] == {"differing_bytes": 0, "kernel_path": "wasm-simd128"}
    assert chromium["scalar"] == {"differing_bytes": 0, "kernel_path": "portable"}


def test_predictor_on_the_wasm_equals_the_host_c(web_export, export_artifact, mnist):
    from edgemnist.build.host import HostKernel
    from edgemnist.predictor import Predictor

    x = mnist.test_images[:2000]
    with Predictor.load(web_export.path) as p:
        assert (p.input.dtype, p.input.zero_point, p.output.dtype, p.output.zero_point) == ("int8", -128, "int8", -128)
        proba = p.predict_proba(x)
        labels = np.asarray(p.predict(x).labels)
    scores, digits = HostKernel(export_artifact("c").path).run(x.reshape(-1, 784))
    assert np.array_equal(proba, (scores.astype(np.float32) + 128) / 256)
    assert np.array_equal(labels, digits)


def test_evaluate_predict_info_bench_on_the_wasm(web_export, data_dir, tmp_path, capsys):
    path = str(web_export.path)
    assert main(["evaluate", path, "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert f"{web_export.manifest['verification']['accuracy']:.2%}" in out and "PASS" in out
    from PIL import Image

    from edgemnist.data import load_mnist

    mn = load_mnist(data_dir)
    Image.fromarray(255 - mn.test_images[1]).save(tmp_path / "two.png")  # dark ink on light paper
    assert main(["predict", path, str(tmp_path / "two.png")]) == 0
    assert f"  {mn.test_labels[1]}  (" in capsys.readouterr().out
    assert main(["info", path]) == 0
    info = capsys.readouterr().out
    assert "wasmtime" in info and "wasm-simd128" in info
    assert (
        main(
            [
                "bench",
                path,
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
    assert "edgemnist_model.wasm" in capsys.readouterr().out


def test_a_changed_wasm_is_refused(web_export, tmp_path):
    import shutil

    from edgemnist.errors import ArtifactChangedError
    from edgemnist.predictor import Predictor

    folder = tmp_path / "web"
    shutil.copytree(web_export.path.parent, folder)
    wasm = folder / "edgemnist_model.wasm"
    data = bytearray(wasm.read_bytes())
    data[-100] ^= 1
    wasm.write_bytes(bytes(data))
    with pytest.raises(ArtifactChangedError, match="changed since export"):
        Predictor.load(wasm)


def test_serve_command_serves_the_folder_until_interrupted(web_export):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site.HERE.parents[1]), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgemnist", "serve", str(web_export.path.parent), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving ") and " at http://127.0.0.1:" in line, line
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for path, mime in [
            ("/", "text/html; charset=utf-8"),
            ("/edgemnist_model.wasm", "application/wasm"),
            ("/edgemnist.js", "text/javascript; charset=utf-8"),
        ]:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200 and resp.getheader("Content-Type") == mime and body
            assert resp.getheader("Cross-Origin-Embedder-Policy") == "require-corp"
        conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err


def test_wasm_build_is_deterministic_and_imports_nothing(export_artifact, tmp_path, monkeypatch):
    requires("wasm32")
    kernel = export_artifact("c").path
    monkeypatch.setenv("EDGEMNIST_CACHE_DIR", str(tmp_path / "cache-a"))  # two real compiles, not a cache hit
    a = site.build_modules(kernel, tmp_path / "a")
    monkeypatch.setenv("EDGEMNIST_CACHE_DIR", str(tmp_path / "cache-b"))
    b = site.build_modules(kernel, tmp_path / "b")
    assert compile.build("wasm32", kernel).cached  # the second cache now holds it
    for name in ("simd", "scalar"):
        data = a[name].read_bytes()
        assert data == b[name].read_bytes(), f"{name} build is not deterministic"
        module = wasmfile.inspect_module(data)
        assert module.imports == () and set(module.exports) >= {"memory", *targets.WASM_EXPORTS}
    assert a["simd"].read_bytes() != a["scalar"].read_bytes()


def test_a_kernel_that_needs_libc_is_refused(tmp_path):
    requires("wasm32")
    (tmp_path / "edgemnist_model.h").write_text(
        "#include <stdint.h>\n#define EDGEMNIST_INPUT_SIZE 784\n#define EDGEMNIST_OUTPUT_SIZE 10\n"
        "int edgemnist_predict(const uint8_t p[784], int8_t s[10]);\nconst char *edgemnist_path(void);\n"
    )
    (tmp_path / "edgemnist_model.c").write_text(
        '#include "edgemnist_model.h"\nvoid *memcpy(void *d, const void *s, unsigned long n);\n'
        "int edgemnist_predict(const uint8_t p[784], int8_t s[10]) { memcpy(s, p, 10); return 0; }\n"
        'const char *edgemnist_path(void) { return "portable"; }\n'
    )
    # A hand-written kernel is refused before clang runs (build.compile.verified_pair); the module's import check
    # behind it stays as a second line.
    with pytest.raises(ArtifactError, match="not an edgemnist-generated C kernel"):
        site.build_wasm(tmp_path / "edgemnist_model.c", tmp_path / "x.wasm", path="scalar")
    assert not (tmp_path / "x.wasm").exists()
