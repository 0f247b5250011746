"""The browser artifact (``edgemnist_model.wasm``) run outside a browser, in wasmtime (``pip install
'edgemnist[web]'``).

The module is the interpreter-free C kernel compiled to WebAssembly with the glue of ``edgemnist/web/glue.c``:
uint8 pixels in (the static buffer ``em_input()``), int8 scores out (``em_scores()``), one image per
``em_predict()`` call, exactly the calls the page's JavaScript makes (``edgemnist.web.runtime``). Its tensors are
stated like the int8 .tflite's and the C kernel's (int8 in, q = p - 128), so uint8 pixels take the Predictor's
integer-only path. It imports nothing: a module with any
import is refused before it is instantiated. ``run`` loops over the batch under a lock (a wasmtime ``Store``
is single-threaded). Never imports TensorFlow.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist.predictor.base import Backend, RawLoop, TensorSpec
from edgemnist.web import runtime as wasm


class WebBackend(Backend):
    runtime = "wasmtime"

    def __init__(self, path: Path, threads: int = 1) -> None:
        self.path = Path(path)
        self.threads = threads  # the kernel runs on one thread; recorded only
        self._kernel = wasm.WasmKernel(self.path)
        self._lock = threading.Lock()
        self.input = TensorSpec.from_dict(self._kernel.tensors["input"])  # as the module states them
        self.output = TensorSpec.from_dict(self._kernel.tensors["output"])

    def run(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            return self._kernel.run_int8(x)

    @classmethod
    def raw_loop(cls, path: Path, threads: int = 1) -> RawLoop:
        kernel = wasm.WasmKernel(Path(path))

        def prepare(batch: int):
            return kernel.run_int8

        return RawLoop(
            f"wasmtime: {kernel.input_size} bytes into em_input, em_predict(), em_scores out, per image", prepare
        )

    def quantization(self) -> str | None:
        return "int8"

    def details(self) -> dict[str, Any]:
        return {
            "wasmtime": self._kernel.version,
            "kernel_path": self._kernel.kernel_path,
            "wasm_bytes": self.path.stat().st_size,
            "batch": "one em_predict() per image",
        }

    def close(self) -> None:
        self._kernel = None
