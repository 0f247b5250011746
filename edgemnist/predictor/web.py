"""The browser artifact (``edgemnist_model.wasm``) run outside a browser, in wasmtime (``pip install 'edgemnist[web]'``).

The module is the interpreter-free C kernel compiled to WebAssembly with the glue of ``edgemnist/web/glue.c``:
uint8 pixels in (the static buffer ``em_input()``), int8 scores out (``em_scores()``), one image per
``em_predict()`` call, exactly the calls the page's JavaScript makes. It imports nothing: a module with any
import is refused before it is instantiated. ``run`` loops over the batch under a lock (a wasmtime ``Store``
is single-threaded). Never imports TensorFlow.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist._deps import require
from edgemnist.errors import ArtifactError
from edgemnist.predictor.base import Backend, RawLoop, TensorSpec

#: The kernel's tensors: uint8 pixels (0-255, real = p / 255) in, the int8 softmax (real = (q + 128) / 256) out.
INPUT = TensorSpec(spec.INPUT_NAME, (-1, spec.INPUT_SIZE), "uint8", scale=1.0 / 255.0, zero_point=0)
OUTPUT = TensorSpec(spec.OUTPUT_NAME, (-1, spec.NUM_CLASSES), "int8", scale=1.0 / 256.0, zero_point=-128)


class WasmKernel:
    """One instance of the module: ``predict(pixels_784_uint8) -> label`` with ``scores`` an int8 view."""

    def __init__(self, path: Path):
        from edgemnist.web.build import BuildError, inspect_module

        wasmtime = require("wasmtime", "web", what="wasmtime")
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ArtifactError(f"{path}: cannot read the wasm module ({exc.strerror or exc})") from None
        try:
            module_info = inspect_module(data)
        except BuildError as exc:
            raise ArtifactError(f"{path}: {exc}") from None
        if module_info.imports:
            raise ArtifactError(f"{path}: the wasm module imports "
                                f"{', '.join('.'.join(i) for i in module_info.imports)}; an edgemnist web module "
                                "imports nothing")
        missing = [e for e in ("memory", "em_input", "em_scores", "em_predict", "em_path")
                   if e not in module_info.exports]
        if missing:
            raise ArtifactError(f"{path}: the wasm module does not export {', '.join(missing)}; "
                                "expected an edgemnist web export")
        try:
            engine = wasmtime.Engine()
            module = wasmtime.Module(engine, data)
            self._store = wasmtime.Store(engine)
            instance = wasmtime.Instance(self._store, module, [])
        except Exception as exc:  # wasmtime.WasmtimeError, a Trap
            raise ArtifactError(f"{path}: wasmtime cannot load the module ({str(exc).splitlines()[0][:200]})") from None
        ex = instance.exports(self._store)
        memory = ex["memory"]
        mem = np.ctypeslib.as_array(memory.data_ptr(self._store), shape=(memory.data_len(self._store),))
        start_in, start_out = ex["em_input"](self._store), ex["em_scores"](self._store)
        self.input = mem[start_in:start_in + spec.INPUT_SIZE]
        self.scores = mem[start_out:start_out + spec.NUM_CLASSES].view(np.int8)
        name_at = ex["em_path"](self._store)
        end = name_at + int(np.argmax(mem[name_at:name_at + 64] == 0))
        self.kernel_path = bytes(mem[name_at:end]).decode("ascii", "replace")
        self._memory, self._predict_fn = mem, ex["em_predict"]
        self.version = _version()

    def predict(self) -> int:
        """Run the image in ``self.input``; the scores land in ``self.scores``."""
        return self._predict_fn(self._store)

    def run(self, x: np.ndarray) -> np.ndarray:
        out = np.empty((len(x), spec.NUM_CLASSES), dtype=np.int8)
        inp, scores, predict, store = self.input, self.scores, self._predict_fn, self._store
        for k in range(len(x)):
            inp[:] = x[k]
            predict(store)
            out[k] = scores
        return out


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("wasmtime")
    except metadata.PackageNotFoundError:
        return "?"


class WebBackend(Backend):
    runtime = "wasmtime"

    def __init__(self, path: Path, threads: int = 1) -> None:
        self.path = Path(path)
        self.threads = threads  # the kernel runs on one thread; recorded only
        self._kernel = WasmKernel(self.path)
        self._lock = threading.Lock()
        self.input, self.output = INPUT, OUTPUT

    def run(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            return self._kernel.run(x)

    @classmethod
    def raw_loop(cls, path: Path, threads: int = 1) -> RawLoop:
        kernel = WasmKernel(Path(path))

        def prepare(batch: int):
            return kernel.run

        return RawLoop("wasmtime: copy 784 bytes into em_input, em_predict(), read em_scores, per image", prepare)

    def quantization(self) -> str | None:
        return "int8"

    def details(self) -> dict[str, Any]:
        return {"runtime": f"wasmtime {self._kernel.version}", "kernel_path": self._kernel.kernel_path,
                "wasm_bytes": self.path.stat().st_size, "batch": "one em_predict() per image"}

    def close(self) -> None:
        self._kernel = None
