"""Keras model -> TFLite flatbuffer bytes: the converter call every .tflite export makes (``convert``).

Follows Keras' own LiteRT exporter (``ExportArchive`` -> SavedModel -> ``TFLiteConverter.from_saved_model``) with
a signature ``pixels -> probabilities`` and builtin ops only; the modes are described in
``edgemnist.export.tflite``. On its own so that ``edgemnist.export.lowbit`` converts without importing the
exporter that imports it.
"""

from __future__ import annotations

import tempfile
import warnings

from edgemnist import spec
from edgemnist.errors import ConfigError

SIGNATURE = "serving_default"


def convert(model, mode: str, io: str, calibration=None) -> bytes:
    """The flatbuffer ``export_tflite`` writes: ``model`` converted as ``mode`` / ``io`` say."""
    from edgemnist._deps import keras as _keras
    from edgemnist._deps import tensorflow as _tf

    if mode == "int8" and calibration is None:
        raise ConfigError("tflite int8 needs calibration images (a representative dataset)")
    keras, tf = _keras(), _tf()
    signature = [tf.TensorSpec((None, spec.INPUT_SIZE), tf.float32, name=spec.INPUT_NAME)]

    def serve(pixels):
        return {spec.OUTPUT_NAME: model(pixels, training=False)}

    with tempfile.TemporaryDirectory(prefix="edgemnist-savedmodel-") as saved_model:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(SIGNATURE, serve, input_signature=signature)
        archive.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if mode != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if mode == "int8":
            images = calibration.images

            def representative():
                for i in range(len(images)):
                    yield {spec.INPUT_NAME: images[i : i + 1]}

            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if io == "int8":
                converter.inference_input_type = tf.int8
                converter.inference_output_type = tf.int8
        elif mode == "float16":
            converter.target_spec.supported_types = [tf.float16]
        elif mode not in ("dynamic", "float32"):
            raise ConfigError(f"unknown tflite mode {mode!r}")
        with warnings.catch_warnings():
            # The converter's own calibrator still builds a tf.lite.Interpreter; nothing we can change.
            warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
            return converter.convert()
