"""A packed low-bit artifact (``--weight-bits 4|2 --packed``) against its int8 container, in the format's own
runtime: the comparison the manifest records, the gate on it and the line ``edgemnist export`` prints under it.
The .tflite and .onnx exporters share it (``measure``, ``summary``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: A packed artifact and its int8 container hold the same weights: their top-1 answers must agree this often.
MIN_PACKED_AGREEMENT = 0.999


def compare(packed: str | Path, reference: str | Path, images: np.ndarray, runtime: str) -> dict[str, Any]:
    """The Predictor (``runtime``: its name, for the record) on the packed file and on its int8 container, same
    inputs: top-1 agreement, the share of images with identical outputs, the largest |dp| between their
    (dequantized) probabilities, and both sizes."""
    from edgemnist.predictor import Predictor

    outs = []
    for path in (packed, reference):
        with Predictor.load(path, threads=1, check_hash=False, allow_unverified=True, self_test=False) as p:
            outs.append(p.predict_proba(images))
    a, b = outs
    return {
        "reference": {"artifact": Path(reference).name, "bytes": Path(reference).stat().st_size},
        "runtime": runtime,
        "n": int(len(images)),
        "agreement": float(np.mean(a.argmax(1) == b.argmax(1))),
        "identical_outputs": float(np.mean((a == b).all(axis=1))),
        "max_abs_diff": float(np.abs(a - b).max()),
        "bytes": Path(packed).stat().st_size,
    }


def measure(job, runtime: str) -> tuple[dict[str, Any], list[str]]:
    """An exporter's ``measure`` for a packed ``job``: ``{"packed": compare(...)}`` on the test images and the
    problem when the agreement is under ``MIN_PACKED_AGREEMENT``."""
    result = compare(job.files.path, job.input.path, job.source.data.test_images, runtime)
    problems = []
    if result["agreement"] < MIN_PACKED_AGREEMENT:
        problems.append(
            f"the packed model and its int8 container agree on only {result['agreement']:.2%} of top-1 "
            f"answers in {runtime} (< {MIN_PACKED_AGREEMENT:.1%})"
        )
    return {"packed": result}, problems


def summary(result) -> str | None:
    """An exporter's ``summary``: the packed comparison of a landed ``ExportResult`` (None when it has none)."""
    packed = (result.manifest.get(result.config.format) or {}).get("packed")
    if not packed:
        return None
    from edgemnist.units import size_text

    return (
        f"  packed {result.config.weight_bits}-bit weights: {size_text(packed['bytes'])} vs "
        f"{size_text(packed['reference']['bytes'])} for {packed['reference']['artifact']}; {packed['runtime']} "
        f"top-1 agreement {packed['agreement']:.2%}, identical outputs {packed['identical_outputs']:.2%}, "
        f"max|dp| {packed['max_abs_diff']:.2g}"
    )
