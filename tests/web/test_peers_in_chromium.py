"""`benchmarks/browser.py --peers` end to end on a few images: edgemnist's page, onnxruntime-web, LiteRT.js and
tfjs-tflite from the pinned npm packages in one headless Chromium, served from 127.0.0.1; and the batch-1 copy of
a .tflite that the script serves to runtimes that refuse a dynamic batch dimension."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from toolchains import PEERS_LOCK, requires

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "bench_peers_" + __name__.replace(".", "_"), REPO / "benchmarks" / "_peers.py"
)
_peers = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))  # dataclasses look it up
_spec.loader.exec_module(_peers)

IMAGES = 24


@pytest.fixture(scope="module")
def artifacts(export_artifact, model_path, tmp_path_factory):
    """A folder with what --peers serves: the session's int8 .tflite (both I/O), int8 .onnx and web folder."""
    requires("host", "wasm32")
    folder = tmp_path_factory.mktemp("peers-artifacts")
    export_artifact("c")
    results = [export_artifact("tflite", "int8", "int8"), export_artifact("tflite", "int8", "float")]
    results.append(export_artifact("onnx", "int8"))
    for r in results:
        shutil.copyfile(r.path, folder / r.path.name)
        shutil.copyfile(f"{r.path}.json", folder / f"{r.path.name}.json")
    shutil.copytree(export_artifact("web").path.parent, folder / "web")
    shutil.copyfile(model_path, folder / model_path.name)
    return folder


@requires("ai_edge_litert")
def test_batch1_copy_changes_only_the_dynamic_dimension(int8_path):
    from ai_edge_litert.interpreter import Interpreter

    from edgemnist.modelfacts import parse_facts

    data = int8_path.read_bytes()
    fixed = _peers.fixed_batch(data, str(int8_path))
    diff = np.flatnonzero(np.frombuffer(data, np.uint8) != np.frombuffer(fixed, np.uint8))
    assert len(fixed) == len(data) and 0 < len(diff) <= 4 * 4  # a few int32 -1 -> 1, nothing else
    assert parse_facts(fixed, "fixed").tensors == parse_facts(data, "data").tensors  # shapes, weights as they were

    def run(model: bytes):
        ip = Interpreter(model_content=model, num_threads=1)
        ip.allocate_tensors()
        i, o = ip.get_input_details()[0], ip.get_output_details()[0]
        x = np.arange(784, dtype=np.int16).reshape(1, 784) % 256 - 128
        ip.set_tensor(i["index"], x.astype(np.int8))
        ip.invoke()
        return list(i["shape_signature"]), ip.get_tensor(o["index"]).copy()

    (sig_a, out_a), (sig_b, out_b) = run(data), run(fixed)
    assert sig_a == [-1, 784] and sig_b == [1, 784]
    np.testing.assert_array_equal(out_a, out_b)


@requires("npm", "chromium", "playwright", PEERS_LOCK)
def test_peers_in_one_chromium(artifacts, data_dir, tmp_path):
    cache = _peers.DEFAULT_CACHE
    assert _peers.cache_ready(cache), (
        f"{cache}: not the pinned packages; run python benchmarks/browser.py --peers --install-only"
    )
    out = tmp_path / "out"
    argv = [sys.executable, str(REPO / "benchmarks" / "browser.py"), "--peers", "--no-install", "--artifacts",
            str(artifacts), "--out", str(out), "--data-dir", str(data_dir), "--images", str(IMAGES), "--runs", "1",
            "--warmup", "5"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((out / "browser_peers.json").read_text())
    assert record["schema"] == _peers.SCHEMA and record["npm"]["packages"] == _peers.pinned()
    assert json.loads((out / "browser_peers.package-lock.json").read_text())["packages"]
    rows = record["runtimes"]
    assert {r["runtime"] for r in rows} == {"edgemnist", *(p.name for p in _peers.PEERS)}
    measured = [r for r in rows if not r.get("error")]
    # every runtime ends on one measured row, after the failures that came before it (each with its reason)
    assert sorted(r["runtime"] for r in measured) == sorted({r["runtime"] for r in rows})
    for r in rows:
        if r.get("error"):
            assert r["error"].strip() and r["runtime"] != "edgemnist"
            continue
        assert r["cold"]["total_bytes"] > r["cold"]["body_bytes"] > 0 and r["cold"]["first_prediction_ms"][0] > 0
        assert r["latency"]["calls"] == IMAGES and r["latency"]["p50_us"] is not None
        assert r["agreement"]["images"] == IMAGES and r["agreement"]["agree"] >= IMAGES - 1, r
        assert all(u.startswith("/") for u in r["cold"]["urls"])  # everything from the one 127.0.0.1 server
    edgemnist = next(r for r in rows if r["runtime"] == "edgemnist")
    assert edgemnist["agreement"]["agree"] == IMAGES  # the same integer math as TFLite on the host
    md = (out / "browser_peers.md").read_text()
    assert all(f"| {r['runtime']} |" in md for r in rows)
