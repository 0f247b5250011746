"""The benchmark scripts use the package's timing rules, and the pages show what the committed results say."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

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
