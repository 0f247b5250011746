"""The Keras source model as users run it (``model(x)`` and ``model.predict``): the bench's baseline."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edgemnist import spec

#: Images the predictor and the raw loop must agree on (top-1) before their timings are compared.
from edgemnist.bench.artifact import Progress, accuracy_for, as_pixels
from edgemnist.bench.config import BenchConfig
from edgemnist.bench.timing import Loop, Measurement, batches, measure, ms_since, warmup_calls
from edgemnist.errors import ArtifactError

#: At most this many warm-up calls for Keras' loops (model.predict costs tens of ms per call).
KERAS_WARMUP = 5


# ============================================================================== the Keras baseline


def find_keras(paths: Sequence[str | Path], manifests: Mapping[Path, dict | None] | None = None) -> Path | None:
    """The source model beside the artifacts: the manifest's ``source.file``, else ``model.keras``.
    ``manifests``: the records already read beside the paths (by path), handed along instead of reading them."""
    from edgemnist.manifest import read_manifest

    for p in map(Path, paths):
        if p.suffix == ".keras":
            return p
        try:
            manifest = manifests[p] if manifests is not None and p in manifests else read_manifest(p)
        except ArtifactError:
            manifest = None
        src = (manifest or {}).get("source") or {}
        name = src.get("file")
        # A plain file name beside the artifact, never a path: a manifest must not steer us elsewhere.
        plain = isinstance(name, str) and name not in ("", ".", "..") and Path(name).name == name and "\\" not in name
        named = [p.parent / name] if plain else []
        for candidate in [*named, p.parent / "model.keras"]:
            if candidate.suffix == ".keras" and candidate.is_file():
                return candidate
    return None


def bench_keras(
    path: str | Path, config: BenchConfig, images: Any, labels: Any, *, progress: Progress | None = None
) -> dict[str, Any]:
    """The source model as Keras users run it: ``model(x)`` and ``model.predict(x)``, interleaved, at batch 1
    and the largest batch size; plus its accuracy and load time. Returns the report's ``keras`` entry."""
    from edgemnist._deps import tensorflow
    from edgemnist.manifest import read_manifest
    from edgemnist.model import load_model

    say = progress or (lambda _msg: None)
    path = Path(path)
    pixels, labels = as_pixels(images, labels)
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
        notes.append(
            f"TensorFlow was already running, so its intra-op threads stay at {intra} "
            f"(0 = all cores), not {config.threads}"
        )
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
    accuracy, source, _n = accuracy_for(path, manifest, config, pixels, labels, notes)
    x = spec.to_unit_floats(pixels)
    measurements: list[Measurement] = []
    for batch in sorted({1, max(config.batch_sizes)} & set(range(1, len(x) + 1))):
        say(f"model(x) and model.predict, batch {batch}")
        loops = [
            Loop(
                "keras.call",
                "model(x, training=False).numpy()",
                lambda xb: model(xb, training=False).numpy(),
                batches(x, batch),
            ),
            Loop(
                "keras.predict",
                f"model.predict(x, batch_size={batch}, verbose=0)",
                lambda xb, b=batch: model.predict(xb, batch_size=b, verbose=0),
                batches(x, batch),
            ),
        ]
        warm = max(2, min(warmup_calls(config.warmup, batch), KERAS_WARMUP))  # enough to trace and settle
        measurements += measure(
            loops, batch=batch, warmup=warm, min_time=config.min_time, min_runs=config.keras_min_runs
        )
    return {
        "path": str(path),
        "threads": config.threads,
        "intra_op_threads": intra,
        "accuracy": accuracy,
        "accuracy_source": source,
        "load_ms": load_ms,
        "measurements": [m.to_dict() for m in measurements],
        "notes": notes,
    }
