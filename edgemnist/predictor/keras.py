"""Keras backend for the ``.keras`` source model (needs the ``train`` extra, ``edgemnist._deps.install_hint``).

Loads through ``edgemnist.model.load_model`` (``safe_mode=True``). It is the reference the exported
artifacts are compared with, not a device runtime.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.predictor.base import Backend, RawLoop, TensorSpec


class KerasBackend(Backend):
    runtime = "Keras"

    def __init__(self, path: Path, threads: int = 1) -> None:
        from edgemnist._deps import tensorflow
        from edgemnist.model import check_keras_archive, load_model

        check_keras_archive(path)  # a file that is no .keras archive fails before TensorFlow is imported
        tf = tensorflow()
        try:  # only possible before TensorFlow's runtime has started; otherwise the process keeps its setting
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass
        self.path = Path(path)
        self.threads = threads
        self._model = load_model(path)
        first, last = self._model.layers[0], self._model.layers[-1]
        self.input = TensorSpec(first.name or spec.INPUT_NAME, (-1, spec.INPUT_SIZE), "float32")
        self.output = TensorSpec(last.name or spec.OUTPUT_NAME, (-1, int(self._model.output_shape[-1])), "float32")
        self._lock = threading.Lock()

    def run(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            y = self._model(x, training=False)
        return np.array(y, dtype=np.float32)

    def quantization(self) -> str | None:
        return "float32"

    @classmethod
    def raw_loop(cls, path: Path, threads: int = 1) -> RawLoop:
        from edgemnist.model import load_model

        model = load_model(path)
        return RawLoop(
            "keras model(x, training=False).numpy()", lambda batch: lambda x: model(x, training=False).numpy()
        )

    def details(self) -> dict[str, Any]:
        import keras

        return {
            "keras": keras.__version__,
            "backend": keras.backend.backend(),
            "parameters": int(self._model.count_params()),
        }
