"""Export the trained Keras model to device artifacts, verify each one, and gate it.

``export_model(model_path, ExportConfig(format="tflite"), "export")`` loads the .keras (safe mode), computes
the Keras reference probabilities on the 10,000 test images once, draws the calibration images from the
*training* set (seeded), runs the format's exporter from the registry (``Format.load_exporter()``), reads the
artifact back, verifies it in its real runtime through the Predictor (``edgemnist.verify``) and writes the
manifest beside it.

An exporter module (``edgemnist/export/<format>.py``) provides:

- ``export_<format>(model, out_path, config, calibration, *, source=None) -> Path`` (the registry's ref);
- optionally ``describe(path) -> {"input", "output", "graph"?, "tools"?, "<format>"?}``: facts read back from
  the file (tensor scale and zero point, the dtypes the compute really uses); without it the Predictor's
  tensor specs are used;
- optionally ``check(facts, mode, io) -> [problems]``: every way the file differs from the mode it claims;
- optionally ``measure(path, images, labels) -> (section, [problems])``: the format's own test-set runs,
  kept under ``manifest[<format>]``;
- optionally ``companions(path) -> [Path]``: files the exporter writes beside ``path`` that must travel with
  the artifact (micro: ``model_data.h``). They are staged beside the temporary artifact and land (or are
  rejected) together with it.

Problems from ``check``/``measure``, a disagreement between the file and its runtime, and ``verify``'s
reasons all fail the same gate.

Landing, and why a kill at any point is safe:

1. the exporter writes a hidden temporary beside the target (``fileio.atomic_path``), which is verified there;
2. passed: the companions land first, then the manifest (atomically), then the artifact replaces the
   target (``os.replace``) last. Killed in between, the old artifact (if any) sits beside the new manifest
   (and header) and its sha256 no longer matches, so ``Predictor.load`` refuses it (ArtifactChangedError;
   a micro header states its model's sha256 and is ignored beside another array, and the generated C++
   does not compile as such a pair); a new artifact is never visible without its manifest, and no
   half-written file is ever under the target name;
3. failed: the stale target, its manifest and companions are deleted first (so no older artifact of the
   same name keeps looking valid), then ``<artifact>.rejected.json`` (``verification.passed`` false, with the
   reasons), ``<companion>.rejected`` and ``<artifact>.rejected`` land, and ``RejectedError`` (a GateError,
   exit 1) is raised. The ``.rejected`` suffix is no model type, so the predictor refuses to load it.

After a SIGKILL only hidden ``.<name>.<pid>.<random>.tmp<suffix>`` files can remain, never a target name;
the next export into the folder deletes those a dead process left (``fileio.remove_stale_temps``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.errors import ConfigError, GateError
from edgemnist.fileio import atomic_path, remove_stale_temps, sha256_bytes, sha256_file
from edgemnist.formats import EXPORT_FORMATS, FORMATS, Format, get_format

#: Float32 artifacts must reproduce the Keras probabilities within this.
FLOAT32_ATOL = 1e-5
DEFAULT_CALIBRATION_SAMPLES = 500
REJECTED_SUFFIX = ".rejected"
_CALIBRATED_MODES = ("int8",)


@dataclass(frozen=True)
class ExportConfig:
    """What to export. ``mode`` and ``io`` default to the format's first mode and that mode's first I/O
    dtype (from the registry) and are stored resolved."""

    format: str
    mode: str | None = None
    io: str | None = None
    calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES
    seed: int = 0
    tolerance: float = spec.DEFAULT_TOLERANCE_PP

    def __post_init__(self) -> None:
        fmt = get_format(self.format)
        if fmt.exporter is None:
            raise ConfigError(f"{self.format} is a source format, not an export target; "
                              f"expected one of: {', '.join(EXPORT_FORMATS)}")
        mode = fmt.mode(self.mode).name
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "io", fmt.resolve_io(mode, self.io))
        n = self.calibration_samples
        if not (isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 60000):
            raise ConfigError(f"calibration samples must be an integer from 1 to 60000, got {n!r}")
        if not (isinstance(self.seed, int) and not isinstance(self.seed, bool) and 0 <= self.seed < 2**32):
            raise ConfigError(f"seed must be an integer from 0 to 2**32-1, got {self.seed!r}")
        if not (isinstance(self.tolerance, (int, float)) and not isinstance(self.tolerance, bool)
                and np.isfinite(self.tolerance)):
            raise ConfigError(f"tolerance must be a number of percentage points, got {self.tolerance!r}")
        spec.accuracy_floor(self.tolerance)  # range check

    @property
    def fmt(self) -> Format:
        return FORMATS[self.format]

    @property
    def artifact_name(self) -> str:
        return self.fmt.artifact_name(self.mode, self.io)

    @property
    def calibrated(self) -> bool:
        return self.mode in _CALIBRATED_MODES

    @property
    def label(self) -> str:
        return f"{self.format} {self.mode} ({self.io} I/O)"


@dataclass(frozen=True)
class Calibration:
    """Calibration images (float32 (N, 784) in [0, 1], preprocessed like the model's input) and how they
    were drawn (the manifest's ``calibration``)."""

    images: np.ndarray = field(repr=False)
    recipe: dict[str, Any]


def calibration_set(train_images: np.ndarray, samples: int = DEFAULT_CALIBRATION_SAMPLES,
                    seed: int = 0) -> Calibration:
    """``samples`` distinct training images chosen by ``numpy.random.default_rng(seed)``, in index order."""
    from edgemnist.model import preprocess

    n = len(train_images)
    if not 1 <= samples <= n:
        raise ConfigError(f"calibration samples must be from 1 to {n} (the training set), got {samples}")
    indices = np.sort(np.random.default_rng(seed).choice(n, size=samples, replace=False)).astype("<i8")
    recipe = {
        "split": "train",
        "count": int(samples),
        "seed": int(seed),
        "sampler": f"numpy.random.default_rng(seed).choice({n}, count, replace=False), sorted",
        "indices_sha256": sha256_bytes(indices.tobytes()),  # of the indices as little-endian int64
        "preprocessing": spec.PREPROCESSING["scale"],
    }
    return Calibration(preprocess(train_images[indices]), recipe)


@dataclass(frozen=True)
class Source:
    """The loaded Keras model with everything every export of it shares: load once, export many."""

    path: Path
    sha256: str
    model: Any = field(repr=False)
    data: Any = field(repr=False)  # edgemnist.data.Mnist
    reference: np.ndarray = field(repr=False)  # Keras probabilities on the test images
    accuracy: float  # of the Keras model on the test images
    _calibrations: dict = field(default_factory=dict, repr=False, compare=False)

    def calibration(self, samples: int, seed: int) -> Calibration:
        key = (samples, seed)
        if key not in self._calibrations:
            self._calibrations[key] = calibration_set(self.data.train_images, samples, seed)
        return self._calibrations[key]


def prepare(model_path: str | Path, data=None, *, data_dir=None) -> Source:
    """Load ``model_path`` (safe mode) and MNIST, and compute the Keras reference probabilities once.

    When the training manifest sits beside the model, the model must still have the sha256 it records
    (ArtifactChangedError otherwise): an export never starts from a model that changed since training.
    """
    from edgemnist.data import load_mnist
    from edgemnist.manifest import check_sha256, read_manifest
    from edgemnist.model import load_model, preprocess

    model_path = Path(model_path)
    manifest = read_manifest(model_path) if model_path.is_file() else None
    if manifest is not None:
        check_sha256(model_path, manifest)
    model = load_model(model_path)
    if data is None:
        data = load_mnist(data_dir)
    reference = model.predict(preprocess(data.test_images), batch_size=1000, verbose=0).astype(np.float32)
    accuracy = float(np.mean(reference.argmax(axis=1) == data.test_labels))
    return Source(model_path, sha256_file(model_path), model, data, reference, accuracy)


@dataclass(frozen=True)
class ExportResult:
    path: Path  # the artifact (or the .rejected file, in a RejectedError)
    manifest_path: Path
    manifest: dict[str, Any]
    report: Any  # edgemnist.verify.Report
    config: ExportConfig
    seconds: float  # conversion only; verification seconds are in report.seconds


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
    ``mode`` / ``io``; and a note for each format skipped because its exporter is not importable."""
    configs, skipped = [], []
    for name in EXPORT_FORMATS:
        fmt = FORMATS[name]
        why = unavailable(fmt)
        if why:
            skipped.append(f"{name}: exporter not available ({why})")
            continue
        for m in fmt.modes:
            for i in m.io:
                if (mode is None or m.name == mode) and (io is None or i == io):
                    configs.append(ExportConfig(format=name, mode=m.name, io=i, **common))
    if not configs:
        raise ConfigError(f"no exportable format has mode {mode or 'any'} with {io or 'any'} I/O")
    return configs, skipped


def io_problems(facts: dict[str, Any], dtype: str) -> list[str]:
    """How the artifact's input and output tensors differ from the contract: ``dtype``, the spec's names,
    a dynamic batch dimension. Shared by every exporter's ``check``."""
    problems = []
    for key, name in (("input", spec.INPUT_NAME), ("output", spec.OUTPUT_NAME)):
        t = facts[key]
        if t["dtype"] != dtype:
            problems.append(f"{key} is {t['dtype']}, expected {dtype}")
        if t["name"] != name:
            problems.append(f"{key} is named {t['name']!r}, expected {name!r}")
        if t["shape"][0] != -1:
            problems.append(f"{key} batch dimension is fixed at {t['shape'][0]}, expected dynamic")
    return problems


def _exporter_module(fmt: Format):
    return importlib.import_module(fmt.exporter.partition(":")[0])


def _read_back(fmt: Format, path: Path, config: ExportConfig) -> tuple[dict, list[str]]:
    """The artifact's own facts (module ``describe``) and every way it contradicts its config (``check``)
    or what the Predictor's runtime reports."""
    from edgemnist.predictor import Predictor
    from edgemnist.predictor.base import TensorSpec

    module = _exporter_module(fmt)
    predictor = Predictor.load(path, threads=1, check_hash=False, allow_unverified=True, self_test=False)
    runtime = {"input": predictor.input, "output": predictor.output}
    if hasattr(module, "describe"):
        facts = module.describe(path)
    else:
        facts = {k: v.to_dict() for k, v in runtime.items()}
    problems = list(module.check(facts, config.mode, config.io)) if hasattr(module, "check") else []
    for key, seen in runtime.items():
        for what in TensorSpec.from_dict(facts[key]).mismatch(seen):
            problems.append(f"{key}: the file and the {fmt.runtime} runtime disagree: {what}")
    return facts, problems


def _measure(fmt: Format, path: Path, source: Source, facts: dict, problems: list[str]) -> tuple[dict, list[str]]:
    """A format's own test-set measurements (module ``measure(path, images, labels) -> (facts, problems)``),
    kept in the manifest under the format's name (micro: TFLM at the stated arena vs LiteRT)."""
    module = _exporter_module(fmt)
    if not hasattr(module, "measure"):
        return facts, problems
    section, more = module.measure(path, source.data.test_images, source.data.test_labels)
    return {**facts, fmt.name: {**facts.get(fmt.name, {}), **section}}, problems + list(more)


def _manifest(source: Source, config: ExportConfig, name: str, artifact: Path, facts: dict,
              calibration: Calibration | None, seconds: float, report) -> dict[str, Any]:
    from edgemnist.manifest import SCHEMA, now_iso, tool_versions

    return {
        "schema": SCHEMA,
        "format": config.format,
        "quantization": config.mode,
        "io": config.io,
        "description": config.fmt.mode(config.mode).description,
        "artifact": {"file": name, "sha256": sha256_file(artifact), "bytes": artifact.stat().st_size},
        "source": {"file": source.path.name, "sha256": source.sha256, "accuracy": source.accuracy},
        "input": facts["input"],
        "output": facts["output"],
        "graph": facts.get("graph"),
        **({config.format: facts[config.format]} if config.format in facts else {}),  # e.g. micro's arena
        "preprocessing": spec.PREPROCESSING,
        "labels": list(spec.LABELS),
        "calibration": calibration.recipe if calibration is not None else None,
        "tools": {**tool_versions(), **facts.get("tools", {})},
        "created": now_iso(),
        "export": {"seconds": round(seconds, 3), "config": dataclasses.asdict(config)},
        "verification": report.to_dict(),
    }


def _unlink(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _land(staged: list[Path], finals: list[Path]) -> None:
    """fsync each staged file and rename it over its final name (atomic per file); a companion the exporter
    did not write is skipped (``check`` reports it missing)."""
    for src, dst in zip(staged, finals, strict=True):
        if not src.is_file():
            continue
        with open(src, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(src, dst)


@contextlib.contextmanager
def _removed_on_error(paths: list[Path]):
    """Delete the staged companions in ``paths`` if the export fails (atomic_path cleans the artifact)."""
    try:
        yield
    except BaseException:
        _unlink(*paths)
        raise


def rejected_path(artifact: str | Path) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + REJECTED_SUFFIX)


def export_prepared(source: Source, config: ExportConfig, out_dir: str | Path) -> ExportResult:
    """``export_model`` on an already prepared Source (what ``--format all`` uses)."""
    from edgemnist.manifest import manifest_path, write_manifest
    from edgemnist.verify import verify

    fmt = config.fmt
    exporter = fmt.load_exporter()
    target = Path(out_dir) / config.artifact_name
    rejected = rejected_path(target)
    companions = getattr(_exporter_module(fmt), "companions", lambda _path: [])
    finals = list(companions(target))
    names = [p.name for p in (target, manifest_path(target), rejected, manifest_path(rejected), *finals)]
    if Path(out_dir).is_dir():
        remove_stale_temps(out_dir, names)
    calibration = source.calibration(config.calibration_samples, config.seed) if config.calibrated else None
    limit = FLOAT32_ATOL if config.mode == "float32" else None
    staged: list[Path] = []
    with atomic_path(target) as tmp, _removed_on_error(staged):
        staged += companions(tmp)
        start = time.perf_counter()
        # ``source`` (the .keras path) lets an exporter name its origin (ONNX metadata, micro's model_data.h).
        exporter(source.model, tmp, config, calibration, source=source.path)
        seconds = time.perf_counter() - start
        facts, problems = _read_back(fmt, tmp, config)
        facts, problems = _measure(fmt, tmp, source, facts, problems)
        report = verify(tmp, source.reference, source.data.test_images, source.data.test_labels,
                        config.tolerance, max_abs_diff=limit)
        report = dataclasses.replace(report, artifact=str(target))
        if problems:
            report = dataclasses.replace(report, passed=False, reasons=report.reasons + tuple(problems))
        if not report.passed:
            report = dataclasses.replace(report, artifact=str(rejected))
            manifest = _manifest(source, config, rejected.name, tmp, facts, calibration, seconds, report)
            _unlink(target, manifest_path(target), *finals)  # no older artifact may keep looking valid
            write_manifest(rejected, manifest)
            _land(staged, [rejected_path(f) for f in finals])
            _land([tmp], [rejected])
            result = ExportResult(rejected, manifest_path(rejected), manifest, report, config, seconds)
            raise RejectedError(f"{target}: {config.label} failed verification: {'; '.join(report.reasons)}; "
                                f"kept as {rejected} for inspection", result)
        manifest = _manifest(source, config, target.name, tmp, facts, calibration, seconds, report)
        _land(staged, finals)  # companions first (each names its artifact's sha256), then the manifest;
        write_manifest(target, manifest)  # atomic_path replaces the artifact last
    _unlink(rejected, manifest_path(rejected), *map(rejected_path, finals))  # a stale rejection of an earlier run
    return ExportResult(target, manifest_path(target), manifest, report, config, seconds)


__all__ = [
    "Calibration", "ExportConfig", "ExportResult", "RejectedError", "Source", "all_configs",
    "calibration_set", "export_model", "export_prepared", "prepare", "rejected_path", "unavailable",
]
