"""One small API over every runtime: ``Predictor.load(path).predict(images)``.

.. code-block:: python

    from edgemnist.predictor import Predictor

    p = Predictor.load("export/model.int8.tflite", threads=1)
    p.predict_proba(pixels)        # uint8 (28, 28) / (N, 28, 28) / (N, 784), or floats in [0, 1] -> (N, K) float32
    labels, confidences = p.predict(pixels)

The backend is chosen by the file suffix (``edgemnist.formats``). Modules: ``base`` (the ``Backend`` interface and
``TensorSpec``), ``inputs`` (validation), ``convert`` (quantize/dequantize), ``predictor`` (``Predictor``), and one
module per runtime (``litert``, ``onnx``, ``micro``, ``keras``).

Importing this package, loading a ``.tflite`` or ``.onnx`` artifact and predicting never import TensorFlow,
Keras, Pillow, matplotlib or rich; nothing here imports ``edgemnist.export``.
"""

from __future__ import annotations

from edgemnist.predictor.base import Backend, RawLoop, TensorSpec
from edgemnist.predictor.convert import is_pixel_scale
from edgemnist.predictor.inputs import as_batch
from edgemnist.predictor.predictor import MAX_ARTIFACT_BYTES, Prediction, Predictor

__all__ = [
    "MAX_ARTIFACT_BYTES",
    "Backend",
    "Prediction",
    "Predictor",
    "RawLoop",
    "TensorSpec",
    "as_batch",
    "is_pixel_scale",
]
