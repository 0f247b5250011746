"""`edgemnist bench`'s host peers: the bare C timing driver's output parsed, and the table beside LiteRT, ONNX
Runtime and the TFLite Micro interpreter, on outputs recorded from a real run."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from edgemnist.bench.render import host_peers_footer, host_peers_table, markdown
from edgemnist.build.host import parse_timing_output
from edgemnist.errors import ArtifactError

REPO = Path(__file__).resolve().parents[2]
#: The first lines `timing_main` printed for 4 MNIST test images ("<ns> <label>").
DRIVER_OUTPUT = "142961 7\n142511 2\n141830 1\n175540 0\n"


def test_the_driver_output_is_parsed_into_times_and_labels():
    ns, labels = parse_timing_output(DRIVER_OUTPUT, 4)
    assert ns.tolist() == [142961, 142511, 141830, 175540] and labels.tolist() == [7, 2, 1, 0]
    assert ns.dtype == np.int64


@pytest.mark.parametrize(
    "text",
    [
        "142961 7\n142511 2\n",
        "142961 7\n142511 2\n141830 1\n175540 x\n",
        "1 7\n2 2\n3 1\n-4 0\n",
        "1 7\n2 2\n3 1\n4 10\n",
    ],
)
def test_anything_else_from_the_driver_is_an_artifact_error(text):
    with pytest.raises(ArtifactError, match="timing driver"):
        parse_timing_output(text, 4)


def _artifact(name, fmt, load, first, raw_load, raw_first, pred, raw, native=None):
    return {
        "name": name,
        "format": fmt,
        "quantization": "int8",
        "load_ms": load,
        "first_inference_ms": first,
        "raw_load_ms": raw_load,
        "raw_first_inference_ms": raw_first,
        "native": native,
        "measurements": [
            {"subject": "predictor", "batch": 1, "latency_ms": {"p50": pred[0], "p99": pred[1]}},
            {"subject": "raw", "batch": 1, "latency_ms": {"p50": raw[0], "p99": raw[1]}},
        ],
    }


NATIVE = {
    "method": "edgemnist_predict per image, clock_gettime around each call (timing_main.c)",
    "images": 2000,
    "warmup": 50,
    "latency_ms": {"runs": 2000, "p50": 0.142511, "p99": 28.23947},
    "agreement": 1.0,
    "interleaved": False,
}
#: Recorded from `edgemnist bench edgemnist_model.c model.int8.tflite model.int8.onnx model_data.cc` (trimmed).
REPORT = {
    "artifacts": [
        _artifact("edgemnist_model.c", "c", 2200.7, 0.318, 2001.7, 0.262, (0.189271, 32.3), (0.181359, 28.3), NATIVE),
        _artifact("model.int8.tflite", "tflite", 35.05, 0.063, 0.6175, 0.0876, (0.0067, 0.0131), (0.005398, 0.0105)),
        _artifact("model.int8.onnx", "onnx", 56.67, 0.556, 27.45, 0.258, (0.015733, 0.144), (0.01318, 0.0317)),
        _artifact("model_data.cc", "micro", 771.3, 0.304, 934.5, 0.335, (0.268217, 32.5), (0.259956, 28.4)),
    ]
}


def test_the_host_peers_table_divides_by_the_bare_c_loop():
    header, rows = host_peers_table(REPORT)
    assert header[:2] == ["runtime", "artifact"] and "× bare C p50" in header
    names = [r[0] for r in rows]
    assert names == [
        "C kernel, bare C loop",
        "C kernel, Predictor",
        "LiteRT, raw",
        "ONNX Runtime, raw",
        "TFLite Micro (tflite-micro Python interpreter), raw",
    ]
    by = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    assert by["C kernel, bare C loop"]["× bare C p50"] == "1.00" and by["C kernel, bare C loop"]["load ms"] == "-"
    assert by["C kernel, Predictor"]["× bare C p50"] == f"{0.189271 / 0.142511:.2f}"
    assert by["LiteRT, raw"]["p50 ms"] == "0.005" and by["LiteRT, raw"]["load ms"] == "0.618"
    assert by["TFLite Micro (tflite-micro Python interpreter), raw"]["× bare C p50"] == f"{0.259956 / 0.142511:.2f}"
    assert by["ONNX Runtime, raw"]["1st inference ms"] == "0.258"


def test_no_host_peers_without_a_natively_timed_c_kernel():
    report = copy.deepcopy(REPORT)
    report["artifacts"][0]["native"] = None
    assert host_peers_table(report) is None and host_peers_footer(report) == ""


def test_the_footer_says_how_the_bare_loop_was_timed():
    line = host_peers_footer(REPORT)
    assert "timing_main.c" in line and "2,000 test images" in line and "100.00%" in line
    assert "cold_start.py" in line  # where fresh-process start-up is measured


def test_the_markdown_report_has_the_host_peers():
    """A recorded sweep report (benchmarks/results/sweep.json) with its C kernel timed natively."""
    sweep = json.loads((REPO / "benchmarks" / "results" / "sweep.json").read_text(encoding="utf-8"))
    report = copy.deepcopy(sweep["reports"][0])
    assert "Host peers" not in markdown([report])  # no native loop recorded: no table
    next(a for a in report["artifacts"] if a["format"] == "c")["native"] = NATIVE
    md = markdown([report])
    assert "Host peers (batch 1, same run):" in md and "| C kernel, bare C loop |" in md
    assert "| LiteRT, raw | `model.int8.tflite` |" in md or "| LiteRT, raw | model.int8.tflite |" in md
