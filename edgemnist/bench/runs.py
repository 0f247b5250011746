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

import dataclasses
import gc
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.bench.config import BenchConfig
from edgemnist.bench.machine import load_average, machine_info, peak_rss, rss
from edgemnist.bench.report import ArtifactResult, BenchReport
from edgemnist.bench.timing import Loop, Measurement, batches, measure, ms_since, warmup_calls
from edgemnist.bench.timing import rounded as _r
from edgemnist.errors import ArtifactError, ConfigError, InputError, MissingDependencyError, require_file
#: Images the predictor and the raw loop must agree on (top-1) before their timings are compared.
AGREEMENT_IMAGES = 64
#: At most this many warm-up calls for Keras' loops (model.predict costs tens of ms per call).
KERAS_WARMUP = 5
LOAD_RSS_METHOD = ("psutil RSS growth across Predictor.load + first inference of a second instance, the runtime "
                   "already imported and the first instance still open: what one more loaded model costs")
PEAK_RSS_METHOD = ("getrusage(RUSAGE_SELF).ru_maxrss of this whole bench process: every runtime imported, the "
                   "test set and Keras; benchmarks/cold_start.py measures one artifact per fresh process")

Progress = Callable[[str], None]


# ============================================================================== raw inputs


def to_model_input(pixels: np.ndarray, tensor) -> np.ndarray:
    """uint8 (N, 784) pixels -> the model's input dtype, independently of the Predictor's own conversion.

    float32: p / 255. int8 with scale 1/255 and zero point -128: p - 128. Other integer tensors:
    clip(round(p / 255 / scale) + zero_point).
    """
    if tensor.dtype == "float32":
        return spec.to_unit_floats(pixels)
    lo, hi = (-128, 127) if tensor.dtype == "int8" else (0, 255)
    if math.isclose(tensor.scale, 1 / 255, rel_tol=1e-6) and tensor.zero_point == lo:
        return (pixels.astype(np.int16) + lo).astype(tensor.dtype)
    q = np.rint(spec.to_unit_floats(pixels) / np.float32(tensor.scale)) + tensor.zero_point
    return np.clip(q, lo, hi).astype(tensor.dtype)


# ============================================================================== one artifact


def _as_pixels(images: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim not in (2, 3) or images.shape[1:] not in (
            spec.IMAGE_SHAPE, (spec.INPUT_SIZE,)) or len(images) == 0:
        raise InputError(f"bench images must be uint8 MNIST pixels shaped (N, 28, 28) or (N, 784); "
                         f"got {images.dtype} {images.shape}")
    if labels.shape != (len(images),):
        raise InputError(f"bench labels must have shape ({len(images)},), got {labels.shape}")
    return np.ascontiguousarray(images.reshape(len(images), spec.INPUT_SIZE)), labels.astype(np.int64)


def _accuracy(path: Path, manifest: dict | None, config: BenchConfig, pixels: np.ndarray, labels: np.ndarray,
              notes: list[str]) -> tuple[float | None, str | None, int | None]:
    """(accuracy, source, n): measured by ``edgemnist.evaluate``, or the verified manifest's."""
    if config.accuracy:
        from edgemnist.evaluate import evaluate

        report = evaluate(path, test_data=(pixels, labels), threads=config.threads)
        return _r(report.accuracy), "measured", report.n
    ver = (manifest or {}).get("verification") or {}
    if ver.get("passed") and isinstance(ver.get("accuracy"), (int, float)):
        return _r(ver["accuracy"]), "manifest", ver.get("n")
    notes.append("accuracy not measured and no verified manifest states it")
    return None, None, None


def _check_raw(call, raw_x: np.ndarray, predictor, pixels: np.ndarray, notes: list[str]) -> tuple[float, float]:
    """The raw loop's first inference (ms), and its top-1 agreement with the predictor on the first images:
    if they disagree, they are not running the same model on the same data and no ratio means anything."""
    t0 = time.perf_counter_ns()
    call(raw_x[:1])
    first_ms = ms_since(t0)
    k = min(AGREEMENT_IMAGES, len(pixels))
    raw_top = np.array([np.asarray(call(raw_x[i:i + 1])).reshape(-1).argmax() for i in range(k)])
    agreement = float(np.mean(raw_top == predictor.predict(pixels[:k]).labels))
    if agreement < 0.95:
        notes.append(f"the raw loop and the predictor agree on only {agreement:.0%} of {k} images: "
                     f"they may not see the same data")
    return first_ms, agreement


def bench_artifact(path: str | Path, config: BenchConfig, images: Any, labels: Any, *,
                   progress: Progress | None = None, name: str | None = None) -> ArtifactResult:
    """Benchmark one artifact (see the module doc). ``images``: uint8 test images; ``labels``: their digits.

    Raises the Predictor's errors for a missing, unknown, corrupt, changed or unverified artifact.
    """
    from edgemnist.formats import FORMATS
    from edgemnist.predictor import Predictor

    say = progress or (lambda _msg: None)
    path = Path(path)
    pixels, labels = _as_pixels(images, labels)
    notes: list[str] = []
    threads = config.threads

    say("load")
    warm = Predictor.load(path, threads=threads)  # imports the runtime; not timed
    gc.collect()
    rss0 = rss()
    t0 = time.perf_counter_ns()
    predictor = Predictor.load(path, threads=threads)
    load_ms = ms_since(t0)
    t0 = time.perf_counter_ns()
    predictor.predict_proba(pixels[:1])
    first_ms = ms_since(t0)
    rss1 = rss()
    warm.close()
    manifest = predictor.manifest
    fmt = FORMATS[predictor.format]
    io = (manifest or {}).get("io") or ("float" if predictor.input.dtype == "float32" else predictor.input.dtype)
    size = path.stat().st_size
    deploy = int(predictor.describe().get("details", {}).get("flash_bytes") or size)
    ver = (manifest or {}).get("verification") or {}
    m_acc = ver.get("accuracy") if isinstance(ver.get("accuracy"), (int, float)) else None

    if config.accuracy:
        say(f"accuracy on {len(labels)} test images")
    accuracy, acc_source, acc_n = _accuracy(path, manifest, config, pixels, labels, notes)

    raw = raw_x = raw_load_ms = raw_first_ms = raw_agreement = None
    if config.raw:
        say(f"raw {fmt.runtime} loop")
        t0 = time.perf_counter_ns()
        try:
            raw = fmt.load_backend().raw_loop(path, threads)
            raw_load_ms = ms_since(t0)
        except MissingDependencyError as exc:
            notes.append(f"no raw loop: {exc}")
    if raw is not None:
        raw_x = to_model_input(pixels, predictor.input)
        raw_first_ms, raw_agreement = _check_raw(raw.prepare(1), raw_x, predictor, pixels, notes)

    measurements: list[Measurement] = []
    for batch in sorted({1, *config.batch_sizes}):  # batch-1 latency always, first
        if batch > len(pixels):
            notes.append(f"batch {batch} skipped: only {len(pixels)} images")
            continue
        say(f"{'latency' if batch == 1 else 'throughput'}, batch {batch}")
        loops = [Loop("predictor", "Predictor.predict_proba(uint8 pixels)", predictor.predict_proba,
                       batches(pixels, batch))]
        if raw is not None:
            loops.append(Loop("raw", raw.method, raw.prepare(batch), batches(raw_x, batch)))
        measurements += measure(loops, batch=batch, warmup=warmup_calls(config.warmup, batch),
                                min_time=config.min_time, min_runs=max(3, -(-config.min_runs // batch)))
    predictor.close()
    return ArtifactResult(
        path=str(path), name=name or path.name, format=fmt.name, quantization=predictor.quantization, io=io,
        runtime=predictor.backend.runtime, threads=threads, size_bytes=size, deploy_bytes=deploy,
        accuracy=accuracy, accuracy_source=acc_source, accuracy_n=acc_n, manifest_accuracy=_r(m_acc),
        verified=ver.get("passed") if manifest else None, load_ms=load_ms, first_inference_ms=first_ms,
        raw_method=None if raw is None else raw.method, raw_load_ms=raw_load_ms,
        raw_first_inference_ms=raw_first_ms, raw_agreement=_r(raw_agreement, 4), measurements=tuple(measurements),
        memory={"load_rss_increase_bytes": None if rss0 is None else rss1 - rss0, "method": LOAD_RSS_METHOD},
        notes=tuple(notes))


# ============================================================================== the Keras baseline


def find_keras(paths: Sequence[str | Path]) -> Path | None:
    """The source model beside the artifacts: the manifest's ``source.file``, else ``model.keras``."""
    from edgemnist.manifest import read_manifest

    for p in map(Path, paths):
        if p.suffix == ".keras":
            return p
        try:
            src = (read_manifest(p) or {}).get("source") or {}
        except ArtifactError:
            src = {}
        name = src.get("file")
        # A plain file name beside the artifact, never a path: a manifest must not steer us elsewhere.
        plain = isinstance(name, str) and name not in ("", ".", "..") and Path(name).name == name and "\\" not in name
        named = [p.parent / name] if plain else []
        for candidate in [*named, p.parent / "model.keras"]:
            if candidate.suffix == ".keras" and candidate.is_file():
                return candidate
    return None


def bench_keras(path: str | Path, config: BenchConfig, images: Any, labels: Any, *,
                progress: Progress | None = None) -> dict[str, Any]:
    """The source model as Keras users run it: ``model(x)`` and ``model.predict(x)``, interleaved, at batch 1
    and the largest batch size; plus its accuracy and load time. Returns the report's ``keras`` entry."""
    from edgemnist._deps import tensorflow
    from edgemnist.manifest import read_manifest
    from edgemnist.model import load_model

    say = progress or (lambda _msg: None)
    path = Path(path)
    pixels, labels = _as_pixels(images, labels)
    notes: list[str] = []
    say("load")
    tf = tensorflow()
    try:  # only possible before TensorFlow's runtime starts
        tf.config.threading.set_intra_op_parallelism_threads(config.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass
    intra = tf.config.threading.get_intra_op_parallelism_threads()
    if intra != config.threads:
        notes.append(f"TensorFlow was already running, so its intra-op threads stay at {intra} "
                     f"(0 = all cores), not {config.threads}")
    load_model(path)  # warm: imports and traces nothing timed
    t0 = time.perf_counter_ns()
    model = load_model(path)
    load_ms = ms_since(t0)
    if config.accuracy:
        say(f"accuracy on {len(labels)} test images")
    try:
        manifest = read_manifest(path)
    except ArtifactError:
        manifest = None
    accuracy, source, _n = _accuracy(path, manifest, config, pixels, labels, notes)
    x = spec.to_unit_floats(pixels)
    measurements: list[Measurement] = []
    for batch in sorted({1, max(config.batch_sizes)} & set(range(1, len(x) + 1))):
        say(f"model(x) and model.predict, batch {batch}")
        loops = [Loop("keras.call", "model(x, training=False).numpy()", lambda xb: model(xb, training=False).numpy(),
                       batches(x, batch)),
                 Loop("keras.predict", f"model.predict(x, batch_size={batch}, verbose=0)",
                       lambda xb, b=batch: model.predict(xb, batch_size=b, verbose=0), batches(x, batch))]
        warm = max(2, min(warmup_calls(config.warmup, batch), KERAS_WARMUP))  # enough to trace and settle
        measurements += measure(loops, batch=batch, warmup=warm, min_time=config.min_time,
                                min_runs=config.keras_min_runs)
    return {"path": str(path), "threads": config.threads, "intra_op_threads": intra, "accuracy": accuracy,
            "accuracy_source": source, "load_ms": load_ms, "measurements": [m.to_dict() for m in measurements],
            "notes": notes}


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


def _keras_path(paths: list[Path], keras: str | Path | None, notes: list[str]) -> Path | None:
    """Which .keras model the baseline runs ("auto": found beside the artifacts; None: skipped)."""
    import importlib.util

    if keras is None:
        notes.append("Keras baseline skipped")
        return None
    path = find_keras(paths) if keras == "auto" else Path(keras)
    if path is None:
        notes.append("no Keras baseline: no .keras model beside the artifacts (pass --keras PATH)")
        return None
    if not path.is_file():
        raise ArtifactError(f"{path}: no such Keras model file")
    if not all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "keras")):
        if keras != "auto":  # asked for explicitly: say so before spending time on the artifacts
            from edgemnist._deps import keras as require_keras

            require_keras()
        notes.append("no Keras baseline: TensorFlow/Keras are not installed (pip install 'edgemnist[train]')")
        return None
    return path


def run_bench(paths: Sequence[str | Path], config: BenchConfig | None = None, *, images: Any = None,
              labels: Any = None, data_dir: str | Path | None = None, keras: str | Path | None = "auto",
              progress: Callable[[str, int, int], None] | None = None) -> BenchReport:
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
    keras_path = _keras_path(paths, keras, notes)
    if images is None:
        from edgemnist.data import load_test

        images, labels = load_test(data_dir)
    images, labels = _as_pixels(images, labels)
    machine = machine_info()
    names = {p: p.name if [q.name for q in paths].count(p.name) == 1 else f"{p.parent.name}/{p.name}"
             for p in paths}
    jobs: list[tuple[str, Callable[[Progress], Any]]] = [
        (names[p], lambda say, p=p: bench_artifact(p, config, images, labels, progress=say, name=names[p]))
        for p in paths]
    if keras_path is not None:
        jobs.append((f"Keras {keras_path.name}",
                     lambda say: bench_keras(keras_path, config, images, labels, progress=say)))
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
            src = (read_manifest(p) or {}).get("source") or {}
            if src.get("sha256") and src["sha256"] != digest:
                notes.append(f"{p.name} was not exported from {keras_path} (source sha256 differs)")
    machine["load_average_end"] = load_average()
    return BenchReport(now_iso(), round(time.perf_counter() - start, 3), config, machine, tuple(results),
                       baseline, {"peak_rss_bytes": peak_rss(), "method": PEAK_RSS_METHOD}, tuple(notes))


__all__ = [
    "ArtifactResult", "BenchConfig", "BenchReport", "bench_artifact", "bench_keras", "check_paths", "find_keras",
    "run_bench", "to_model_input",
]
