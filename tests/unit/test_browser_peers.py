"""The browser peers' bookkeeping (benchmarks/_peers.py): the pinned packages read back from a package-lock, the
agreement with the host, the table and the page, on outputs recorded from a real run."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "bench_peers_" + __name__.replace(".", "_"), REPO / "benchmarks" / "_peers.py"
)
_peers = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))  # dataclasses look it up
_spec.loader.exec_module(_peers)

#: Recorded from `python benchmarks/browser.py --peers --images 100 --runs 2 --warmup 20` (trimmed).
RECORD = {
    "schema": "edgemnist.browser_peers/1",
    "created": "2026-12-07T16:20:58+00:00",
    "command": "python benchmarks/browser.py --peers --images 100 --runs 2 --warmup 20",
    "machine": {"cpu": "AMD EPYC", "logical_cores": 2},
    "chromium": "Chromium 156.0.8078.129",
    "playwright": "1.65.3",
    "timer_step_us": 5.0,
    "loadavg_before": [3.58, 3.1, 2.9],
    "loadavg_after": [6.91, 4.0, 3.1],
    "foreign_load": {"foreign_cores": 0.84},
    "runs": 2,
    "warmup": 20,
    "npm": {
        "npm": "11.19.1",
        "packages": {
            "onnxruntime-web": "1.31.1",
            "@litertjs/core": "2.5.3",
            "@tensorflow/tfjs-tflite": "0.0.1-alpha.10",
            "@tensorflow/tfjs-core": "4.9.0",
            "@tensorflow/tfjs-backend-cpu": "4.9.0",
        },
        "lock_sha256": "55da4c69d34eb37a4277fafca6b55311244f1b6bab099cb5b1ffae629495c20b",
    },
    "lock_file": "benchmarks/results/browser_peers.package-lock.json",
    "reference": {
        "name": "LiteRT on the host",
        "how": "`model.int8.tflite` through `Predictor` on ai-edge-litert 2.3.0",
        "artifact": "model.int8.tflite",
        "images": 100,
    },
    "runtimes": [
        {
            "runtime": "edgemnist",
            "version": "0.1.0",
            "artifact": "edgemnist_model.wasm",
            "changed": None,
            "cold": {
                "files": 4,
                "body_bytes": 448003,
                "total_bytes": 449121,
                "runs": 2,
                "first_prediction_ms": [243.835, 153.695],
                "first_prediction_ms_median": 198.765,
            },
            "latency": {"calls": 100, "p50_us": 35.0, "p99_us": 120.0, "loop_mean_us": 34.8},
            "agreement": {"images": 100, "agree": 100, "agreement": 1.0, "accuracy": 1.0},
        },
        {
            "runtime": "LiteRT.js",
            "version": "2.5.3",
            "artifact": "model.int8.tflite",
            "changed": None,
            "error": "Element type INT8 is not supported.",
        },
        {
            "runtime": "LiteRT.js",
            "version": "2.5.3",
            "artifact": "model.int8-floatio.batch1.tflite",
            "changed": "float I/O, batch 1",
            "cold": {
                "files": 8,
                "body_bytes": 10122482,
                "total_bytes": 10124758,
                "runs": 2,
                "first_prediction_ms": [670.84, 665.675],
                "first_prediction_ms_median": 668.2575,
            },
            "latency": {"calls": 100, "p50_us": 100.0, "p99_us": 2620.0, "loop_mean_us": 267.65},
            "agreement": {"images": 100, "agree": 99, "agreement": 0.99, "accuracy": 0.98},
        },
    ],
}

#: The part of a package-lock.json (lockfileVersion 3) that names the installed packages.
LOCK = {
    "name": "edgemnist-browser-peers",
    "lockfileVersion": 3,
    "packages": {
        "": {"dependencies": {}},
        "node_modules/onnxruntime-web": {"version": "1.31.1"},
        "node_modules/@litertjs/core": {"version": "2.5.3"},
        "node_modules/@litertjs/wasm-utils": {"version": "2.5.3"},
        "node_modules/@tensorflow/tfjs-tflite": {"version": "0.0.1-alpha.10"},
        "node_modules/@tensorflow/tfjs-core": {"version": "4.9.0"},
        "node_modules/@tensorflow/tfjs-backend-cpu": {"version": "4.9.0"},
    },
}


def test_every_package_is_pinned_to_an_exact_version():
    pins = _peers.pinned()
    assert set(pins) >= {"onnxruntime-web", "@litertjs/core", "@tensorflow/tfjs-tflite", "@tensorflow/tfjs-core"}
    assert all(v and v[0].isdigit() and not set(v) & set("^~*<>= ") for v in pins.values()), pins
    assert _peers.package_json()["dependencies"] == dict(sorted(pins.items()))


def test_the_lock_is_read_back_and_a_drifted_version_is_named():
    assert _peers.installed(LOCK) == _peers.pinned() and _peers.lock_problems(LOCK) == []
    drifted = copy.deepcopy(LOCK)
    drifted["packages"]["node_modules/@tensorflow/tfjs-core"]["version"] = "4.22.0"
    del drifted["packages"]["node_modules/onnxruntime-web"]
    problems = _peers.lock_problems(drifted)
    assert problems == ["onnxruntime-web missing (pinned 1.31.1)", "@tensorflow/tfjs-core 4.22.0 (pinned 4.9.0)"]
    with pytest.raises(ValueError, match="packages"):
        _peers.installed({"lockfileVersion": 1, "dependencies": {}})


def test_a_cache_without_the_pins_is_not_ready(tmp_path):
    assert not _peers.cache_ready(tmp_path)
    (tmp_path / "package-lock.json").write_text(json.dumps(LOCK))
    assert not _peers.cache_ready(tmp_path)  # the lock alone: node_modules is missing
    for name in _peers.pinned():
        (tmp_path / "node_modules" / name).mkdir(parents=True)
        (tmp_path / "node_modules" / name / "package.json").write_text("{}")
    assert _peers.cache_ready(tmp_path)
    (tmp_path / "package-lock.json").write_text("{not json")
    assert not _peers.cache_ready(tmp_path)


def test_agreement_counts_labels_against_the_host_and_the_truth():
    got = _peers.agreement([1, 2, 3, 4], [1, 2, 0, 4], [1, 0, 3, 4])
    assert got == {"images": 4, "agree": 3, "agreement": 0.75, "accuracy": 0.75}
    with pytest.raises(ValueError, match="as many labels"):
        _peers.agreement([1, 2], [1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError):
        _peers.agreement([], [], [])


def test_page_bytes_adds_bodies_and_headers():
    files = [{"url": "/a", "body": 100, "headers": 20}, {"url": "/b", "body": 5, "headers": 7}]
    assert _peers.page_bytes(files) == {"files": 2, "body_bytes": 105, "total_bytes": 132}


def test_the_table_lists_failures_and_divides_by_edgemnist_in_the_same_run():
    header, rows = _peers.table(RECORD)
    assert len(rows) == 3 and all(len(r) == len(header) for r in rows)
    edgemnist, failed, litert = rows
    assert edgemnist[:3] == ["edgemnist", "0.1.0", "`edgemnist_model.wasm`"] and edgemnist[8] == "-"
    assert failed[3] == "**fails to load**: Element type INT8 is not supported." and failed[4:] == [""] * 6
    assert litert[2] == "`model.int8-floatio.batch1.tflite` (float I/O, batch 1)"
    assert litert[3] == "10,124,758 B (8 files)" and litert[4] == "668 ms"
    assert litert[5:9] == ["100", "2620", "268", f"{100 / 35:.1f}×"]
    assert litert[9] == "99/100 (99.00%)"
    assert "LiteRT on the host" in header[-1]


def test_without_an_edgemnist_row_there_is_no_ratio():
    record = copy.deepcopy(RECORD)
    record["runtimes"] = record["runtimes"][1:]
    assert _peers.table(record)[1][1][8] == "-"


def test_the_markdown_says_what_was_measured_and_how():
    md = _peers.markdown(RECORD)
    assert md.startswith("## Browser runtimes side by side\n")
    for needle in ("Chromium 156.0.8078.129", "onnxruntime-web 1.31.1", "55da4c69d34e", RECORD["command"]):
        assert needle in md
    assert "*batch 1*:" in md and "*float I/O*:" in md  # the legend of what changed


def test_every_change_named_by_an_attempt_is_explained():
    for peer in _peers.PEERS:
        for attempt in peer.attempts:
            for part in filter(None, (attempt.changed or "").split(", ")):
                assert part in _peers.CHANGES, (peer.name, part)
        assert peer.attempts[0].changed is None  # first as exported
    assert _peers.TFLITE_ATTEMPTS[1].served == "model.int8.batch1.tflite"


def test_the_page_escapes_its_config():
    peer = next(p for p in _peers.PEERS if p.importmap)
    html = _peers.page(peer, {"runtime": peer.name, "model": "./x</script><b>.tflite", "input": {"dtype": "int8"}})
    assert "</script><b>" not in html and "\\u003c/script>" in html
    assert '<script type="importmap">' in html and html.index("importmap") < html.index('id="config"')
