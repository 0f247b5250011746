"""Benchmarks that deserve trust: accuracy, size and latency of artifacts, side by side, in one process.

``run_bench(paths, BenchConfig())`` measures, for each artifact (``bench_artifact``):

- size on disk (and the flatbuffer a device flashes, for the TFLite Micro C array), format, quantization, I/O;
- accuracy on the 10,000 MNIST test images through the ``Predictor`` (or the verified manifest's, when asked);
- load time (``Predictor.load`` with the runtime already imported and the file in the OS cache: the first,
  untimed load imports it; cold starts in fresh processes are ``benchmarks/cold_start.py``'s job), and the
  first inference right after it;
- batch-1 latency of ``Predictor.predict_proba(uint8 pixels)`` after warm-up: p50, p90, p99, p999 (only when
  there are enough runs to support them: 10, 100, 1000), min, max, mean, std, and how many runs were far
  outliers (above Q3 + 3 IQR; they are kept in every statistic, never clipped);
- throughput in images/s at each batch size (batch 1 comes from the latency runs);
- the raw runtime loop on the same artifact (LiteRT ``set_tensor/invoke/get_tensor``, ONNX Runtime
  ``session.run``, TFLite Micro ``set_input/invoke/get_output``, Keras ``model(x)``), fed the same images
  already converted to the model's input dtype, so the predictor's overhead is a ratio of like with like;
- process memory (psutil RSS, else ``getrusage`` high-water mark: process-wide, not per artifact).

Plus, once, the Keras source model as users run it: ``model(x)`` and ``model.predict(x)`` at batch 1 and the
largest batch size.

Every measurement times each call with ``time.perf_counter_ns``; the number of calls comes from
``min_time`` with a ``min_runs`` floor. Predictor and raw loop are measured *interleaved*, in blocks, so
background load on a shared machine hits both alike. Inputs are real test images, rotated through. Thread
counts are set in every runtime and reported with the machine (CPU model, cores, OS, versions, thread
environment variables, load average, date). Python's garbage collector stays enabled, as in real use.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.errors import ArtifactError, ConfigError, InputError, MissingDependencyError

SCHEMA = "edgemnist.bench/1"
#: The predictor may cost at most this much more than the raw runtime loop at batch-1 p50.
OVERHEAD_TARGET = 1.3
#: Predictor and raw loop alternate in this many blocks per measurement.
BLOCKS = 10
#: A percentile is reported only with at least this many runs (else null).
PERCENTILES = (("p50", 50.0, 1), ("p90", 90.0, 10), ("p99", 99.0, 100), ("p999", 99.9, 1000))
#: Quantiles stored for the latency CDF of batch-1 measurements (the JSON keeps these, not every sample).
CDF_QUANTILES = tuple(sorted({i / 50 for i in range(51)} | {0.99, 0.995, 0.999}))
#: Images the predictor and the raw loop must agree on (top-1) before their timings are compared.
AGREEMENT_IMAGES = 64
#: At most this many warm-up calls for Keras' loops (model.predict costs tens of ms per call).
KERAS_WARMUP = 5
ACCURACY_CHUNK = 1000
OUTLIER_RULE = "runs above Q3 + 3 IQR; kept in every statistic"
THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE",
              "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "KMP_AFFINITY", "ORT_NUM_THREADS")
RUNTIME_DISTS = ("ai-edge-litert", "onnxruntime", "tflite-micro", "tensorflow", "tensorflow-cpu", "keras")

Progress = Callable[[str], None]


# ============================================================================== configuration


def _int(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ConfigError(f"{name} must be an integer from {lo} to {hi}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class BenchConfig:
    """What to measure and for how long. The defaults bench ~8 artifacts in under a minute on 2 cores.

    ``warmup`` is in batch-1 calls; a batch-``b`` measurement warms up with the same number of images
    (``ceil(warmup / b)`` calls, at least 2). Each measurement runs for at least ``min_time`` seconds and
    ``min_runs`` images (at least 3 calls). Keras' own loops are slow (``model.predict`` costs tens of ms per
    call), so they get ``keras_min_runs`` calls as their floor instead, and at most ``KERAS_WARMUP`` warm-up
    calls.
    """

    batch_sizes: tuple[int, ...] = (1, 32, 256)
    threads: int = 1
    warmup: int = 50
    min_time: float = 0.5
    min_runs: int = 100
    keras_min_runs: int = 10
    accuracy: bool = True  # measure on the test set; False takes it from the verified manifest
    raw: bool = True  # measure the raw runtime loop too

    def __post_init__(self) -> None:
        sizes = self.batch_sizes
        if isinstance(sizes, (int, str)) or not sizes:
            raise ConfigError(f"batch sizes must be a non-empty list of positive integers, got {sizes!r}")
        sizes = tuple(sorted({_int(b, "a batch size", 1, 10000) for b in sizes}))
        object.__setattr__(self, "batch_sizes", sizes)
        _int(self.threads, "threads", 1, 1024)
        _int(self.warmup, "warmup", 0, 10**6)
        _int(self.min_runs, "min runs", 1, 10**7)
        _int(self.keras_min_runs, "keras min runs", 1, 10**7)
        t = self.min_time
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (math.isfinite(t) and 0 < t <= 3600):
            raise ConfigError(f"min time must be a number of seconds in (0, 3600], got {t!r}")
        object.__setattr__(self, "min_time", float(t))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["batch_sizes"] = list(self.batch_sizes)
        return d


# ============================================================================== results


def _r(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(float(x), digits)


def nearest_rank(sorted_values: np.ndarray, q: float) -> float:
    """The q-th percentile by nearest rank: the smallest observed value with at least q % of values at or
    below it (rank ceil(q/100 * n), computed in integers so 99.9 % of 1000 is rank 999, not 1000)."""
    n = len(sorted_values)
    rank = max(1, -(-round(q * 1000) * n // 100_000))
    return float(sorted_values[min(rank, n) - 1])


@dataclass(frozen=True)
class Stats:
    """Per-call latency statistics in milliseconds."""

    runs: int
    min: float
    p50: float
    p90: float | None
    p99: float | None
    p999: float | None
    max: float
    mean: float
    std: float
    outliers: int

    @classmethod
    def of(cls, samples_ns: np.ndarray) -> Stats:
        ms = np.sort(np.asarray(samples_ns, dtype=np.float64)) / 1e6
        n = len(ms)
        if n == 0:
            raise ValueError("no samples")
        pct = {key: (nearest_rank(ms, q) if n >= need else None) for key, q, need in PERCENTILES}
        q1, q3 = nearest_rank(ms, 25.0), nearest_rank(ms, 75.0)
        outliers = int(np.count_nonzero(ms > q3 + 3 * (q3 - q1)))
        return cls(n, _r(ms[0]), _r(pct["p50"]), _r(pct["p90"]), _r(pct["p99"]), _r(pct["p999"]), _r(ms[-1]),
                   _r(ms.mean()), _r(ms.std(ddof=1) if n > 1 else 0.0), outliers)


@dataclass(frozen=True)
class Measurement:
    """One timed loop: ``runs`` calls of ``batch`` images each, after ``warmup`` calls."""

    subject: str  # "predictor", "raw", "keras.call", "keras.predict"
    method: str  # exactly what was timed
    batch: int
    warmup: int
    runs: int
    seconds: float  # sum of the timed calls
    images_per_s: float
    latency: Stats  # per call
    cdf: dict[str, tuple[float, ...]] | None  # {"q": quantiles, "ms": latencies}, batch-1 measurements only
    samples_ns: np.ndarray = field(repr=False, compare=False, default=None)

    @classmethod
    def of(cls, subject: str, method: str, batch: int, warmup: int, samples_ns: np.ndarray) -> Measurement:
        samples_ns = np.asarray(samples_ns, dtype=np.int64)
        total = int(samples_ns.sum())
        cdf = None
        if batch == 1:
            ms = np.sort(samples_ns) / 1e6
            cdf = {"q": CDF_QUANTILES, "ms": tuple(_r(nearest_rank(ms, 100 * q)) for q in CDF_QUANTILES)}
        return cls(subject, method, batch, warmup, len(samples_ns), _r(total / 1e9),
                   _r(batch * len(samples_ns) * 1e9 / max(total, 1), 2), Stats.of(samples_ns), cdf, samples_ns)

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "method": self.method, "batch": self.batch, "warmup": self.warmup,
                "runs": self.runs, "seconds": self.seconds, "images_per_s": self.images_per_s,
                "latency_ms": dataclasses.asdict(self.latency),
                "cdf": None if self.cdf is None else {k: list(v) for k, v in self.cdf.items()}}


def _find(measurements: Sequence[Measurement], subject: str, batch: int) -> Measurement | None:
    return next((m for m in measurements if m.subject == subject and m.batch == batch), None)


@dataclass(frozen=True)
class ArtifactResult:
    path: str
    name: str
    format: str
    quantization: str
    io: str
    runtime: str
    threads: int
    size_bytes: int  # the file
    deploy_bytes: int  # what a device stores: the flatbuffer inside a TFLite Micro C array, else the file
    accuracy: float | None
    accuracy_source: str | None  # "measured" (n test images through the Predictor), "manifest" or None
    accuracy_n: int | None
    manifest_accuracy: float | None
    verified: bool | None  # the manifest's verification.passed; None without a manifest
    load_ms: float
    first_inference_ms: float
    raw_method: str | None
    raw_load_ms: float | None
    raw_first_inference_ms: float | None
    raw_agreement: float | None  # top-1 agreement of predictor and raw loop on the first images
    measurements: tuple[Measurement, ...]
    memory: dict[str, Any]
    notes: tuple[str, ...] = ()

    def measurement(self, subject: str = "predictor", batch: int = 1) -> Measurement | None:
        return _find(self.measurements, subject, batch)

    @property
    def overhead(self) -> dict[str, Any] | None:
        """Predictor vs raw loop at batch 1 (ratios > 1: the predictor is slower)."""
        p, r = self.measurement("predictor"), self.measurement("raw")
        if p is None or r is None:
            return None
        ratio = p.latency.p50 / r.latency.p50
        return {"p50_ratio": _r(ratio, 4), "mean_ratio": _r(p.latency.mean / r.latency.mean, 4),
                "target_p50_ratio": OVERHEAD_TARGET, "within_target": bool(ratio <= OVERHEAD_TARGET)}

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["measurements"] = [m.to_dict() for m in self.measurements]
        d["notes"] = list(self.notes)
        d["overhead"] = self.overhead
        return d


@dataclass(frozen=True)
class KerasBaseline:
    """The source .keras model run the way Keras users run it."""

    path: str
    threads: int  # requested
    intra_op_threads: int | None  # what TensorFlow reports after our request (0: TF's default, all cores)
    accuracy: float | None
    accuracy_source: str | None
    load_ms: float
    measurements: tuple[Measurement, ...]
    notes: tuple[str, ...] = ()

    def measurement(self, subject: str = "keras.call", batch: int = 1) -> Measurement | None:
        return _find(self.measurements, subject, batch)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["measurements"] = [m.to_dict() for m in self.measurements]
        d["notes"] = list(self.notes)
        return d


@dataclass(frozen=True)
class BenchReport:
    created: str
    wall_seconds: float
    config: BenchConfig
    machine: dict[str, Any]
    artifacts: tuple[ArtifactResult, ...]
    keras: KerasBaseline | None
    notes: tuple[str, ...] = ()
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        """Plain data with stable keys (``schema`` names the version); what ``to_json`` writes."""
        return {
            "schema": self.schema,
            "created": self.created,
            "wall_seconds": self.wall_seconds,
            "config": self.config.to_dict(),
            "machine": self.machine,
            "timing": {
                "clock": "time.perf_counter_ns per call",
                "warmup": "discarded calls before timing, per measurement",
                "interleaving": f"predictor and raw loop alternate in {BLOCKS} blocks per measurement",
                "percentiles": "nearest rank (observed values); p90/p99/p999 need 10/100/1000 runs, else null",
                "outliers": OUTLIER_RULE,
                "gc": "enabled",
                "load_ms": "Predictor.load with the runtime imported and the file cached (second load)",
                "inputs": "real MNIST test images, rotated through; the raw loop gets them pre-converted "
                          "to the model's input dtype",
            },
            "artifacts": [a.to_dict() for a in self.artifacts],
            "keras": None if self.keras is None else self.keras.to_dict(),
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


# ============================================================================== machine and memory


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "Processor", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def machine_info() -> dict[str, Any]:
    """Where the numbers come from: CPU, cores, OS, Python, versions, thread environment, load, date."""
    from edgemnist import __version__
    from edgemnist.manifest import now_iso, tool_versions

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    physical = None
    total_memory = None
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
        total_memory = int(psutil.virtual_memory().total)
    except ImportError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    versions = {"edgemnist": __version__, "numpy": np.__version__,
                **{k: v for k, v in tool_versions(RUNTIME_DISTS).items()}}
    return {
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": physical,
        "usable_cores": usable,
        "memory_bytes": total_memory,
        "cpu_governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": versions,
        "thread_env": {k: os.environ[k] for k in THREAD_ENV if k in os.environ},
        "load_average": load,
        "date": now_iso(),
    }


def _rss() -> int | None:
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.Process().memory_info().rss)


def _peak_rss() -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux reports KiB


def _memory(before: int | None) -> dict[str, Any]:
    after = _rss()
    return {
        "rss_bytes": after,
        "rss_increase_bytes": None if after is None or before is None else after - before,
        "peak_rss_bytes": _peak_rss(),
        "method": ("rss: psutil.Process().memory_info().rss after this artifact's runs; rss_increase: its growth "
                   "while benchmarking this artifact (includes importing the runtime the first time); peak: "
                   "resource.getrusage(RUSAGE_SELF).ru_maxrss so far. All process-wide, not per artifact; "
                   "benchmarks/cold_start.py measures one artifact per fresh process"),
    }


# ============================================================================== timing


def _now() -> int:
    return time.perf_counter_ns()


def _ms_since(t0: int) -> float:
    return _r((time.perf_counter_ns() - t0) / 1e6)


@dataclass
class _Loop:
    subject: str
    method: str
    fn: Callable[[Any], Any]
    inputs: Sequence[Any]


def measure(loops: Sequence[_Loop], *, batch: int, warmup: int, min_time: float, min_runs: int,
            blocks: int = BLOCKS) -> list[Measurement]:
    """Time every loop's ``fn`` call by call, interleaved in ``blocks`` blocks.

    Each loop first runs ``warmup`` untimed calls; then, block after block, each loop runs calls until the
    block has lasted ``min_time / blocks`` and has ``ceil(min_runs / blocks)`` calls. Every loop therefore
    gets at least ``min_time`` seconds and ``min_runs`` calls, and slow drifts in machine load reach all
    loops alike; the order alternates from block to block. Inputs rotate through ``inputs``.
    """
    for loop in loops:
        n = len(loop.inputs)
        for k in range(warmup):
            loop.fn(loop.inputs[k % n])
    block_ns = int(min_time * 1e9 / blocks)
    block_runs = max(1, -(-min_runs // blocks))
    samples: list[list[int]] = [[] for _ in loops]
    cursor = [warmup] * len(loops)
    clock = time.perf_counter_ns
    order = list(range(len(loops)))
    for _ in range(blocks):
        for j in order:
            loop = loops[j]
            fn, inputs, out = loop.fn, loop.inputs, samples[j]
            n, i, k = len(inputs), cursor[j], 0
            start = clock()
            while True:
                x = inputs[i % n]
                t0 = clock()
                fn(x)
                t1 = clock()
                out.append(t1 - t0)
                i += 1
                k += 1
                if k >= block_runs and t1 - start >= block_ns:
                    break
            cursor[j] = i
        order.reverse()  # A B, B A, A B...: neither loop always runs first
    return [Measurement.of(loop.subject, loop.method, batch, warmup, np.array(s, dtype=np.int64))
            for loop, s in zip(loops, samples, strict=True)]


def _batches(x: np.ndarray, batch: int) -> list[np.ndarray]:
    """Consecutive C-contiguous views of ``batch`` images, covering the set once."""
    return [x[i:i + batch] for i in range(0, len(x) - batch + 1, batch)]


def _warmup_calls(warmup: int, batch: int) -> int:
    return warmup if batch == 1 else max(2, -(-warmup // batch))


# ============================================================================== raw runtime loops


def to_model_input(pixels: np.ndarray, tensor) -> np.ndarray:
    """uint8 (N, 784) pixels -> the model's input dtype, independently of the Predictor's own conversion.

    float32: p / 255. int8 with scale 1/255 and zero point -128: p - 128. Other integer tensors:
    clip(round(p / 255 / scale) + zero_point).
    """
    if tensor.dtype == "float32":
        return pixels.astype(np.float32) / np.float32(255.0)
    lo, hi = (-128, 127) if tensor.dtype == "int8" else (0, 255)
    if math.isclose(tensor.scale, 1 / 255, rel_tol=1e-6) and tensor.zero_point == lo:
        return (pixels.astype(np.int16) + lo).astype(tensor.dtype)
    q = np.rint(pixels.astype(np.float32) / np.float32(255.0) / np.float32(tensor.scale)) + tensor.zero_point
    return np.clip(q, lo, hi).astype(tensor.dtype)


class RawLoop:
    """A runtime driven directly, without the Predictor. ``prepare(batch)`` does the untimed set-up (resize,
    allocate) and returns the call to time; ``feed(x)`` wraps a model-dtype array the way the call takes it."""

    method = "?"

    def prepare(self, batch: int) -> Callable[[Any], np.ndarray]:
        raise NotImplementedError

    def feed(self, x: np.ndarray) -> Any:
        return x

    def close(self) -> None:
        pass


class _LiteRTLoop(RawLoop):
    method = "ai_edge_litert Interpreter: set_tensor, invoke, get_tensor"

    def __init__(self, path: Path, threads: int) -> None:
        from edgemnist._deps import require

        Interpreter = require("ai_edge_litert.interpreter", "litert", what="ai-edge-litert").Interpreter
        self._ip = Interpreter(model_path=str(path), num_threads=threads)  # as LiteRTBackend does
        self._ip.allocate_tensors()
        d = self._ip.get_input_details()[0]
        self._in, self._width = d["index"], int(d["shape"][-1])
        self._out = self._ip.get_output_details()[0]["index"]

    def prepare(self, batch: int):
        ip, i, o = self._ip, self._in, self._out
        ip.resize_tensor_input(i, [batch, self._width])
        ip.allocate_tensors()
        set_tensor, invoke, get_tensor = ip.set_tensor, ip.invoke, ip.get_tensor

        def call(x):
            set_tensor(i, x)
            invoke()
            return get_tensor(o)

        return call


class _OnnxLoop(RawLoop):
    method = "onnxruntime InferenceSession.run with a prebuilt input feed"

    def __init__(self, path: Path, threads: int) -> None:
        from edgemnist._deps import require

        ort = require("onnxruntime", "onnx")
        opts = ort.SessionOptions()  # the same options as OnnxBackend
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        self._sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self._in = self._sess.get_inputs()[0].name
        self._outs = [self._sess.get_outputs()[0].name]

    def feed(self, x):
        return {self._in: x}

    def prepare(self, batch: int):
        run, outs = self._sess.run, self._outs

        def call(feed):
            return run(outs, feed)[0]

        return call


class _MicroLoop(RawLoop):
    method = "tflite_micro Interpreter: set_input, invoke, get_output (one invoke per image)"

    def __init__(self, path: Path, threads: int) -> None:
        from edgemnist._deps import require
        from edgemnist.export.micro import min_arena_bytes, read_micro, round_up

        runtime = require("tflite_micro", "micro", what="tflite-micro").runtime
        micro = read_micro(path)  # the arena model_data.h states, as MicroBackend uses
        arena = micro.arena_bytes if micro.arena_bytes > 0 else round_up(min_arena_bytes(micro.model_bytes))
        self._ip = runtime.Interpreter.from_bytes(micro.model_bytes, arena_size=int(arena))

    def prepare(self, batch: int):
        set_input, invoke, get_output = self._ip.set_input, self._ip.invoke, self._ip.get_output
        if batch == 1:
            def call(x):
                set_input(x, 0)
                invoke()
                return get_output(0)
        else:
            def call(x):
                out = []
                for k in range(len(x)):
                    set_input(x[k:k + 1], 0)
                    invoke()
                    out.append(get_output(0))
                return out
        return call


class _KerasLoop(RawLoop):
    method = "keras model(x, training=False) to numpy"

    def __init__(self, path: Path, threads: int) -> None:
        from edgemnist.model import load_model

        self._model = load_model(path)

    def prepare(self, batch: int):
        model = self._model

        def call(x):
            return model(x, training=False).numpy()

        return call


#: The raw loop of each registered format (edgemnist.formats names); a format without one is benched
#: through the Predictor only, with a note.
RAW_LOOPS: dict[str, Callable[[Path, int], RawLoop]] = {
    "tflite": _LiteRTLoop, "onnx": _OnnxLoop, "micro": _MicroLoop, "keras": _KerasLoop,
}


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


def _manifest_accuracy(manifest: dict | None) -> tuple[float | None, bool | None]:
    if manifest is None:
        return None, None
    ver = manifest.get("verification") or {}
    acc = ver.get("accuracy")
    return (float(acc) if isinstance(acc, (int, float)) else None), ver.get("passed")


def _label(path: Path, paths: Sequence[Path]) -> str:
    same = [p for p in paths if p.name == path.name]
    return path.name if len(same) <= 1 else f"{path.parent.name}/{path.name}"


def _accuracy(predictor, pixels: np.ndarray, labels: np.ndarray) -> float:
    correct = 0
    for i in range(0, len(pixels), ACCURACY_CHUNK):
        got = predictor.predict(pixels[i:i + ACCURACY_CHUNK]).labels
        correct += int(np.count_nonzero(got == labels[i:i + ACCURACY_CHUNK]))
    return correct / len(labels)


def _check_raw(raw: RawLoop, raw_x: np.ndarray, predictor, pixels: np.ndarray,
               notes: list[str]) -> tuple[float, float]:
    """The raw loop's first inference (ms), and its top-1 agreement with the predictor on the first images:
    if they disagree, they are not running the same model on the same data and no ratio means anything."""
    call = raw.prepare(1)
    t0 = _now()
    call(raw.feed(raw_x[:1]))
    first_ms = _ms_since(t0)
    k = min(AGREEMENT_IMAGES, len(pixels))
    raw_top = np.array([np.asarray(call(raw.feed(raw_x[i:i + 1]))).reshape(-1).argmax() for i in range(k)])
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
    rss_before = _rss()

    say(f"{path.name}: load")
    Predictor.load(path, threads=threads).close()  # imports the runtime; not timed
    gc.collect()
    t0 = _now()
    predictor = Predictor.load(path, threads=threads)
    load_ms = _ms_since(t0)
    one = pixels[:1]
    t0 = _now()
    predictor.predict_proba(one)
    first_ms = _ms_since(t0)
    manifest = predictor.manifest
    fmt = FORMATS[predictor.format]
    m_acc, verified = _manifest_accuracy(manifest)
    io = manifest.get("io") if manifest else None
    if io is None:
        io = "float" if predictor.input.dtype == "float32" else predictor.input.dtype
    details = predictor.describe().get("details", {})
    size = path.stat().st_size
    deploy = int(details.get("flash_bytes") or size)

    if config.accuracy:
        say(f"{path.name}: accuracy on {len(labels)} test images")
        accuracy, acc_source, acc_n = _accuracy(predictor, pixels, labels), "measured", len(labels)
    elif m_acc is not None and verified:
        accuracy, acc_source, acc_n = m_acc, "manifest", (manifest.get("verification") or {}).get("n")
    else:
        accuracy = acc_source = acc_n = None
        notes.append("accuracy not measured and no verified manifest states it")

    raw, raw_x, raw_load_ms, raw_first_ms, raw_agreement = None, None, None, None, None
    if config.raw:
        factory = RAW_LOOPS.get(fmt.name)
        if factory is None:
            notes.append(f"no raw loop for the {fmt.name} format; predictor only")
        else:
            say(f"{path.name}: raw {fmt.runtime} loop")
            t0 = _now()
            try:
                raw = factory(path, threads)
                raw_load_ms = _ms_since(t0)
            except MissingDependencyError as exc:  # e.g. LiteRT through tf.lite without ai-edge-litert
                notes.append(f"no raw loop: {exc}")
    if raw is not None:
        raw_x = to_model_input(pixels, predictor.input)
        raw_first_ms, raw_agreement = _check_raw(raw, raw_x, predictor, pixels, notes)

    measurements: list[Measurement] = []
    for batch in (1, *[b for b in config.batch_sizes if b != 1]):
        if batch > len(pixels):
            notes.append(f"batch {batch} skipped: only {len(pixels)} images")
            continue
        say(f"{path.name}: {'latency, batch 1' if batch == 1 else f'throughput, batch {batch}'}")
        loops = [_Loop("predictor", "Predictor.predict_proba(uint8 pixels)", predictor.predict_proba,
                       _batches(pixels, batch))]
        if raw is not None:
            loops.append(_Loop("raw", raw.method, raw.prepare(batch), [raw.feed(x) for x in _batches(raw_x, batch)]))
        measurements += measure(loops, batch=batch, warmup=_warmup_calls(config.warmup, batch),
                                min_time=config.min_time, min_runs=max(3, -(-config.min_runs // batch)))
    if raw is not None:
        raw.close()
    memory = _memory(rss_before)
    predictor.close()
    return ArtifactResult(
        path=str(path), name=name or path.name, format=fmt.name, quantization=predictor.quantization, io=io,
        runtime=predictor.backend.runtime, threads=threads, size_bytes=size, deploy_bytes=deploy,
        accuracy=_r(accuracy), accuracy_source=acc_source, accuracy_n=acc_n, manifest_accuracy=_r(m_acc),
        verified=verified, load_ms=load_ms, first_inference_ms=first_ms,
        raw_method=None if raw is None else raw.method, raw_load_ms=raw_load_ms,
        raw_first_inference_ms=raw_first_ms, raw_agreement=_r(raw_agreement, 4),
        measurements=tuple(measurements), memory=memory, notes=tuple(notes))


# ============================================================================== the Keras baseline


def find_keras(paths: Sequence[str | Path]) -> Path | None:
    """The source model beside the artifacts: the manifest's ``source.file``, else ``model.keras``."""
    from edgemnist.manifest import read_manifest

    for p in map(Path, paths):
        if p.suffix == ".keras":
            return p
        try:
            m = read_manifest(p)
        except ArtifactError:
            m = None
        src = (m or {}).get("source") or {}
        for candidate in ([p.parent / src["file"]] if isinstance(src.get("file"), str) else []) + [
                p.parent / "model.keras"]:
            if candidate.suffix == ".keras" and candidate.is_file():
                return candidate
    return None


def bench_keras(path: str | Path, config: BenchConfig, images: Any, labels: Any, *,
                progress: Progress | None = None) -> KerasBaseline:
    """``model(x)`` and ``model.predict(x)`` on the .keras model at batch 1 and the largest batch size."""
    from edgemnist._deps import tensorflow
    from edgemnist.manifest import read_manifest
    from edgemnist.model import load_model

    say = progress or (lambda _msg: None)
    path = Path(path)
    pixels, labels = _as_pixels(images, labels)
    notes = []
    say(f"{path.name}: Keras load")
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
    t0 = _now()
    model = load_model(path)
    load_ms = _ms_since(t0)
    x = pixels.astype(np.float32) / np.float32(255.0)
    if config.accuracy:
        say(f"{path.name}: Keras accuracy")
        probs = model.predict(x, batch_size=ACCURACY_CHUNK, verbose=0)
        accuracy, source = float(np.mean(probs.argmax(axis=1) == labels)), "measured"
    else:
        try:
            acc, passed = _manifest_accuracy(read_manifest(path))
        except ArtifactError:
            acc, passed = None, None
        accuracy, source = (acc, "manifest") if acc is not None and passed else (None, None)
    measurements: list[Measurement] = []
    for batch in sorted({1, max(config.batch_sizes)}):
        if batch > len(x):
            continue
        inputs = _batches(x, batch)

        def call(xb, model=model):
            return model(xb, training=False).numpy()

        def predict(xb, model=model, batch=batch):
            return model.predict(xb, batch_size=batch, verbose=0)

        warm = max(2, min(_warmup_calls(config.warmup, batch), KERAS_WARMUP))  # enough to trace and settle
        for subject, method, fn in (("keras.call", "model(x, training=False).numpy()", call),
                                    ("keras.predict", f"model.predict(x, batch_size={batch}, verbose=0)", predict)):
            say(f"{path.name}: Keras {method.split('(')[0]}, batch {batch}")
            measurements += measure([_Loop(subject, method, fn, inputs)], batch=batch, warmup=warm,
                                    min_time=config.min_time, min_runs=config.keras_min_runs)
    return KerasBaseline(str(path), config.threads, intra, _r(accuracy), source, load_ms, tuple(measurements),
                         tuple(notes))


# ============================================================================== a whole run


def keras_available() -> bool:
    """Are TensorFlow and Keras importable (without importing them)?"""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "keras"))


def check_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Fail fast, before any timing: every path exists and has a known suffix."""
    from edgemnist.formats import format_for_path

    if not paths:
        raise ConfigError("nothing to benchmark: pass at least one artifact")
    out = []
    for p in map(Path, paths):
        fmt = format_for_path(p)
        if not p.is_file():
            raise ArtifactError(f"{p}: no such model file" if not p.exists() else f"{p}: not a file; "
                                f"expected a {fmt.suffix} model")
        out.append(p)
    return list(dict.fromkeys(out))


def steps_for(n_artifacts: int, config: BenchConfig, keras: bool) -> int:
    """How many ``progress`` calls ``run_bench`` makes (for a progress bar's total)."""
    per = 1 + int(config.accuracy) + int(config.raw) + len({1, *config.batch_sizes})
    return n_artifacts * per + (1 + int(config.accuracy) + 2 * len({1, max(config.batch_sizes)}) if keras else 0)


def run_bench(paths: Sequence[str | Path], config: BenchConfig | None = None, *, images: Any = None,
              labels: Any = None, data_dir: str | Path | None = None, keras: str | Path | None = "auto",
              progress: Progress | None = None) -> BenchReport:
    """Benchmark every artifact in ``paths``, then the Keras baseline, and describe the machine.

    ``images``/``labels`` default to the MNIST test set (``data_dir``). ``keras``: "auto" finds the source
    model beside the artifacts, a path uses that file, None skips the baseline.
    """
    from edgemnist.manifest import now_iso, read_manifest

    config = config or BenchConfig()
    start = time.perf_counter()
    paths = check_paths(paths)
    notes: list[str] = []
    keras_path = find_keras(paths) if keras == "auto" else (Path(keras) if keras is not None else None)
    if keras == "auto" and keras_path is None:
        notes.append("no Keras baseline: no .keras model beside the artifacts (pass --keras PATH)")
    elif keras is None:
        notes.append("Keras baseline skipped")
    if keras_path is not None and not keras_path.is_file():
        raise ArtifactError(f"{keras_path}: no such Keras model file")
    if keras_path is not None and not keras_available():
        if keras != "auto":  # asked for explicitly: say so before spending time on the artifacts
            from edgemnist._deps import keras as require_keras

            require_keras()
        notes.append("no Keras baseline: TensorFlow/Keras are not installed (pip install 'edgemnist[train]')")
        keras_path = None
    if images is None:
        from edgemnist.data import load_test

        images, labels = load_test(data_dir)
    images, labels = _as_pixels(images, labels)
    machine = machine_info()
    results = []
    for p in paths:
        results.append(bench_artifact(p, config, images, labels, progress=progress, name=_label(p, paths)))
    baseline = None
    if keras_path is not None:
        from edgemnist.fileio import sha256_file

        baseline = bench_keras(keras_path, config, images, labels, progress=progress)
        digest = sha256_file(keras_path)
        for p in paths:
            src = (read_manifest(p) or {}).get("source") or {}
            if src.get("sha256") and src["sha256"] != digest:
                notes.append(f"{p.name} was not exported from {keras_path} (source sha256 differs)")
    try:
        machine["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        pass
    return BenchReport(now_iso(), round(time.perf_counter() - start, 3), config, machine, tuple(results),
                       baseline, tuple(notes))


__all__ = [
    "OVERHEAD_TARGET", "RAW_LOOPS", "SCHEMA", "ArtifactResult", "BenchConfig", "BenchReport", "KerasBaseline",
    "Measurement", "RawLoop", "Stats", "bench_artifact", "bench_keras", "check_paths", "find_keras",
    "machine_info", "measure", "run_bench", "steps_for", "to_model_input",
]
