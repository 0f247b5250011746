"""One artifact under ``edgemnist bench``: size, accuracy, load, first inference, RSS, and batch-1 latency of
``Predictor.predict_proba`` interleaved with its backend's raw loop (``Backend.raw_loop``) on the same images
pre-converted to the model's dtype (``to_model_input``), so the predictor's overhead is a ratio of like with like."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.bench.config import BenchConfig
from edgemnist.bench.machine import rss
from edgemnist.bench.report import ArtifactResult
from edgemnist.bench.timing import Loop, Measurement, batches, measure, ms_since, warmup_calls
from edgemnist.bench.timing import rounded as _r
from edgemnist.errors import InputError, MissingDependencyError
from edgemnist.manifest import FROM_FILE

#: Images the predictor and the raw loop must agree on (top-1) before their timings are compared.

#: Images the predictor and the raw loop must agree on (top-1) before their timings are compared.
AGREEMENT_IMAGES = 64
LOAD_RSS_METHOD = (
    "psutil RSS growth across Predictor.load + first inference of a second instance, the runtime "
    "already imported and the first instance still open: what one more loaded model costs"
)

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


def as_pixels(images: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    images, labels = np.asarray(images), np.asarray(labels)
    if (
        images.dtype != np.uint8
        or images.ndim not in (2, 3)
        or images.shape[1:] not in (spec.IMAGE_SHAPE, (spec.INPUT_SIZE,))
        or len(images) == 0
    ):
        raise InputError(
            f"bench images must be uint8 MNIST pixels shaped (N, 28, 28) or (N, 784); got {images.dtype} {images.shape}"
        )
    if labels.shape != (len(images),):
        raise InputError(f"bench labels must have shape ({len(images)},), got {labels.shape}")
    return np.ascontiguousarray(images.reshape(len(images), spec.INPUT_SIZE)), labels.astype(np.int64)


def accuracy_for(
    path: Path, manifest: dict | None, config: BenchConfig, pixels: np.ndarray, labels: np.ndarray, notes: list[str]
) -> tuple[float | None, str | None, int | None]:
    """(accuracy, source, n): measured by ``edgemnist.evaluate``, or the verified manifest's."""
    if config.accuracy:
        from edgemnist.evaluate import evaluate

        # The record handed along; without one, evaluate looks for itself (and refuses a bad one, as a load does).
        report = evaluate(
            path,
            test_data=(pixels, labels),
            threads=config.threads,
            manifest=FROM_FILE if manifest is None else manifest,
        )
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
    raw_top = np.array([np.asarray(call(raw_x[i : i + 1])).reshape(-1).argmax() for i in range(k)])
    agreement = float(np.mean(raw_top == predictor.predict(pixels[:k]).labels))
    if agreement < 0.95:
        notes.append(
            f"the raw loop and the predictor agree on only {agreement:.0%} of {k} images: "
            f"they may not see the same data"
        )
    return first_ms, agreement


def bench_artifact(
    path: str | Path,
    config: BenchConfig,
    images: Any,
    labels: Any,
    *,
    progress: Progress | None = None,
    name: str | None = None,
    manifest: Any = FROM_FILE,
) -> ArtifactResult:
    """Benchmark one artifact (see the module doc). ``images``: uint8 test images; ``labels``: their digits.
    ``manifest``: the record already read beside ``path`` (None: there is none); by default it is read here,
    once, and handed to every load (the timed ``Predictor.load`` included: it still checks the sha256, the format
    and the verification against it) and to the accuracy run.

    Raises the Predictor's errors for a missing, unknown, corrupt, changed or unverified artifact.
    """
    from edgemnist.formats import FORMATS
    from edgemnist.manifest import read_manifest
    from edgemnist.predictor import Predictor

    say = progress or (lambda _msg: None)
    path = Path(path)
    if manifest is FROM_FILE:
        manifest = read_manifest(path)
    pixels, labels = as_pixels(images, labels)
    notes: list[str] = []
    threads = config.threads

    say("load")
    warm = Predictor.load(path, threads=threads, manifest=manifest)  # imports the runtime; not timed
    gc.collect()
    rss0 = rss()
    t0 = time.perf_counter_ns()
    predictor = Predictor.load(path, threads=threads, manifest=manifest)
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
    accuracy, acc_source, acc_n = accuracy_for(path, manifest, config, pixels, labels, notes)

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
        loops = [
            Loop("predictor", "Predictor.predict_proba(uint8 pixels)", predictor.predict_proba, batches(pixels, batch))
        ]
        if raw is not None:
            loops.append(Loop("raw", raw.method, raw.prepare(batch), batches(raw_x, batch)))
        measurements += measure(
            loops,
            batch=batch,
            warmup=warmup_calls(config.warmup, batch),
            min_time=config.min_time,
            min_runs=max(3, -(-config.min_runs // batch)),
        )
    native = None
    if config.raw:
        native_loop = fmt.load_backend().native_loop(path)
        if native_loop is not None:
            say("native loop")
            native = bench_native(native_loop, pixels, predictor, config)
    predictor.close()
    return ArtifactResult(
        path=str(path),
        name=name or path.name,
        format=fmt.name,
        quantization=predictor.quantization,
        io=io,
        runtime=predictor.backend.runtime,
        threads=threads,
        size_bytes=size,
        deploy_bytes=deploy,
        accuracy=accuracy,
        accuracy_source=acc_source,
        accuracy_n=acc_n,
        manifest_accuracy=_r(m_acc),
        verified=ver.get("passed") if manifest else None,
        load_ms=load_ms,
        first_inference_ms=first_ms,
        raw_method=None if raw is None else raw.method,
        raw_load_ms=raw_load_ms,
        raw_first_inference_ms=raw_first_ms,
        raw_agreement=_r(raw_agreement, 4),
        measurements=tuple(measurements),
        memory={"load_rss_increase_bytes": None if rss0 is None else rss1 - rss0, "method": LOAD_RSS_METHOD},
        notes=tuple(notes),
        native=native,
    )


#: Images the native loop times, each once (at most the test set, at least ``config.min_runs``).
NATIVE_IMAGES = 2000


def bench_native(loop, pixels: np.ndarray, predictor, config: BenchConfig) -> dict[str, Any]:
    """The backend's native loop (no Python) on the same images, each timed alone after the warm-up calls;
    its labels are checked against the predictor's."""
    import dataclasses

    from edgemnist.bench.timing import Stats

    n = min(len(pixels), max(config.min_runs, NATIVE_IMAGES), 10000)
    x = pixels[:n].reshape(n, -1)
    ns, labels = loop.run(x, config.warmup)
    agree = float(np.mean(labels == predictor.predict(x).labels))
    return {
        "method": loop.method,
        "images": n,
        "warmup": config.warmup,
        "latency_ms": dataclasses.asdict(Stats.of(ns)),
        "agreement": _r(agree, 4),
        "interleaved": False,  # a separate process, run after the Predictor's measurements
    }
