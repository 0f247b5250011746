"""Accuracy of an artifact on the 10,000 MNIST test images, through the same Predictor devices use."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.errors import ConfigError
from edgemnist.manifest import FROM_FILE, weights_text

BATCH_SIZE = 500


@dataclass(frozen=True)
class EvalReport:
    path: str
    format: str
    quantization: str
    runtime: str
    n: int
    accuracy: float
    per_class: tuple[float, ...]  # accuracy (recall) of each digit 0-9
    confusion: np.ndarray = field(repr=False)  # (10, 10) int64, rows = true label, columns = predicted
    threshold: float  # the gate: REFERENCE_ACCURACY - tolerance
    tolerance_pp: float
    passed: bool
    manifest_accuracy: float | None  # what export's verification recorded, if there is a manifest
    seconds: float  # inference time for the n images (excluding load)
    load_seconds: float
    threads: int
    weights: str | None = None  # the weights' width as the manifest states it ("4-bit hidden, 8-bit ...")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "quantization": self.quantization,
            "runtime": self.runtime,
            "n": self.n,
            "accuracy": self.accuracy,
            "per_class": list(self.per_class),
            "confusion": self.confusion.tolist(),
            "threshold": self.threshold,
            "tolerance_pp": self.tolerance_pp,
            "reference_accuracy": spec.REFERENCE_ACCURACY,
            "passed": self.passed,
            "manifest_accuracy": self.manifest_accuracy,
            "seconds": round(self.seconds, 4),
            "load_seconds": round(self.load_seconds, 4),
            "threads": self.threads,
            "weights": self.weights,
        }


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, k: int = spec.NUM_CLASSES) -> np.ndarray:
    return np.bincount(labels.astype(np.int64) * k + predicted.astype(np.int64), minlength=k * k).reshape(k, k)


def evaluate(
    path: str | Path,
    data_dir: str | Path | None = None,
    tolerance: float = spec.DEFAULT_TOLERANCE_PP,
    threads: int = 1,
    *,
    allow_unverified: bool = False,
    test_data: tuple[np.ndarray, np.ndarray] | None = None,
    public_key=None,
    manifest: Any = FROM_FILE,
    batch_size: int = BATCH_SIZE,
) -> EvalReport:
    """Run ``path`` on the MNIST test set (or ``test_data=(images, labels)``) and gate it.

    The artifact's sha256 is checked against its manifest (ArtifactChangedError); an artifact whose manifest
    records a failed verification is refused (GateError) unless ``allow_unverified``. ``manifest``: the record
    already read beside ``path``, handed to ``Predictor.load`` (see there) instead of reading it again.
    """
    from edgemnist.predictor import Predictor

    threshold = spec.accuracy_floor(tolerance)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch size must be a positive integer, got {batch_size!r}")
    if test_data is None:
        from edgemnist.data import load_test

        test_data = load_test(data_dir)
    images, labels = test_data
    start = time.perf_counter()
    predictor = Predictor.load(
        path, threads=threads, allow_unverified=allow_unverified, public_key=public_key, manifest=manifest
    )
    load_seconds = time.perf_counter() - start
    try:
        start = time.perf_counter()
        predicted = np.concatenate(
            [predictor.predict(images[i : i + batch_size]).labels for i in range(0, len(images), batch_size)]
        )
        seconds = time.perf_counter() - start
    finally:
        predictor.close()
    confusion = confusion_matrix(labels, predicted)
    per_class = tuple(float(confusion[c, c] / max(1, confusion[c].sum())) for c in range(spec.NUM_CLASSES))
    accuracy = float(np.trace(confusion) / len(labels))
    ver = (predictor.manifest or {}).get("verification") or {}
    manifest_acc = ver.get("accuracy")
    return EvalReport(
        path=str(path),
        format=predictor.format or "?",
        quantization=predictor.quantization,
        runtime=predictor.backend.runtime,
        n=int(len(labels)),
        accuracy=accuracy,
        per_class=per_class,
        confusion=confusion,
        threshold=threshold,
        tolerance_pp=float(tolerance),
        passed=spec.passes(accuracy, threshold),
        manifest_accuracy=float(manifest_acc) if isinstance(manifest_acc, (int, float)) else None,
        seconds=seconds,
        load_seconds=load_seconds,
        threads=threads,
        weights=weights_text(predictor.manifest),
    )


def format_report(r: EvalReport) -> str:
    """Plain-text report: accuracy, per-class accuracy, confusion matrix, verdict."""
    weights = "" if r.weights is None else f", weights {r.weights}"
    threads = f"{r.threads} thread{'s' if r.threads > 1 else ''}"
    lines = [f"{r.path}  [{r.format} {r.quantization}{weights}, {r.runtime}, {threads}]"]
    recorded = "" if r.manifest_accuracy is None else f"  (manifest: {r.manifest_accuracy:.2%})"
    lines.append(f"  accuracy {r.accuracy:.2%} on {r.n} test images{recorded}")
    lines.append(
        f"  {r.seconds:.2f} s ({r.n / max(r.seconds, 1e-9):,.0f} images/s), load {r.load_seconds * 1e3:.0f} ms"
    )
    lines.append("  per class, %: " + " ".join(f"{c}:{100 * a:.2f}" for c, a in enumerate(r.per_class)))
    lines.append("  confusion (rows true, columns predicted):")
    lines.append("       " + "".join(f"{c:>6}" for c in range(spec.NUM_CLASSES)))
    for c, row in enumerate(r.confusion):
        lines.append(f"    {c:>2} " + "".join(f"{v:>6}" for v in row))
    verdict = "PASS" if r.passed else "FAIL"
    lines.append(
        f"  {verdict}: {r.accuracy:.2%} {'>=' if r.passed else '<'} {r.threshold:.2%} "
        f"(= {spec.REFERENCE_ACCURACY:.2%} - {r.tolerance_pp:g} pp)"
    )
    return "\n".join(lines)
