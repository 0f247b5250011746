"""The loaded Keras model with everything every export of it shares: load once, hash once, export many."""

from __future__ import annotations

import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.errors import DataError
from edgemnist.export.config import Calibration, calibration_set
from edgemnist.fileio import sha256_file


@dataclass(frozen=True)
class Source:
    """The source model, its dataset, and the Keras reference probabilities on the test images."""

    path: Path
    sha256: str
    model: Any = field(repr=False)
    data: Any = field(repr=False)  # edgemnist.data.Dataset
    reference: np.ndarray = field(repr=False)  # Keras probabilities on the test images
    accuracy: float  # of the Keras model on the test images
    #: What every export's accuracy gate is measured from: the essay's 97.88 % on MNIST, else the float model's
    #: own test accuracy (as its training manifest records it).
    gate_reference: float = spec.REFERENCE_ACCURACY
    widths: tuple[int, ...] = ()  # (784, hidden..., classes), from the model
    _calibrations: dict = field(default_factory=dict, repr=False, compare=False)
    #: Verified exports of this source by config: what an exporter's ``requires`` is served from.
    results: dict = field(default_factory=dict, repr=False, compare=False)
    _workspace: list = field(default_factory=list, repr=False, compare=False)

    def calibration(self, samples: int, seed: int) -> Calibration:
        key = (samples, seed)
        if key not in self._calibrations:
            self._calibrations[key] = calibration_set(self.data.train_images, samples, seed)
        return self._calibrations[key]

    def low_bit(self, bits: int, io: str, samples: int, seed: int) -> tuple[bytes, Any]:
        """The int8 .tflite with ``bits``-bit hidden weights and its recipe (``edgemnist.export.lowbit.quantize``),
        quantized once per Source: the tflite, onnx and micro exports of one width share it."""
        key = ("low-bit", bits, io, samples, seed)
        if key not in self._calibrations:
            from edgemnist.export.lowbit import quantize

            self._calibrations[key] = quantize(self.model, bits, self.data, seed, io=io, calibration_samples=samples)
        return self._calibrations[key]

    def workspace(self) -> Path:
        """A private folder for artifacts exported only as another export's input (deleted with the Source)."""
        if not self._workspace:
            tmp = tempfile.TemporaryDirectory(prefix="edgemnist-inputs-")
            weakref.finalize(self, tmp.cleanup)
            self._workspace.append(tmp)
        return Path(self._workspace[0].name)


def prepare(model_path: str | Path, data=None, *, data_dir=None) -> Source:
    """Load ``model_path`` (safe mode) and its dataset, and compute the Keras reference probabilities once.

    When the training manifest sits beside the model, the model must still have the sha256 it records
    (ArtifactChangedError otherwise): an export never starts from a model that changed since training, and the
    data must be the dataset it records (DataError otherwise). The model file is hashed exactly once.
    """
    from edgemnist.data import check_same_dataset, load_dataset
    from edgemnist.manifest import check_sha256, read_manifest
    from edgemnist.model import load_model, preprocess, widths

    model_path = Path(model_path)
    manifest = read_manifest(model_path) if model_path.is_file() else None
    digest = sha256_file(model_path) if model_path.is_file() else None
    if manifest is not None:
        check_sha256(model_path, manifest, digest)
    model = load_model(model_path)
    if data is None:
        data = load_dataset(data_dir)
    trained_on = (manifest or {}).get("dataset")
    check_same_dataset(trained_on, data.record(), str(model_path))
    shape = widths(model)
    if data.num_classes > shape[-1]:
        raise DataError(
            f"{data.source}: {data.name} has {data.num_classes} classes but {model_path} answers {shape[-1]}; "
            f"pass the folder of the dataset it was trained on"
        )
    reference = model.predict(preprocess(data.test_images), batch_size=1000, verbose=0).astype(np.float32)
    accuracy = float(np.mean(reference.argmax(axis=1) == data.test_labels))
    gate = spec.REFERENCE_ACCURACY
    if not data.is_mnist:
        recorded = ((manifest or {}).get("verification") or {}).get("accuracy") if trained_on else None
        gate = float(recorded) if isinstance(recorded, (int, float)) else accuracy
    return Source(model_path, digest, model, data, reference, accuracy, gate_reference=gate, widths=shape)


__all__ = ["Source", "prepare"]
