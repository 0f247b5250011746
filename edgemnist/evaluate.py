"""Accuracy of an artifact on its dataset's test images (MNIST's 10,000), through the same Predictor devices use.

The gate is the essay's 97.88 % less the tolerance on MNIST; an artifact of another dataset is held to its own
float model's accuracy, which its manifest records (``dataset.gate_reference``)."""

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
    per_class: tuple[float, ...]  # accuracy (recall) of each class 0..K-1
    confusion: np.ndarray = field(repr=False)  # (K, K) int64, rows = true label, columns = predicted
    threshold: float  # the gate: gate_reference - tolerance
    tolerance_pp: float
    passed: bool
    manifest_accuracy: float | None  # what export's verification recorded, if there is a manifest
    seconds: float  # inference time for the n images (excluding load)
    load_seconds: float
    threads: int
    weights: str | None = None  # the weights' width as the manifest states it ("4-bit hidden, 8-bit ...")
    gate_reference: float = spec.REFERENCE_ACCURACY
    dataset: str = "MNIST"

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
            "reference_accuracy": self.gate_reference,
            "dataset": self.dataset,
            "passed": self.passed,
            "manifest_accuracy": self.manifest_accuracy,
            "seconds": round(self.seconds, 4),
            "load_seconds": round(self.load_seconds, 4),
            "threads": self.threads,
            "weights": self.weights,
        }


def gate_reference(manifest: dict | None) -> tuple[float, str]:
    """``(reference accuracy, dataset name)`` of an artifact's gate, from its manifest: the essay's 97.88 % for
    MNIST (or when no dataset is recorded), else the dataset's float model's accuracy it records."""
    ds = (manifest or {}).get("dataset")
    if not isinstance(ds, dict) or ds.get("mnist", True):
        return spec.REFERENCE_ACCURACY, "MNIST"
    ref = ds.get("gate_reference")
    if not isinstance(ref, (int, float)):
        ref = ((manifest or {}).get("source") or {}).get("accuracy")
    if not isinstance(ref, (int, float)):
        from edgemnist.errors import ManifestError

        raise ManifestError(f"{ds.get('name')}: the manifest records no float model accuracy to gate against")
    from edgemnist.safetext import safe

    return float(ref), safe(ds.get("name"), 64)


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
    """Run ``path`` on the test set of ``data_dir`` (or ``test_data=(images, labels)``) and gate it.

    The artifact's sha256 is checked against its manifest (ArtifactChangedError); an artifact whose manifest
    records a failed verification is refused (GateError) unless ``allow_unverified``; test data of another
    dataset than the manifest records is refused (DataError). ``manifest``: the record already read beside
    ``path``, handed to ``Predictor.load`` (see there) instead of reading it again.
    """
    from edgemnist.data import check_same_dataset
    from edgemnist.predictor import Predictor

    spec.accuracy_floor(tolerance)  # range check before any work
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
        recorded = (predictor.manifest or {}).get("dataset")
        if getattr(test_data, "dataset", None) is not None:
            check_same_dataset(recorded, test_data.dataset, str(path))
        reference, dataset = gate_reference(predictor.manifest)
        threshold = spec.accuracy_floor(tolerance, reference)
        k = predictor.num_classes
        if len(labels) and int(np.max(labels)) >= k:
            raise ConfigError(f"{path}: answers {k} classes, but the test labels go up to {int(np.max(labels))}")
        start = time.perf_counter()
        predicted = np.concatenate(
            [predictor.predict(images[i : i + batch_size]).labels for i in range(0, len(images), batch_size)]
        )
        seconds = time.perf_counter() - start
    finally:
        predictor.close()
    confusion = confusion_matrix(labels, predicted, k)
    per_class = tuple(float(confusion[c, c] / max(1, confusion[c].sum())) for c in range(k))
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
        gate_reference=reference,
        dataset=dataset,
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
    lines.append("       " + "".join(f"{c:>6}" for c in range(len(r.per_class))))
    for c, row in enumerate(r.confusion):
        lines.append(f"    {c:>2} " + "".join(f"{v:>6}" for v in row))
    verdict = "PASS" if r.passed else "FAIL"
    lines.append(
        f"  {verdict}: {r.accuracy:.2%} {'>=' if r.passed else '<'} {r.threshold:.2%} "
        f"(= {spec.gate_text(r.gate_reference, r.tolerance_pp, r.dataset)})"
    )
    return "\n".join(lines)
