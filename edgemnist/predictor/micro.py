"""TensorFlow Lite Micro backend for ``model_data.cc`` artifacts (``pip install 'edgemnist[micro]'``).

The bytes are parsed back out of the C array and run in the real TFLM interpreter (PyPI ``tflite-micro``,
reference kernels) with the tensor arena ``model_data.h`` states; when there is no header for this very
array (its sha256 is in the header's comment), the arena is measured first (``min_arena_bytes``, a few
seconds). The TFLM model has batch 1, as on a device: ``run`` invokes once per image, under a lock.
Never imports TensorFlow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.export.micro import MicroRunner, min_arena_bytes, read_micro, round_up
from edgemnist.predictor.base import Backend, TensorSpec


class MicroBackend(Backend):
    runtime = "TFLite Micro"

    def __init__(self, path: Path, threads: int = 1) -> None:
        self.path = Path(path)
        self.threads = threads  # TFLM runs on one thread; recorded only
        micro = read_micro(self.path)
        if micro.arena_bytes > 0:
            arena, self._arena_source = micro.arena_bytes, micro.header_path.name
        else:
            arena, self._arena_source = round_up(min_arena_bytes(micro.model_bytes)), "measured at load"
        self._runner = MicroRunner(micro.model_bytes, arena)
        self._flash = micro.flash_bytes
        self.input = self._spec(self._runner.input_details, spec.INPUT_NAME)
        self.output = self._spec(self._runner.output_details, spec.OUTPUT_NAME)

    def _spec(self, details: dict, name: str) -> TensorSpec:
        from edgemnist.errors import ArtifactError

        dtype = np.dtype(details["dtype"]).name
        shape = [int(d) for d in details["shape"]]
        if dtype not in ("int8", "uint8") or len(shape) != 2 or shape[0] != 1:
            raise ArtifactError(f"{self.path}: TFLM {name} tensor is {dtype} {shape}; expected int8 [1, N]")
        q = MicroRunner.quant(details)
        # The interpreter takes one image per invoke; run() loops, so any batch size is accepted.
        return TensorSpec(name, (-1, shape[1]), dtype, q.scale, q.zero_point)

    def run(self, x: np.ndarray) -> np.ndarray:
        return self._runner.run(x)

    def quantization(self) -> str | None:
        return "int8"

    def details(self) -> dict[str, Any]:
        from importlib import metadata

        try:
            version = metadata.version("tflite-micro")
        except metadata.PackageNotFoundError:
            version = "?"
        return {
            "interpreter": f"tflite_micro.runtime {version} (reference kernels)",
            "arena_bytes": self._runner.arena_bytes,
            "arena_from": self._arena_source,
            "flash_bytes": self._flash,
            "batch": "one invoke per image",
        }

    def close(self) -> None:
        self._runner = None
