"""The web artifact's wasm module run in-process by wasmtime (``pip install 'edgemnist[web]'``).

``WasmKernel(path)`` instantiates ``edgemnist_model.wasm`` (or the scalar build) with no imports and makes the
same calls as the page's JavaScript: ``input_size`` uint8 pixels into ``em_input()``, ``em_predict()``,
``output_size`` int8 scores out of ``em_scores()``. The model's tensors (sizes, scales, zero points) are read from
the module itself (``em_input_size()``, ``em_input_scale()``, ... of ``edgemnist/build/harness/wasm_glue.c``, which
return what the kernel's header states), never typed in here. Used by the Predictor backend
(``edgemnist.predictor.web``) and the export gates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist._deps import require
from edgemnist.build.targets import WASM_EXPORTS
from edgemnist.errors import ArtifactError

#: What the module must export: the buffers and the call the page uses, and the facts it states about its model
#: (the ``wasm32`` build target's exports).
REQUIRED_EXPORTS = ("memory", *WASM_EXPORTS)


class WasmKernel:
    """One instance of the module: ``predict() -> label`` on the pixels in ``input``, scores in ``scores`` (an
    int8 view); ``tensors`` the model's input and output as the module states them (manifest ``tensor_info``
    form)."""

    def __init__(self, path: Path):
        from edgemnist.build.wasmfile import inspect_module
        from edgemnist.errors import BuildError

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
            raise ArtifactError(
                f"{path}: the wasm module imports "
                f"{', '.join('.'.join(i) for i in module_info.imports)}; an edgemnist web module "
                "imports nothing"
            )
        missing = [e for e in REQUIRED_EXPORTS if e not in module_info.exports]
        if missing:
            raise ArtifactError(
                f"{path}: the wasm module does not export {', '.join(missing)}; expected an edgemnist web export"
            )
        try:
            engine = wasmtime.Engine()
            module = wasmtime.Module(engine, data)
            self._store = wasmtime.Store(engine)
            instance = wasmtime.Instance(self._store, module, [])
        except Exception as exc:  # wasmtime.WasmtimeError, a Trap
            raise ArtifactError(f"{path}: wasmtime cannot load the module ({str(exc).splitlines()[0][:200]})") from None
        ex = instance.exports(self._store)
        self.input_size, self.output_size = ex["em_input_size"](self._store), ex["em_output_size"](self._store)
        # The Predictor's contract (28x28 pixels in, one score per class out): a module built for another input
        # is refused here, not misread.
        if self.input_size != spec.INPUT_SIZE or not spec.MIN_CLASSES <= self.output_size <= spec.MAX_CLASSES:
            raise ArtifactError(
                f"{path}: the wasm module's model is {self.input_size} -> {self.output_size}; "
                f"expected {spec.INPUT_SIZE} -> K with {spec.MIN_CLASSES} <= K <= {spec.MAX_CLASSES}"
            )
        self.tensors = {
            "input": _tensor(
                spec.INPUT_NAME,
                self.input_size,
                ex["em_input_scale"](self._store),
                ex["em_input_zero_point"](self._store),
            ),
            "output": _tensor(
                spec.OUTPUT_NAME,
                self.output_size,
                ex["em_output_scale"](self._store),
                ex["em_output_zero_point"](self._store),
            ),
        }
        memory = ex["memory"]
        mem = np.ctypeslib.as_array(memory.data_ptr(self._store), shape=(memory.data_len(self._store),))
        start_in, start_out = ex["em_input"](self._store), ex["em_scores"](self._store)
        self.input = mem[start_in : start_in + self.input_size]
        self.scores = mem[start_out : start_out + self.output_size].view(np.int8)
        name_at = ex["em_path"](self._store)
        end = name_at + int(np.argmax(mem[name_at : name_at + 64] == 0))
        self.kernel_path = bytes(mem[name_at:end]).decode("ascii", "replace")
        self._memory, self._predict_fn = mem, ex["em_predict"]
        self.version = _version()

    def predict(self) -> int:
        """Run the image in ``self.input``; the scores land in ``self.scores``."""
        return self._predict_fn(self._store)

    def run_int8(self, q: np.ndarray) -> np.ndarray:
        """(N, input_size) int8 model inputs (q = p - 128) -> (N, output_size) int8 scores."""
        return self.run(np.ascontiguousarray(q, dtype=np.int8).view(np.uint8) ^ np.uint8(0x80))

    def run(self, x: np.ndarray) -> np.ndarray:
        """(N, input_size) uint8 pixels -> (N, output_size) int8 scores (a new array)."""
        out = np.empty((len(x), self.output_size), dtype=np.int8)
        inp, scores, predict, store = self.input, self.scores, self._predict_fn, self._store
        for k in range(len(x)):
            inp[:] = x[k]
            predict(store)
            out[k] = scores
        return out


def _tensor(name: str, size: int, scale: float, zero_point: int) -> dict[str, Any]:
    from edgemnist.manifest import tensor_info

    return tensor_info(name, (-1, size), "int8", scale, zero_point)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("wasmtime")
    except metadata.PackageNotFoundError:
        return "?"
