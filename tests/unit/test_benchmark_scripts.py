"""The benchmark scripts use the package's timing rules, and the pages show what the committed results say."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _script(name: str):
    path = REPO / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_script_{name}_unit", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def test_the_browser_benchmark_summarizes_by_the_bench_rules():
    """Nearest rank, as ``edgemnist bench``: observed values only; a p99 needs 100 calls."""
    summarize = _script("browser").summarize
    s = summarize([i / 1000 for i in range(100, 0, -1)], loop_ms=5.0)  # 1..100 µs, in ms, any order
    assert (s["calls"], s["p50_us"], s["p90_us"], s["p99_us"], s["max_us"]) == (100, 50.0, 90.0, 99.0, 100.0)
    assert s["loop_mean_us"] == 50.0 and s["percentiles"] == "nearest rank"
    assert summarize([0.005] * 10, loop_ms=0.05)["p99_us"] is None


def test_the_generated_sections_match_the_committed_results(capsys):
    update = _script("update_readme")
    assert update.main(["--check"]) == 0, capsys.readouterr().err


def test_the_weight_bits_table_has_every_width_and_target_from_its_results():
    """One row per width and int8 target (packed .tflite and .onnx for 4 and 2 bits only), Cortex-M4 figures on
    the C kernel's rows alone, and what TFLite Micro did with the packed filter, all read from the committed JSON;
    the README's summary has one row per width with the C kernel's figures and each format's bytes."""
    import json

    from edgemnist.bench import weight_bits as wb

    report = json.loads((REPO / "benchmarks" / "results" / "weight_bits.json").read_text(encoding="utf-8"))
    assert report["schema"] == wb.SCHEMA
    rows = report["rows"]
    assert [(r["bits"], r["target"]) for r in rows] == [
        (b, label) for b in wb.BITS for label, _, packed in wb.TARGETS if not (packed and b == 8)
    ]
    md = wb.render_markdown(report)
    table = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith(("| bits", "| ---"))]
    assert len(table) == len(rows)
    for line, r in zip(table, rows, strict=True):
        assert f"{r['accuracy']:.2%}" in line and f"{r['agreement_with_8bit']:.2%}" in line
        c = r.get("cortex_m4")
        assert (c is not None) == (r["format"] == "c")
        if c:
            assert f"{c['instructions_per_inference']:,.0f}" in line and c["differing_bytes_vs_host"] == 0
    assert next(r for r in rows if r["bits"] == 8)["agreement_with_8bit"] == 1.0
    assert "TFLite Micro on packed 4-bit weights" in md
    summary = wb.render_summary(report)
    lines = [
        line for line in summary.splitlines() if line.startswith("| ") and not line.startswith(("| bits", "| ---"))
    ]
    assert [line.split(" | ")[0] for line in lines] == [f"| {b}" for b in wb.BITS]
    for line, b in zip(lines, wb.BITS, strict=True):
        c = next(r for r in rows if r["bits"] == b and r["format"] == "c")
        packed = [r for r in rows if r["bits"] == b and r["packed"]]
        assert f"{c['accuracy']:.2%}" in line and f"{c['cortex_m4']['text_bytes']:,} B" in line
        assert all(f"{r['stored_bytes'] / 1000:,.1f} kB" in line for r in packed) and len(packed) == (b != 8) * 2


@pytest.mark.parametrize(
    "text,expect",
    [("8,4,2", (8, 4, 2)), ("2", (8, 2)), ("4, 8,4", (8, 4)), ("3", None), ("", None), ("8,x", None)],
)
def test_weight_bits_widths_parse_or_say_what_was_expected(text, expect):
    from edgemnist.bench.weight_bits import parse_bits
    from edgemnist.errors import ConfigError

    if expect is None:
        with pytest.raises(ConfigError, match="expected comma-separated widths"):
            parse_bits(text)
    else:
        assert parse_bits(text) == expect


def test_the_weight_bits_note_says_why_tflm_refused_in_one_printable_line():
    from edgemnist.bench import weight_bits as wb

    note = wb.tflm_note(
        {
            "per_channel": {"runs": False, "why": "fully_connected.cc:98 filter->type\n\x1b[31m != kTfLiteInt4"},
            "per_tensor": {"runs": True, "accuracy": 0.9786, "arena_bytes": 404200, "arena_extra_bytes": 394272},
        }
    )
    assert "\n" not in note and "\x1b" not in note and "per-channel INT4: refused (fully_connected.cc:98" in note
    assert "per-tensor INT4: runs, 97.86%, arena 404,200 B (+394,272 B against the int8 array)" in note
