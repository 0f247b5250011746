"""Keras -> TensorFlow Lite Micro: the full-integer int8 model as a C array, with the arena it really needs.

A thin layer over ``edgemnist.tflm``: ``export_micro`` builds the int8 TFLite model with int8 I/O
(``edgemnist.export.tflite.export_tflite``), measures the smallest arena (``tflm.arena``) and writes
``model_data.cc`` with its companion ``model_data.h`` (``tflm.writer``, read back by ``tflm.reader``). ``measure``
runs the array in TFLM at its stated arena on the test set and compares it with LiteRT on the same int8 bytes.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.errors import ArtifactError, ConfigError
from edgemnist.export.base import Exporter, ExportJob, ExportResult
from edgemnist.fileio import atomic_write_text, sha256_file
from edgemnist.modelfacts import parse_facts
from edgemnist.tflm.arena import MEASURED_WITH, ensure_runs, min_arena_bytes, round_up
from edgemnist.tflm.layout import ARENA_SYMBOL, ARRAY_SYMBOL, HEADER_NAME, LENGTH_SYMBOL
from edgemnist.tflm.reader import read_micro
from edgemnist.tflm.runner import MicroRunner, Quant, quantize_pixels
from edgemnist.tflm.writer import render_header, render_source

#: TFLM and LiteRT run the same int8 bytes; their top-1 answers must agree on at least this share of images.
MIN_LITERT_AGREEMENT = 0.995


def _litert_outputs(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    from edgemnist._deps import require

    litert = require("ai_edge_litert.interpreter", "litert", what="ai-edge-litert")
    it = litert.Interpreter(model_content=model_bytes, num_threads=1)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    it.resize_tensor_input(inp["index"], [len(x), spec.INPUT_SIZE])
    it.allocate_tensors()
    it.set_tensor(inp["index"], x)
    it.invoke()
    return it.get_tensor(out["index"])


def verify_micro(
    cc_path: str | Path,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    compare_litert: bool = True,
    header: str | Path | None = None,
) -> dict[str, Any]:
    """Run the array in TFLM at its stated arena on ``images`` (uint8 MNIST) and measure what it gets.

    Returns accuracy, ms per image (one invoke per image, reference kernels), and, with ``compare_litert``,
    agreement with LiteRT on the same int8 bytes: argmax agreement, the share of images whose int8 class
    scores are bit-identical, and the largest difference in int8 steps.
    """
    micro = read_micro(cc_path, header)
    if micro.arena_bytes <= 0:
        raise ArtifactError(f"{micro.header_path}: no {ARENA_SYMBOL}; re-export the micro artifact")
    x = quantize_pixels(images)
    ensure_runs(micro.model_bytes, micro.arena_bytes)  # a header's arena is run in a child first
    runner = MicroRunner(micro.model_bytes, micro.arena_bytes)
    start = time.perf_counter()
    q = runner.run(x)
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {
        "runtime": "TFLite Micro",
        "n": int(len(x)),
        "accuracy": float(np.mean(q.argmax(1) == labels)),
        "ms_per_image": round(1e3 * seconds / max(len(x), 1), 4),
        "arena_bytes": micro.arena_bytes,
    }
    if compare_litert:
        ref = _litert_outputs(micro.model_bytes, x)
        diff = np.abs(q.astype(np.int16) - ref.astype(np.int16))
        result["litert"] = {
            "agreement": float(np.mean(q.argmax(1) == ref.argmax(1))),
            "identical_outputs": float(np.mean(diff.max(axis=1) == 0)),
            "max_abs_diff_int8_steps": int(diff.max()),
            "max_abs_diff": float(diff.max() * micro.output.scale),
        }
    return result


def describe(cc_path: str | Path, header: str | Path | None = None) -> dict[str, Any]:
    """Manifest facts of a micro artifact: I/O tensors and the ``micro`` section (arena, flash, header...)."""
    from edgemnist.manifest import tensor_info

    micro = read_micro(cc_path, header)
    return {
        "input": tensor_info(spec.INPUT_NAME, (1, spec.INPUT_SIZE), "int8", micro.input.scale, micro.input.zero_point),
        "output": tensor_info(
            spec.OUTPUT_NAME, (1, micro.num_classes), "int8", micro.output.scale, micro.output.zero_point
        ),
        "micro": {
            "arena_bytes": micro.arena_bytes,
            "arena_min_bytes": micro.arena_min_bytes,
            "arena_alignment": micro.arena_alignment,
            "arena_measured_with": MEASURED_WITH,
            "flash_bytes": micro.flash_bytes,
            "tflite_sha256": micro.tflite_sha256,
            # Landed as model_data.h whatever the (temporary) name it was read under.
            "header": {"file": HEADER_NAME, "sha256": sha256_file(micro.header_path)} if micro.arena_bytes else None,
            "symbols": {"array": ARRAY_SYMBOL, "length": LENGTH_SYMBOL, "arena": ARENA_SYMBOL},
        },
    }


def check(facts: dict[str, Any], mode: str, io: str) -> list[str]:
    """Every way a micro artifact differs from what it claims (int8, int8 I/O, a header with its arena)."""
    problems = []
    if mode != "int8" or io != "int8":
        problems.append(f"micro is int8 with int8 I/O only, not {mode} / {io}")
    for key in ("input", "output"):
        if facts[key]["dtype"] != "int8":
            problems.append(f"{key} is {facts[key]['dtype']}, expected int8")
    if not facts["micro"]["arena_bytes"]:
        problems.append(f"no {HEADER_NAME} for this array beside it (or it states another model's sha256)")
    return problems


def measure(
    cc_path: str | Path, images: np.ndarray, labels: np.ndarray, header: str | Path | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The export gate's micro-specific part: ``verify_micro`` on the test set, and its failures."""
    result = verify_micro(cc_path, images, labels, header=header)
    problems = []
    agreement = result["litert"]["agreement"]
    if agreement < MIN_LITERT_AGREEMENT:
        problems.append(
            f"TFLM and LiteRT agree on only {agreement:.2%} of top-1 answers "
            f"(< {MIN_LITERT_AGREEMENT:.1%}) on the same int8 model"
        )
    return {"tflm": result}, problems


def summary(manifest: dict[str, Any]) -> str | None:
    """One line for ``edgemnist export``: what the device needs and what TFLM measured."""
    facts = manifest.get("micro")
    if not facts:
        return None
    from edgemnist.units import bytes_text, size_text

    line = (
        f"  TFLite Micro: arena {bytes_text(facts['arena_bytes'])} (smallest that ran in the tflite-micro Python "
        f"interpreter: {bytes_text(facts['arena_min_bytes'])}, rounded up to {facts['arena_alignment']}); "
        f"model {size_text(facts['flash_bytes'])} in flash (the model only, not TFLM's code)"
    )
    tflm = facts.get("tflm")
    if tflm:
        line += (
            f"; TFLM accuracy {tflm['accuracy']:.2%} on {tflm['n']} images, "
            f"top-1 agreement with LiteRT {tflm['litert']['agreement']:.2%}, {tflm['ms_per_image']:.2f} ms/image"
        )
    for key, probe in (facts.get("packed") or {}).items():
        what = f"packed {probe['type']} {key.replace('_', '-')}"
        if not probe["runs"]:
            line += f"; {what}: TFLM does not run it"
        else:
            line += (
                f"; {what}: {size_text(probe['bytes'])} ({size_text(probe['flash_saved_bytes'])} less flash), arena "
                f"{bytes_text(probe['arena_bytes'])}, TFLM accuracy {probe['accuracy']:.2%}"
            )
    return line


def export_micro(
    model,
    out_path: str | Path,
    config,
    calibration=None,
    *,
    header: str | Path | None = None,
    source: tuple[str, str] | None = None,
    model_bytes: bytes | None = None,
) -> Path:
    """Write ``out_path`` (model_data.cc) and its header (``header``, default ``<stem>.h`` beside it); return the
    .cc path.

    ``model`` and ``calibration`` go to ``export_tflite`` (int8, int8 I/O); ``source`` (name and sha256 of the
    .keras file) only names the source in the generated comments. ``model_bytes``, when given, is the int8
    .tflite to embed instead (``--weight-bits 4|2``: ``edgemnist.export.lowbit``'s int8 container).
    """
    from edgemnist.export.tflite import export_tflite

    out_path = Path(out_path)
    if out_path.suffix != ".cc":
        raise ConfigError(f"{out_path}: a TFLite Micro artifact is a C++ source file ending in .cc")
    if getattr(config, "mode", "int8") != "int8" or getattr(config, "io", "int8") not in (None, "int8"):
        raise ConfigError(f"micro is int8 with int8 I/O only, got {config.mode} / {config.io}")
    if calibration is None and model_bytes is None:
        raise ConfigError("micro int8 needs calibration images (a representative dataset)")
    if model_bytes is None:
        tflite_config = dataclasses.replace(config, format="tflite", mode="int8", io="int8")
        with tempfile.TemporaryDirectory(prefix="edgemnist-micro-") as tmp:
            path = export_tflite(model, Path(tmp) / "model.int8.tflite", tflite_config, calibration)
            model_bytes = path.read_bytes()

    arena_min = min_arena_bytes(model_bytes)
    arena = round_up(arena_min)
    ensure_runs(model_bytes, arena)  # in a child: TFLM allocates and runs the model in that arena
    facts = parse_facts(model_bytes, str(out_path))  # the header states the file's quantization, read from it
    name, sha = source if source is not None else (None, None)
    text = render_header(
        model_bytes=model_bytes,
        arena_bytes=arena,
        arena_min_bytes=arena_min,
        input=_quant(facts.input),
        output=_quant(facts.output),
        source=name,
        source_sha256=sha,
        num_classes=facts.output_size,
    )
    # During an export both paths are hidden temporaries; the pipeline lands the header only together with a
    # .cc that passed verification.
    atomic_write_text(Path(header) if header is not None else out_path.with_suffix(".h"), text)
    atomic_write_text(out_path, render_source(model_bytes, source_sha256=sha))
    return out_path


def _quant(tensor) -> Quant:
    return Quant(float(tensor.scales[0]), int(tensor.zero_points[0]))


def _tflm_probe(packed: bytes, images: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Whether TFLM runs ``packed`` at all (the smallest arena, searched up to ``tflm.arena.MAX_ARENA_BYTES`` in
    child processes) and, when it does, its accuracy on ``images`` at that arena; TFLM's reason when it does not."""
    try:
        arena_min = min_arena_bytes(packed)
    except ArtifactError as exc:
        return {"runs": False, "why": str(exc)}
    arena = round_up(arena_min)
    ensure_runs(packed, arena)
    q = MicroRunner(packed, arena).run(quantize_pixels(images))
    return {
        "runs": True,
        "arena_min_bytes": arena_min,
        "arena_bytes": arena,
        "n": int(len(images)),
        "accuracy": float(np.mean(q.argmax(1) == labels)),
    }


def packed_probes(job: ExportJob, model_bytes: bytes, arena_bytes: int) -> dict[str, Any]:
    """What TFLM does with the low-bit weights packed: the same model with its per-channel filter packed
    (``lowbit.pack``, the form LiteRT runs), and a per-tensor variant (``lowbit.per_tensor_packed``, one scale for
    the whole filter: another model, with its own accuracy). Each: bytes, flash saved against the int8 array,
    whether TFLM runs it, its arena (what it costs in RAM against the int8 array's) and TFLM's accuracy."""
    from edgemnist.export import lowbit

    c, data = job.config, job.source.data
    per_tensor, recipe = lowbit.per_tensor_packed(
        job.model, c.weight_bits, data, c.seed, calibration_samples=c.calibration_samples
    )
    out: dict[str, Any] = {}
    for key, packed, extra in (
        ("per_channel", lowbit.pack(model_bytes, c.weight_bits), {"model": "the same weights as the array"}),
        ("per_tensor", per_tensor, {"model": "another model: one scale for the hidden filter", "recipe": recipe}),
    ):
        result = {
            "type": lowbit.PACKED_TYPES[c.weight_bits].lower(),
            "bytes": len(packed),
            "flash_saved_bytes": len(model_bytes) - len(packed),
            **extra,
            **_tflm_probe(packed, data.test_images, data.test_labels),
        }
        if result["runs"]:
            result["arena_extra_bytes"] = result["arena_bytes"] - arena_bytes
        out[key] = result
    return out


class MicroExporter(Exporter):
    """Keras -> model_data.cc + model_data.h; ``measure`` runs TFLM on the test set against LiteRT.

    ``--weight-bits 4|2``: the array holds the low-bit int8 .tflite (``edgemnist.export.lowbit``), which TFLM
    runs unchanged; ``measure`` also records what TFLM does with packed forms (``packed_probes``)."""

    def companions(self, target: Path) -> tuple[str, ...]:
        return (HEADER_NAME,)

    def _low_bit(self, job: ExportJob):
        c = job.config
        return job.source.low_bit(c.weight_bits, "int8", c.calibration_samples, c.seed)

    def export(self, job: ExportJob) -> None:
        files = job.files
        export_micro(
            job.model,
            files.path,
            job.config,
            job.calibration,
            header=files.companion(HEADER_NAME),
            source=(job.source.path.name, job.source.sha256),
            model_bytes=self._low_bit(job)[0] if job.config.low_bit else None,
        )

    def describe(self, job: ExportJob) -> dict[str, Any]:
        facts = describe(job.files.path, job.files.companion(HEADER_NAME))
        if job.config.low_bit:
            from edgemnist.export import lowbit

            micro = read_micro(job.files.path, job.files.companion(HEADER_NAME))
            facts["weights"] = lowbit.weight_facts(micro.model_bytes, self._low_bit(job)[1])
        return facts

    def check(self, job: ExportJob, facts: dict[str, Any]) -> list[str]:
        problems = check(facts, job.config.mode, job.config.io)
        if job.config.low_bit:
            from edgemnist.export import lowbit

            problems += lowbit.weight_problems(facts["weights"], job.config.weight_bits, packed=False)
        return problems

    def measure(self, job: ExportJob) -> tuple[dict[str, Any], list[str]]:
        data = job.source.data
        section, problems = measure(
            job.files.path, data.test_images, data.test_labels, job.files.companion(HEADER_NAME)
        )
        if job.config.low_bit:
            micro = read_micro(job.files.path, job.files.companion(HEADER_NAME))
            section["packed"] = packed_probes(job, micro.model_bytes, micro.arena_bytes)
        return section, problems

    def summary(self, result: ExportResult) -> str | None:
        return summary(result.manifest)


EXPORTER = MicroExporter()
