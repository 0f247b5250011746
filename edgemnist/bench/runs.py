"""Benchmarks that deserve trust: accuracy, size and latency of artifacts, side by side, in one process.

``run_bench(paths, BenchConfig())`` measures, for each artifact (``bench_artifact``): size (and the flatbuffer a
device flashes), format, quantization, I/O; accuracy on the MNIST test set (``edgemnist.evaluate``) or the
verified manifest's; load time (runtime already imported, file cached: cold starts are
``benchmarks/cold_start.py``'s job), first inference and the RSS growth of that load; batch-1 latency of
``Predictor.predict_proba(uint8 pixels)`` after warm-up (percentiles, max, std, outliers: ``edgemnist.bench.timing``);
throughput at each batch size. Interleaved with the predictor, the raw runtime loop (``Backend.raw_loop``) runs on the
same artifact through the runtime's public API, built by the backend module's own helper so threads and options
match, fed the same images pre-converted to the model's dtype: the predictor's overhead is a ratio of like
with like, flagged against ``report.OVERHEAD_TARGET``. Then, once, the Keras source model as users run it
(``bench_keras``), the machine, and the process's peak RSS.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edgemnist.bench.artifact import as_pixels, bench_artifact
from edgemnist.bench.config import BenchConfig
from edgemnist.bench.keras import bench_keras, find_keras
from edgemnist.bench.machine import ForeignLoad, load_average, machine_info, peak_rss
from edgemnist.bench.report import ArtifactResult, BenchReport
from edgemnist.errors import ArtifactError, ConfigError, require_file

PEAK_RSS_METHOD = (
    "getrusage(RUSAGE_SELF).ru_maxrss of this whole bench process: every runtime imported, the "
    "test set and Keras; benchmarks/cold_start.py measures one artifact per fresh process"
)

Progress = Callable[[str], None]


# ============================================================================== a whole run


def check_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Fail fast, before any timing: every path exists and has a known suffix."""
    from edgemnist.formats import format_for_path

    if not paths:
        raise ConfigError("nothing to benchmark: pass at least one artifact")
    out = []
    for p in map(Path, paths):
        fmt = format_for_path(p)
        require_file(p)
        if not p.is_file():
            raise ArtifactError(f"{p}: not a file; expected a {fmt.suffix} model")
        out.append(p)
    return list(dict.fromkeys(out))


def _keras_path(
    paths: list[Path], keras: str | Path | None, notes: list[str], manifests: dict[Path, dict | None]
) -> Path | None:
    """Which .keras model the baseline runs ("auto": found beside the artifacts; None: skipped)."""
    import importlib.util

    if keras is None:
        notes.append("Keras baseline skipped")
        return None
    path = find_keras(paths, manifests) if keras == "auto" else Path(keras)
    if path is None:
        notes.append("no Keras baseline: no .keras model beside the artifacts (pass --keras PATH)")
        return None
    if not path.is_file():
        raise ArtifactError(f"{path}: no such Keras model file")
    if not all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "keras")):
        if keras != "auto":  # asked for explicitly: say so before spending time on the artifacts
            from edgemnist._deps import keras as require_keras

            require_keras()
        from edgemnist._deps import install_hint

        notes.append(f"no Keras baseline: TensorFlow/Keras are not installed ({install_hint('train')})")
        return None
    return path


def run_bench(
    paths: Sequence[str | Path],
    config: BenchConfig | None = None,
    *,
    images: Any = None,
    labels: Any = None,
    data_dir: str | Path | None = None,
    keras: str | Path | None = "auto",
    progress: Callable[[str, int, int], None] | None = None,
) -> BenchReport:
    """Benchmark every artifact in ``paths``, then the Keras baseline, and describe the machine.

    ``images``/``labels`` default to the MNIST test set (``data_dir``). ``keras``: "auto" finds the source
    model beside the artifacts, a path uses that file, None skips the baseline. ``progress(message, done,
    total)`` is told what runs; ``total`` is the number of jobs (artifacts, then Keras), ``done`` how many ended.
    """
    from edgemnist.fileio import sha256_file
    from edgemnist.manifest import now_iso, read_manifest

    config = config or BenchConfig()
    start = time.perf_counter()
    paths = check_paths(paths)
    notes: list[str] = []
    manifests = {p: read_manifest(p) for p in paths}  # each read once, and handed to every step below
    keras_path = _keras_path(paths, keras, notes, manifests)
    if images is None:
        from edgemnist.data import load_test

        images, labels = load_test(data_dir)
    images, labels = as_pixels(images, labels)
    machine = machine_info()
    foreign = ForeignLoad().start()
    names = {p: p.name if [q.name for q in paths].count(p.name) == 1 else f"{p.parent.name}/{p.name}" for p in paths}
    jobs: list[tuple[str, Callable[[Progress], Any]]] = [
        (
            names[p],
            lambda say, p=p: bench_artifact(
                p, config, images, labels, progress=say, name=names[p], manifest=manifests[p]
            ),
        )
        for p in paths
    ]
    if keras_path is not None:
        jobs.append(
            (f"Keras {keras_path.name}", lambda say: bench_keras(keras_path, config, images, labels, progress=say))
        )
    results = []
    for done, (label, job) in enumerate(jobs):

        def say(msg: str, label=label, done=done) -> None:
            if progress is not None:
                progress(f"{label}: {msg}", done, len(jobs))

        results.append(job(say))
    if progress is not None:
        progress("done", len(jobs), len(jobs))
    baseline = results.pop() if keras_path is not None else None
    if keras_path is not None:
        digest = sha256_file(keras_path)
        for p in paths:
            src = (manifests[p] or {}).get("source") or {}
            if src.get("sha256") and src["sha256"] != digest:
                notes.append(f"{p.name} was not exported from {keras_path} (source sha256 differs)")
    machine["load_average_end"] = load_average()
    machine["foreign_load"] = foreign.result()
    return BenchReport(
        now_iso(),
        round(time.perf_counter() - start, 3),
        config,
        machine,
        tuple(results),
        baseline,
        {"peak_rss_bytes": peak_rss(), "method": PEAK_RSS_METHOD},
        tuple(notes),
    )


__all__ = [
    "ArtifactResult",
    "BenchConfig",
    "BenchReport",
    "bench_artifact",
    "bench_keras",
    "check_paths",
    "find_keras",
    "run_bench",
]
