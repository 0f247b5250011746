"""The exporter contract: what one artifact format provides to the export pipeline.

Each format of ``edgemnist.formats.FORMATS`` names one ``Exporter`` instance (``"edgemnist.export.<fmt>:EXPORTER"``),
resolved once (``Format.load_exporter()``). The pipeline (``edgemnist.export.pipeline``) calls it top to bottom,
handing every step the same frozen ``ExportJob`` (config, source, calibration, the staged ``files`` and the
verified ``input``), so an exporter keeps no state between the steps:

1. ``requires(config)``: another artifact this one is generated from (the C kernel: the int8 .tflite), or None.
   The pipeline exports and verifies that one first and hands it over as ``job.input``.
2. ``companions(target)``: the names of the files written beside the artifact (micro: ``model_data.h``). The
   pipeline stages each under a hidden temporary name (``Files.companion(name)``) and lands them with the artifact.
3. ``export(job)``: write ``job.files.path`` (and every companion at ``job.files.companion(name)``).
4. ``describe(job)``: facts read back from the written files (tensors with scale and zero point, graph, tools,
   an optional ``<format>`` section for the manifest).
5. ``check(job, facts)``: every way the files differ from the mode and I/O ``job.config`` claims (a list of
   problems).
6. ``measure(job)``: the format's own runs on the test set (``job.source.data``), kept under
   ``manifest[<format>]``, and the problems they found. Default: none.
7. ``summary(result)``: one extra line for ``edgemnist export`` about the landed ``ExportResult``. Default: none.

No method probes another with ``hasattr``; the defaults below are the whole optional part.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgemnist import spec

if TYPE_CHECKING:  # pragma: no cover
    from edgemnist.export.config import Calibration, ExportConfig
    from edgemnist.export.source import Source


@dataclass(frozen=True)
class Files:
    """Where an artifact and its companions are right now: hidden temporaries during an export, their final
    names once landed. ``Files(path)`` describes a landed artifact (companions beside it under their names)."""

    path: Path
    companions: Mapping[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    def companion(self, name: str) -> Path:
        """Where companion ``name`` (e.g. ``"model_data.h"``) is written or read."""
        return Path(self.companions.get(name, self.path.with_name(name)))


@dataclass(frozen=True)
class ExportResult:
    """One verified (or, inside a RejectedError, rejected) artifact, landed with its manifest."""

    path: Path  # the artifact (or the .rejected file, in a RejectedError)
    manifest_path: Path
    manifest: dict[str, Any]
    report: Any  # edgemnist.verify.Report
    config: ExportConfig
    seconds: float  # conversion only; verification seconds are in report.seconds


@dataclass(frozen=True)
class ExportJob:
    """Everything an exporter gets, at every step: what to export, from what, calibrated how, and where."""

    config: ExportConfig
    source: Source  # the loaded Keras model (.model), its path and sha256, MNIST (.data)
    calibration: Calibration | None  # int8 modes only
    files: Files  # the staged artifact and companions (hidden temporaries until the pipeline lands them)
    input: ExportResult | None = None  # the verified artifact ``requires(config)`` asked for

    @property
    def model(self) -> Any:
        return self.source.model


class Exporter(ABC):
    """One artifact format's exporter. Subclass it in ``edgemnist/export/<format>.py`` and register the
    instance (``EXPORTER = MyExporter()``) in ``edgemnist.formats.FORMATS``."""

    def requires(self, config: ExportConfig) -> ExportConfig | None:
        """The config of another verified artifact this export is generated from; None: from the Keras model."""
        return None

    def companions(self, target: Path) -> tuple[str, ...]:
        """Names of the files written beside ``target`` that travel with it (they land or are rejected with it)."""
        return ()

    @abstractmethod
    def export(self, job: ExportJob) -> None:
        """Write ``job.files.path`` and each companion at ``job.files.companion(name)``; ConfigError on bad input."""

    @abstractmethod
    def describe(self, job: ExportJob) -> dict[str, Any]:
        """``{"input", "output", "graph"?, "tools"?, "calibration"?, "<format>"?}`` read back from ``job.files``."""

    @abstractmethod
    def check(self, job: ExportJob, facts: dict[str, Any]) -> list[str]:
        """Every way ``facts`` contradict ``job.config``'s mode / io (empty when the artifact is what it claims)."""

    def measure(self, job: ExportJob) -> tuple[dict[str, Any], list[str]]:
        """The format's own runs of ``job.files`` on the uint8 test images (``job.source.data``):
        (manifest section, problems). Default: none."""
        return {}, []

    def summary(self, result: ExportResult) -> str | None:
        """One line ``edgemnist export`` prints under the landed artifact's row. Default: none."""
        return None


def io_problems(facts: dict[str, Any], dtype: str) -> list[str]:
    """How the artifact's input and output tensors differ from the contract: ``dtype``, the spec's names,
    a dynamic batch dimension. Shared by the exporters' ``check``."""
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
