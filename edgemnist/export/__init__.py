"""Export the trained Keras model to device artifacts, verify each one, and gate it.

``export_model(model_path, ExportConfig(format="tflite"), "export")``. The pieces, one concern each:

- ``base``: the ``Exporter`` contract every format implements (``edgemnist/export/<format>.py``);
- ``config``: ``ExportConfig``, ``Calibration`` and the defaults;
- ``source``: ``Source`` / ``prepare``: the Keras model, loaded, hashed and run on the test set once;
- ``pipeline``: ``export_prepared`` (stage, export, one Predictor, describe/check/measure, verify, land);
- ``landing``: temporaries, landing, ``.rejected``, and why a kill at any point is safe.
"""

from __future__ import annotations

from edgemnist.export.config import (
    DEFAULT_CALIBRATION_SAMPLES,
    FLOAT32_ATOL,
    Calibration,
    ExportConfig,
    calibration_set,
)
from edgemnist.export.landing import REJECTED_SUFFIX, rejected_path
from edgemnist.export.pipeline import (
    ExportResult,
    RejectedError,
    all_configs,
    export_model,
    export_prepared,
    unavailable,
)
from edgemnist.export.source import Source, prepare

__all__ = [
    "DEFAULT_CALIBRATION_SAMPLES", "FLOAT32_ATOL", "REJECTED_SUFFIX", "Calibration", "ExportConfig", "ExportResult",
    "RejectedError", "Source", "all_configs", "calibration_set", "export_model", "export_prepared", "prepare",
    "rejected_path", "unavailable",
]
