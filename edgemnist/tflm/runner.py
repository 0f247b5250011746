"""The TFLM interpreter on one model and a verified arena, and the int8 pixel mapping its input takes."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from edgemnist import spec
from edgemnist.errors import ArtifactError, first_line
from edgemnist.tflm.arena import tflm_runtime


@dataclass(frozen=True)
class Quant:
    scale: float
    zero_point: int


class MicroRunner:
    """The TFLM interpreter on one model and a verified arena; ``run`` loops over images, thread-safe."""

    def __init__(self, model_bytes: bytes, arena_bytes: int) -> None:
        runtime = tflm_runtime()
        try:
            self._ip = runtime.Interpreter.from_bytes(model_bytes, arena_size=int(arena_bytes))
            self.input_details = self._ip.get_input_details(0)
            self.output_details = self._ip.get_output_details(0)
        except Exception as exc:  # the wrapper parses the flatbuffer in Python: struct.error, TypeError, ...
            raise ArtifactError(
                f"TFLite Micro cannot load the model with a {arena_bytes}-byte arena "
                f"({type(exc).__name__}: {first_line(exc)})"
            ) from None
        self.arena_bytes = int(arena_bytes)
        self._lock = threading.Lock()

    @staticmethod
    def quant(details: dict) -> Quant:
        q = details["quantization_parameters"]
        return Quant(float(q["scales"][0]), int(q["zero_points"][0]))

    def run(self, x: np.ndarray) -> np.ndarray:
        """(N, 784) int8 -> new (N, K) int8, one invoke per image (the TFLM model has batch 1)."""
        out = np.empty((len(x), int(self.output_details["shape"][-1])), self.output_details["dtype"])
        with self._lock:
            set_input, invoke, get_output = self._ip.set_input, self._ip.invoke, self._ip.get_output
            for i in range(len(x)):
                set_input(x[i : i + 1], 0)
                invoke()
                out[i] = get_output(0)[0]
        return out


def quantize_pixels(images: np.ndarray) -> np.ndarray:
    """uint8 MNIST images (N, 28, 28) -> the model's int8 input (N, 784): q = p - 128 (scale 1/255, zp -128)."""
    return (images.reshape(len(images), spec.INPUT_SIZE).astype(np.int16) - 128).astype(np.int8)
