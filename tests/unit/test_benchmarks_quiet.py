"""benchmarks/update_readme.py publishes only what a quiet machine measured (latencies taken at a load average of
2 on 2 cores are noise)."""

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


def _foreign(cores):
    return {"foreign_cores": cores}


def _sweep(start, foreign, bench_start, bench_foreign, cores=2, end=1.9):
    machine = {"usable_cores": cores, "logical_cores": cores}
    report = {
        "config": {"threads": 1},
        "machine": {
            **machine,
            "load_average": [bench_start, 0, 0],
            "load_average_end": [end, 0, 0],
            "foreign_load": _foreign(bench_foreign),
        },
    }
    return {
        "machine": machine,
        "load_average_start": [start, 0, 0],
        "load_average_end": [end, 0, 0],
        "foreign_load": _foreign(foreign),
        "reports": [report],
    }


def test_quiet_runs_pass_and_busy_ones_say_why():
    update = _update_readme()
    # The load average at the end counts the benchmark's own threads (~1 per busy thread): not judged.
    assert update.busy(_sweep(0.2, 0.05, 0.3, 0.1, end=2.1), None) == []
    assert update.busy(_sweep(0.2, 0.2, 0.3, 0.1), None) == [
        "sweep: other processes used 0.20 cores while it ran on 2 cores (quiet: < 0.2)"
    ]
    assert update.busy(_sweep(2.04, 0.0, 0.3, 0.0), None) == [
        "sweep: load average 2.04 at start on 2 cores (quiet: < 1)"
    ]
    # a bench run inside the sweep starts right after the sweep's previous step: only its foreign CPU is judged
    assert update.busy(_sweep(0.2, 0.0, 1.7, 0.0), None) == []
    assert update.busy(_sweep(0.2, 0.0, 0.3, 0.5), None) == [
        "bench --threads 1: other processes used 0.50 cores while it ran on 2 cores (quiet: < 0.2)"
    ]
    assert update.busy(_sweep(1.5, 0.3, 1.5, 0.3, cores=4), None) == []  # 0.375 and 0.075 per core
    cold = {"machine": {"usable_cores": 2}, "load_average_start": [0.1, 0, 0], "load_average_end": None}
    assert update.busy(_sweep(0.1, 0.0, 0.1, 0.0), cold) == [
        "cold start: no record of other processes' CPU use (foreign_load)"
    ]
    old = {"reports": [{"config": {"threads": 1}, "machine": {"usable_cores": 2, "load_average": [0.1, 0, 0]}}]}
    reasons = update.busy(old, None)
    assert "sweep: no load average recorded at start" in reasons
    assert "bench --threads 1: no record of other processes' CPU use (foreign_load)" in reasons


def test_foreign_load_does_not_count_the_benchmark_itself():
    """A run that keeps this process busy measures ~0 foreign cores, where the load average would rise to ~1."""
    import os
    import time

    from edgemnist.bench.machine import ForeignLoad

    watch = ForeignLoad().start()
    # Busy until this process has used 0.4 s of CPU (on a loaded machine that takes longer than 0.4 s of wall time).
    cpu0, deadline = time.process_time(), time.perf_counter() + 30
    x = 0
    while time.process_time() - cpu0 < 0.4 and time.perf_counter() < deadline:
        x += 1
    r = watch.result()
    if r is None:  # no /proc/stat (not Linux)
        return
    assert r["own_cpu_seconds"] >= 0.3
    assert r["machine_cpu_seconds"] >= r["own_cpu_seconds"] * 0.5
    # The busy loop is this process's own: what is left for others is at most the machine's other cores' worth.
    assert 0.0 <= r["foreign_cores"] <= (os.cpu_count() or 1) + 0.1
    foreign_seconds = r["foreign_cores"] * r["wall_seconds"]
    assert foreign_seconds <= r["machine_cpu_seconds"] - r["own_cpu_seconds"] + 0.1 * (1 + r["foreign_cores"])
