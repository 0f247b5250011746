"""What ``edgemnist bench`` reports: one ``ArtifactResult`` per artifact and the ``BenchReport`` of a run, as plain
data with stable keys (``to_dict``; ``schema`` names the version). Renderers read that data, never these classes."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from edgemnist.bench.config import BenchConfig
from edgemnist.bench.timing import BLOCKS, OUTLIER_RULE, Measurement
from edgemnist.bench.timing import rounded as _r

SCHEMA = "edgemnist.bench/2"
#: The predictor may cost at most this much more than the raw runtime loop at batch-1 p50 (recorded in the JSON).
OVERHEAD_TARGET = 1.3


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
    memory: dict[str, Any]  # {"load_rss_increase_bytes", "method"}
    notes: tuple[str, ...] = ()
    native: dict[str, Any] | None = None  # the backend's NativeLoop: {"method", "images", "latency_ms", ...}

    def measurement(self, subject: str = "predictor", batch: int = 1) -> Measurement | None:
        return next((m for m in self.measurements if m.subject == subject and m.batch == batch), None)

    @property
    def overhead(self) -> dict[str, Any] | None:
        """Predictor vs raw loop at batch 1 (ratios > 1: the predictor is slower), flagged against the target."""
        p, r = self.measurement("predictor"), self.measurement("raw")
        if p is None or r is None:
            return None
        ratio = p.latency.p50 / r.latency.p50
        return {
            "p50_ratio": _r(ratio, 4),
            "mean_ratio": _r(p.latency.mean / r.latency.mean, 4),
            "target_p50_ratio": OVERHEAD_TARGET,
            "within_target": bool(ratio <= OVERHEAD_TARGET),
        }

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["measurements"] = [m.to_dict() for m in self.measurements]
        d["notes"] = list(self.notes)
        d["overhead"] = self.overhead
        return d


@dataclass(frozen=True)
class BenchReport:
    created: str
    wall_seconds: float
    config: BenchConfig
    machine: dict[str, Any]
    artifacts: tuple[ArtifactResult, ...]
    keras: dict[str, Any] | None  # bench_keras' result
    memory: dict[str, Any]  # {"peak_rss_bytes", "method"}: the whole process
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
            "keras": self.keras,
            "memory": self.memory,
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"
