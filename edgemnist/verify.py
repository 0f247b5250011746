"""Verify an artifact in its real runtime against the Keras model on its dataset's test images (MNIST's 10,000).

``verify`` runs the artifact through ``edgemnist.predictor.Predictor`` (the same code path a device user
gets), measures accuracy, top-1 agreement with the reference probabilities and the largest absolute
difference of probabilities, collects every failure into a ``Report`` and raises nothing for a failed
check: the caller decides (``edgemnist export`` renames a failed artifact ``.rejected``).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.errors import InputError

PROB_SUM_ATOL = spec.PROB_SUM_ATOL


@dataclass(frozen=True)
class Report:
    """What ``verify`` measured, and every reason it failed (empty when it passed)."""

    artifact: str
    passed: bool
    n: int
    accuracy: float
    agreement: float  # top-1 agreement with the reference model
    max_abs_diff: float  # max |p_artifact - p_reference| over all images and classes
    mean_abs_diff: float
    threshold: float  # accuracy floor: gate_reference - tolerance
    tolerance_pp: float
    reference_accuracy: float  # of the reference probabilities (the Keras model) on the same images
    max_abs_diff_limit: float | None  # set for float32 artifacts, which must match the reference
    reasons: tuple[str, ...]
    seconds: float
    gate_reference: float = spec.REFERENCE_ACCURACY  # the essay's on MNIST, the float model's on another dataset
    dataset: str = "MNIST"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["reasons"] = list(self.reasons)
        d["gate"] = f"accuracy >= {spec.gate_text(self.gate_reference, self.tolerance_pp, self.dataset)}"
        return d

    def summary(self) -> str:
        return f"accuracy {self.accuracy:.2%}  agreement {self.agreement:.2%}  max|dp| {self.max_abs_diff:.2g}"


def _check_inputs(reference_probs, images, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    reference = np.asarray(reference_probs, dtype=np.float32)
    images = np.asarray(images)
    labels = np.asarray(labels)
    n = len(labels)
    if labels.ndim != 1 or n == 0:
        raise InputError(f"labels must be a non-empty 1-D array, got shape {labels.shape}")
    if reference.ndim != 2 or len(reference) != n or not spec.MIN_CLASSES <= reference.shape[1] <= spec.MAX_CLASSES:
        raise InputError(f"reference probabilities must have shape ({n}, K), got {reference.shape}")
    if len(images) != n:
        raise InputError(f"{len(images)} images but {n} labels")
    return reference, images, labels.astype(np.int64)


def verify(
    artifact_path: str | Path,
    reference_probs,
    images,
    labels,
    tolerance_pp: float = spec.DEFAULT_TOLERANCE_PP,
    *,
    max_abs_diff: float | None = None,
    threads: int = 1,
    gate_reference: float = spec.REFERENCE_ACCURACY,
    dataset: str = "MNIST",
) -> Report:
    """Load ``artifact_path`` and ``verify_predictor`` it.

    The artifact is loaded with ``check_hash=False, allow_unverified=True``: verification is what decides.
    """
    from edgemnist.predictor import Predictor

    start = time.perf_counter()
    with Predictor.load(
        artifact_path, threads=threads, check_hash=False, allow_unverified=True, self_test=False
    ) as predictor:  # non-finite or non-summing output is a reason below
        load_seconds = time.perf_counter() - start
        report = verify_predictor(
            predictor,
            reference_probs,
            images,
            labels,
            tolerance_pp,
            max_abs_diff=max_abs_diff,
            artifact=str(artifact_path),
            gate_reference=gate_reference,
            dataset=dataset,
        )
    return replace(report, seconds=report.seconds + load_seconds)


def verify_predictor(
    predictor,
    reference_probs,
    images,
    labels,
    tolerance_pp: float = spec.DEFAULT_TOLERANCE_PP,
    *,
    max_abs_diff: float | None = None,
    artifact: str | None = None,
    gate_reference: float = spec.REFERENCE_ACCURACY,
    dataset: str = "MNIST",
) -> Report:
    """Run ``predictor`` on ``images`` and compare with ``labels`` and ``reference_probs``.

    Fails (``Report.passed`` False, with reasons) when accuracy is below
    ``accuracy_floor(tolerance_pp, gate_reference)``, when ``max_abs_diff`` is given and exceeded, or when the
    output is not (N, K) finite probabilities, K the reference's class count.
    """
    floor = spec.accuracy_floor(tolerance_pp, gate_reference)
    reference, images, labels = _check_inputs(reference_probs, images, labels)
    artifact = artifact if artifact is not None else str(predictor.path)
    start = time.perf_counter()
    probs = np.asarray(predictor.predict_proba(images), dtype=np.float32)
    seconds = time.perf_counter() - start

    n = len(labels)
    reasons = []
    if probs.shape != reference.shape:
        reasons.append(f"output shape {probs.shape}, expected {reference.shape}")
        nan = float("nan")
        return Report(
            artifact,
            False,
            n,
            nan,
            nan,
            nan,
            nan,
            floor,
            tolerance_pp,
            float(np.mean(reference.argmax(1) == labels)),
            max_abs_diff,
            tuple(reasons),
            seconds,
            gate_reference,
            dataset,
        )
    if not np.isfinite(probs).all():
        reasons.append(f"{int((~np.isfinite(probs)).sum())} non-finite output values")
    sums = probs.sum(axis=1)
    worst_sum = float(np.max(np.abs(sums - 1.0))) if np.isfinite(sums).all() else math.inf
    atol = spec.prob_sum_atol(reference.shape[1])
    if worst_sum > atol:
        reasons.append(f"probabilities do not sum to 1 (off by up to {worst_sum:.3g} > {atol:g})")
    top1 = probs.argmax(axis=1)
    accuracy = float(np.mean(top1 == labels))
    agreement = float(np.mean(top1 == reference.argmax(axis=1)))
    diff = np.abs(probs.astype(np.float64) - reference.astype(np.float64))
    max_diff = float(np.nanmax(diff)) if np.isfinite(diff).any() else math.inf
    mean_diff = float(np.nanmean(diff)) if np.isfinite(diff).any() else math.inf
    if not spec.passes(accuracy, floor):
        reasons.append(
            f"accuracy {accuracy:.2%} < gate {floor:.2%} ({spec.gate_text(gate_reference, tolerance_pp, dataset)})"
        )
    if max_abs_diff is not None and not max_diff <= max_abs_diff:
        reasons.append(f"max |p - p_keras| {max_diff:.3g} > {max_abs_diff:g} (a float32 artifact must match Keras)")
    return Report(
        artifact=artifact,
        passed=not reasons,
        n=n,
        accuracy=accuracy,
        agreement=agreement,
        max_abs_diff=max_diff,
        mean_abs_diff=mean_diff,
        threshold=floor,
        tolerance_pp=float(tolerance_pp),
        reference_accuracy=float(np.mean(reference.argmax(axis=1) == labels)),
        max_abs_diff_limit=max_abs_diff,
        reasons=tuple(reasons),
        seconds=seconds,
        gate_reference=gate_reference,
        dataset=dataset,
    )
