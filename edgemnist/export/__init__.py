"""Export the trained Keras model to device artifacts, verify each one, and gate it.

``export_model(model_path, ExportConfig(format="tflite"), "export")``. The pieces, one concern each:

- ``base``: the ``Exporter`` contract every format implements (``edgemnist/export/<format>.py``);
- ``config``: ``ExportConfig``, ``Calibration`` and the defaults;
- ``source``: ``Source`` / ``prepare``: the Keras model, loaded, hashed and run on the test set once;
- ``pipeline``: ``export_prepared`` (stage, export, one Predictor, describe/check/measure, verify, land);
- ``landing``: temporaries, landing, ``.rejected``, and why a kill at any point is safe.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module that defines it. Imported on first use (PEP 562), so that reading
#: ``edgemnist.export.config``'s defaults (``edgemnist --help``) does not import the whole pipeline.
_EXPORTS = {
    "DEFAULT_CALIBRATION_SAMPLES": "config",
    "DEFAULT_SEED": "config",
    "FLOAT32_ATOL": "config",
    "Calibration": "config",
    "ExportConfig": "config",
    "calibration_set": "config",
    "REJECTED_SUFFIX": "landing",
    "rejected_path": "landing",
    "ExportResult": "pipeline",
    "RejectedError": "pipeline",
    "all_configs": "pipeline",
    "export_model": "pipeline",
    "export_prepared": "pipeline",
    "unavailable": "pipeline",
    "Source": "source",
    "prepare": "source",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
