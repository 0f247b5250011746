"""benchmarks/update_readme.py publishes only what a quiet machine measured (issue 11: the README's latencies
came from a load average of 2 on 2 cores)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _update_readme():
    path = REPO / "benchmarks" / "update_readme.py"
    spec = importlib.util.spec_from_file_location("bench_script_update_readme_quiet", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def _sweep(start, end, bench_start, bench_end, cores=2):
    machine = {"usable_cores": cores, "logical_cores": cores}
    report = {"config": {"threads": 1},
              "machine": {**machine, "load_average": [bench_start, 0, 0], "load_average_end": [bench_end, 0, 0]}}
    return {"machine": machine, "load_average_start": [start, 0, 0], "load_average_end": [end, 0, 0],
            "reports": [report]}


def test_quiet_runs_pass_and_busy_ones_say_why():
    update = _update_readme()
    assert update.busy(_sweep(0.2, 0.9, 0.3, 0.99), None) == []
    reasons = update.busy(_sweep(0.2, 1.0, 0.3, 0.5), None)
    assert reasons == ["sweep: load average 1.00 at end on 2 cores (quiet: < 1)"]
    assert update.busy(_sweep(0.2, 0.2, 2.04, 0.5), None) == [
        "bench --threads 1: load average 2.04 at start on 2 cores (quiet: < 1)"]
    assert update.busy(_sweep(1.5, 1.5, 1.5, 1.5, cores=4), None) == []  # 0.375 per core
    cold = {"machine": {"usable_cores": 2}, "load_average_start": [0.1, 0, 0], "load_average_end": None}
    assert update.busy(_sweep(0.1, 0.1, 0.1, 0.1), cold) == ["cold start: no load average recorded at end"]
    old = {"reports": [{"config": {"threads": 1}, "machine": {"usable_cores": 2, "load_average": [0.1, 0, 0]}}]}
    assert "sweep: no load average recorded at start" in update.busy(old, None)
