"""What to export (``ExportConfig``) and the calibration images int8 modes are calibrated on.

The defaults here are the only ones: the CLI reads them (``edgemnist.commands.export``), so this module imports
no numpy at module level and ``edgemnist --help`` stays light.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgemnist import spec
from edgemnist.errors import ConfigError
from edgemnist.fileio import sha256_bytes
from edgemnist.formats import EXPORT_FORMATS, FORMATS, Format, get_format

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

#: Float32 artifacts must reproduce the Keras probabilities within this.
FLOAT32_ATOL = 1e-5
DEFAULT_CALIBRATION_SAMPLES = 500
DEFAULT_SEED = 0
_CALIBRATED_MODES = ("int8",)
#: Hidden-layer weight widths ``--weight-bits`` takes; 8 is the plain int8 export.
WEIGHT_BITS = (8, 4, 2)
DEFAULT_WEIGHT_BITS = 8
#: The (format, mode) pairs that take fewer than 8 weight bits: int8 containers every runtime of the format runs.
LOW_BIT_MODES = (("tflite", "int8"), ("onnx", "int8"), ("micro", "int8"), ("c", "int8"), ("web", "int8"))
#: The formats that store the low-bit weights packed (two INT4 or four INT2 per byte) with ``packed=True``.
PACKED_FORMATS = ("tflite", "onnx")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass(frozen=True)
class ExportConfig:
    """What to export. ``mode`` and ``io`` default to the format's first mode and that mode's first I/O
    dtype (from the registry) and are stored resolved."""

    format: str
    mode: str | None = None
    io: str | None = None
    calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES
    seed: int = DEFAULT_SEED
    tolerance: float = spec.DEFAULT_TOLERANCE_PP
    weight_bits: int = DEFAULT_WEIGHT_BITS
    packed: bool = False

    def __post_init__(self) -> None:
        fmt = get_format(self.format)
        if fmt.exporter is None:
            raise ConfigError(
                f"{self.format} is a source format, not an export target; expected one of: {', '.join(EXPORT_FORMATS)}"
            )
        mode = fmt.mode(self.mode).name
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "io", fmt.resolve_io(mode, self.io))
        n = self.calibration_samples
        if not (_is_int(n) and 1 <= n <= 60000):
            raise ConfigError(f"calibration samples must be an integer from 1 to 60000, got {n!r}")
        if not (_is_int(self.seed) and 0 <= self.seed < 2**32):
            raise ConfigError(f"seed must be an integer from 0 to 2**32-1, got {self.seed!r}")
        if not (
            isinstance(self.tolerance, (int, float))
            and not isinstance(self.tolerance, bool)
            and math.isfinite(self.tolerance)
        ):
            raise ConfigError(f"tolerance must be a number of percentage points, got {self.tolerance!r}")
        spec.accuracy_floor(self.tolerance)  # range check
        self._check_weights()

    def _check_weights(self) -> None:
        bits = self.weight_bits
        if not (_is_int(bits) and bits in WEIGHT_BITS):
            raise ConfigError(
                f"weight bits must be {', '.join(map(str, WEIGHT_BITS[:-1]))} or {WEIGHT_BITS[-1]}, got {bits!r}"
            )
        accepting = ", ".join(f"{f} {m}" for f, m in LOW_BIT_MODES)
        if bits != 8 and (self.format, self.mode) not in LOW_BIT_MODES:
            if self.format in {f for f, _ in LOW_BIT_MODES}:
                raise ConfigError(
                    f"weight bits {bits} needs an int8 mode, not {self.format} {self.mode}; "
                    f"low-bit weights: {accepting}"
                )
            raise ConfigError(
                f"weight bits {bits}: --format {self.format} supports --weight-bits 8 only "
                f"(low-bit weights: {accepting})"
            )
        if not isinstance(self.packed, bool):
            raise ConfigError(f"packed must be true or false, got {self.packed!r}")
        if self.packed and (bits == 8 or self.format not in PACKED_FORMATS):
            raise ConfigError(
                f"packed weights are for --weight-bits 4 or 2 with --format {' or '.join(PACKED_FORMATS)}, "
                f"not {self.format} with {bits}-bit weights"
            )

    @property
    def fmt(self) -> Format:
        return FORMATS[self.format]

    @property
    def artifact_name(self) -> str:
        return self.fmt.artifact_name(self.mode, self.io, weight_bits=self.weight_bits, packed=self.packed)

    @property
    def low_bit(self) -> bool:
        """Hidden-layer weights narrower than 8 bits (``edgemnist.export.lowbit``)."""
        return self.weight_bits != 8

    @property
    def unpacked(self) -> ExportConfig:
        """The int8 container of a packed export: the same weights, one int8 per weight (the exactness reference)."""
        import dataclasses

        return dataclasses.replace(self, packed=False)

    @property
    def calibrated(self) -> bool:
        return self.mode in _CALIBRATED_MODES

    @property
    def max_abs_diff(self) -> float | None:
        """The largest |p - p_keras| the artifact may show: FLOAT32_ATOL for float32, else no limit."""
        return FLOAT32_ATOL if self.mode == "float32" else None

    @property
    def label(self) -> str:
        weights = (
            "" if not self.low_bit else f", {self.weight_bits}-bit hidden weights{' packed' if self.packed else ''}"
        )
        return f"{self.format} {self.mode} ({self.io} I/O{weights})"


@dataclass(frozen=True)
class Calibration:
    """Calibration images (float32 (N, 784) in [0, 1], preprocessed like the model's input) and how they
    were drawn (the manifest's ``calibration``)."""

    images: np.ndarray = field(repr=False)
    recipe: dict[str, Any]


def calibration_set(
    train_images: np.ndarray, samples: int = DEFAULT_CALIBRATION_SAMPLES, seed: int = DEFAULT_SEED
) -> Calibration:
    """``samples`` distinct training images chosen by ``numpy.random.default_rng(seed)``, in index order."""
    import numpy as np  # not at module level: the CLI reads this module's defaults for --help

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
    return Calibration(spec.to_unit_floats(train_images[indices]), recipe)
