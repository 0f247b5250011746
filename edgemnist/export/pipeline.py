"""The export pipeline: one artifact, top to bottom.

``export_prepared(source, config, out_dir)``:

1. resolve the format's exporter once; if it ``requires`` another artifact, get that one verified first;
2. stage the artifact and its companions under hidden temporaries (``landing.Staging``);
3. ``export`` (timed), ``describe``, ``check``, each handed the same ``ExportJob`` (staged files included);
4. open ONE Predictor on the staged file: its runtime's tensors must agree with ``describe``; ``measure``; verify
   on that same Predictor (``verify.verify_predictor``); close it;
5. build the manifest (``manifest.build_export_manifest``) and land it with the files, or reject them
   (``RejectedError``, exit 1).

Problems from ``check``/``measure``, a disagreement between the file and its runtime, and the verification's
reasons all fail the same gate.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from edgemnist.errors import ConfigError, GateError
from edgemnist.export.base import Exporter, ExportJob, ExportResult
from edgemnist.export.config import ExportConfig
from edgemnist.export.landing import Staging, rejected_path
from edgemnist.export.source import Source, prepare
from edgemnist.fileio import sha256_file
from edgemnist.formats import EXPORT_FORMATS, FORMATS, Format
from edgemnist.manifest import build_export_manifest, manifest_path


class RejectedError(GateError):
    """The artifact failed verification; it was kept as ``<artifact>.rejected``. Exit code 1."""

    def __init__(self, message: str, result: ExportResult) -> None:
        super().__init__(message)
        self.result = result


def export_model(model_path: str | Path, config: ExportConfig, out_dir: str | Path, data=None) -> ExportResult:
    """Export, verify and gate one artifact into ``out_dir``; raise RejectedError if it fails the gate."""
    return export_prepared(prepare(model_path, data), config, out_dir)


def unavailable(fmt: Format) -> str | None:
    """Why ``fmt``'s exporter cannot run here, or None if it can."""
    try:
        fmt.load_exporter()
    except (ImportError, AttributeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def all_configs(mode: str | None = None, io: str | None = None, **common) -> tuple[list[ExportConfig], list[str]]:
    """Every exportable format x mode x I/O of the registry whose exporter imports, optionally filtered by
    ``mode`` / ``io``; and a note for each format skipped because its exporter is not importable. With
    ``weight_bits`` other than 8 only the modes that take low-bit weights (``config.LOW_BIT_MODES``); with
    ``packed``, each packed form follows its int8 reference."""
    from edgemnist.export.config import LOW_BIT_MODES, PACKED_FORMATS

    packed = common.pop("packed", False)
    low_bit = common.get("weight_bits", 8) != 8
    configs, skipped = [], []
    for name in EXPORT_FORMATS:
        fmt = FORMATS[name]
        if low_bit and name not in {f for f, _ in LOW_BIT_MODES}:
            skipped.append(f"{name}: 8-bit weights only (--weight-bits {common['weight_bits']} asked)")
            continue
        why = unavailable(fmt)
        if why:
            skipped.append(f"{name}: exporter not available ({why})")
            continue
        for m in fmt.modes:
            if low_bit and (name, m.name) not in LOW_BIT_MODES:
                continue
            for i in m.io:
                if (mode is None or m.name == mode) and (io is None or i == io):
                    configs.append(ExportConfig(format=name, mode=m.name, io=i, **common))
                    if packed and name in PACKED_FORMATS:  # the packed form right after its int8 reference
                        configs.append(ExportConfig(format=name, mode=m.name, io=i, packed=True, **common))
    if not configs:
        raise ConfigError(f"no exportable format has mode {mode or 'any'} with {io or 'any'} I/O")
    return configs, skipped


def _input(source: Source, config: ExportConfig, required: ExportConfig | None) -> ExportResult | None:
    """The verified artifact an exporter ``requires``: one this Source already exported, else exported now
    into the Source's private workspace (RejectedError if it fails its own gate)."""
    if required is None:
        return None
    required = dataclasses.replace(
        required, calibration_samples=config.calibration_samples, seed=config.seed, tolerance=config.tolerance
    )
    if required not in source.results:
        export_prepared(source, required, source.workspace())
    return source.results[required]


def _read_back(exporter: Exporter, job: ExportJob, predictor) -> tuple[dict, list]:
    """The files' own facts (``describe``) and every way they contradict their config (``check``) or what
    the Predictor's runtime reports."""
    from edgemnist.predictor.base import TensorSpec

    facts = exporter.describe(job)
    problems = list(exporter.check(job, facts))
    for key, seen in (("input", predictor.input), ("output", predictor.output)):
        for what in TensorSpec.from_dict(facts[key]).mismatch(seen):
            problems.append(f"{key}: the file and the {job.config.fmt.runtime} runtime disagree: {what}")
    return facts, problems


def export_prepared(source: Source, config: ExportConfig, out_dir: str | Path) -> ExportResult:
    """``export_model`` on an already prepared Source (what ``--format all`` uses)."""
    from edgemnist.predictor import Predictor
    from edgemnist.verify import verify_predictor

    fmt = config.fmt
    exporter: Exporter = fmt.load_exporter()
    calibration = source.calibration(config.calibration_samples, config.seed) if config.calibrated else None
    required = _input(source, config, exporter.requires(config))
    target = Path(out_dir) / config.artifact_name
    target.parent.mkdir(parents=True, exist_ok=True)  # an artifact in a subfolder (web/edgemnist_model.wasm)
    with Staging.open(target, tuple(exporter.companions(target))) as staged:
        files = staged.files
        job = ExportJob(config=config, source=source, calibration=calibration, files=files, input=required)
        start = time.perf_counter()
        exporter.export(job)
        seconds = time.perf_counter() - start
        with Predictor.load(
            files.path, threads=1, check_hash=False, allow_unverified=True, self_test=False
        ) as predictor:
            facts, problems = _read_back(exporter, job, predictor)
            section, more = exporter.measure(job)
            if section:
                facts = {**facts, fmt.name: {**facts.get(fmt.name, {}), **section}}
            problems += list(more)
            report = verify_predictor(
                predictor,
                source.reference,
                source.data.test_images,
                source.data.test_labels,
                config.tolerance,
                max_abs_diff=config.max_abs_diff,
                artifact=str(target),
                gate_reference=source.gate_reference,
                dataset=source.data.name,
            )
        if problems:
            report = dataclasses.replace(report, passed=False, reasons=report.reasons + tuple(problems))
        passed = report.passed
        if not passed:
            report = dataclasses.replace(report, artifact=str(rejected_path(target)))
        landed = target if passed else rejected_path(target)
        manifest = build_export_manifest(
            config=config,
            artifact_name=landed.name,
            artifact_sha256=sha256_file(files.path),
            artifact_bytes=files.path.stat().st_size,
            source=source,
            facts=facts,
            calibration=calibration,
            seconds=seconds,
            report=report,
        )
        if not passed:
            staged.reject(manifest)
            result = ExportResult(landed, manifest_path(landed), manifest, report, config, seconds)
            raise RejectedError(
                f"{target}: {config.label} failed verification: {'; '.join(report.reasons)}; "
                f"kept as {landed} for inspection",
                result,
            )
        staged.land(manifest)
    result = ExportResult(target, manifest_path(target), manifest, report, config, seconds)
    source.results[config] = result
    return result
