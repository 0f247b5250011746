"""The web artifact's wasm module run in-process by wasmtime (``pip install 'edgemnist[web]'``).

``WasmKernel(path)`` instantiates ``edgemnist_model.wasm`` (or the scalar build) with no imports and makes the
same calls as the page's JavaScript: 784 uint8 pixels into ``em_input()``, ``em_predict()``, 10 int8 scores out of
``em_scores()``. Used by the Predictor backend (``edgemnist.predictor.web``) and the export gate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgemnist import spec
from edgemnist._deps import require
from edgemnist.errors import ArtifactError

#: The model's tensors as every int8 artifact states them (manifest ``tensor_info`` form): int8 input q = p - 128
#: (scale 1/255, zero point -128), int8 softmax out (scale 1/256, zero point -128). The wasm kernel itself takes the
#: uint8 pixels p; ``run_int8`` converts (exactly: q + 128 = p).
INPUT = {"name": spec.INPUT_NAME, "shape": [-1, spec.INPUT_SIZE], "dtype": "int8", "scale": 1.0 / 255.0,
         "zero_point": -128}
OUTPUT = {"name": spec.OUTPUT_NAME, "shape": [-1, spec.NUM_CLASSES], "dtype": "int8", "scale": 1.0 / 256.0,
          "zero_point": -128}


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

    def run_int8(self, q: np.ndarray) -> np.ndarray:
        """(N, 784) int8 model inputs (q = p - 128) -> (N, 10) int8 scores."""
        return self.run(np.ascontiguousarray(q, dtype=np.int8).view(np.uint8) ^ np.uint8(0x80))

    def run(self, x: np.ndarray) -> np.ndarray:
        """(N, 784) uint8 pixels -> (N, 10) int8 scores (a new array)."""
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
