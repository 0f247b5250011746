"""TensorFlow Lite Micro backend for ``model_data.cc`` artifacts (the ``micro`` extra,
``edgemnist._deps.install_hint``).

The bytes are parsed back out of the C array and run in the real TFLM interpreter (PyPI ``tflite-micro``,
reference kernels) with the tensor arena ``model_data.h`` states; when there is no header for this very
array (its sha256 is in the header's comment), the arena is measured first (``min_arena_bytes``, a few
seconds). The TFLM model has batch 1, as on a device: ``run`` invokes once per image, under a lock.
Never imports TensorFlow.

TFLM verifies nothing and can crash the whole process on a malformed model or a too-small arena, so this
process only runs a model with an arena a child process has run it with first (``ensure_runs``, ~0.4 s,
once per model and arena), unless a verified signature covered both files (``edgemnist.signing``): an
unsigned manifest does not lift that check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.errors import ArtifactError
from edgemnist.predictor.base import Backend, RawLoop, TensorSpec
from edgemnist.tflm.arena import ensure_runs, min_arena_bytes, remember_runs, round_up, tflm_runtime
from edgemnist.tflm.reader import MicroModel, read_micro
from edgemnist.tflm.runner import MicroRunner


def arena_for(micro: MicroModel, *, vouched: bool = False) -> tuple[int, str]:
    """(tensor arena bytes, where that figure came from) for a parsed array: what ``MicroBackend`` runs
    with, and the raw baseline ``edgemnist bench`` times.

    The arena has run this model in a child process (``ensure_runs``) unless ``vouched`` (a verified
    signature covered the array and the header); a header arena that does not run is measured again.
    """
    if micro.arena_bytes > 0:
        if vouched:
            remember_runs(micro.model_bytes, micro.arena_bytes)
            return micro.arena_bytes, micro.header_path.name
        try:
            ensure_runs(micro.model_bytes, micro.arena_bytes)
            return micro.arena_bytes, micro.header_path.name
        except ArtifactError:
            pass
    arena = round_up(min_arena_bytes(micro.model_bytes))
    ensure_runs(micro.model_bytes, arena)
    return arena, "measured at load"


def _vouched(path: Path, micro: MicroModel) -> bool:
    """Did a verified signature (``Predictor.load(..., public_key=...)``) cover this very array and header?
    An unsigned manifest never vouches: whoever replaces the files can rewrite its sha256s too."""
    from edgemnist.fileio import sha256_file
    from edgemnist.signing import vouched

    if micro.arena_bytes <= 0:
        return False
    try:
        return vouched(sha256_file(path), sha256_file(micro.header_path))
    except OSError:
        return False


class MicroBackend(Backend):
    runtime = "TFLite Micro"

    def __init__(self, path: Path, threads: int = 1) -> None:
        self.path = Path(path)
        self.threads = threads  # TFLM runs on one thread; recorded only
        micro = read_micro(self.path)
        arena, self._arena_source = arena_for(micro, vouched=_vouched(self.path, micro))
        self._runner = MicroRunner(micro.model_bytes, arena)
        self._flash = micro.flash_bytes
        self.input = self._spec(self._runner.input_details, spec.INPUT_NAME)
        self.output = self._spec(self._runner.output_details, spec.OUTPUT_NAME)

    def _spec(self, details: dict, name: str) -> TensorSpec:
        dtype = np.dtype(details["dtype"]).name
        shape = [int(d) for d in details["shape"]]
        if dtype not in ("int8", "uint8") or len(shape) != 2 or shape[0] != 1:
            raise ArtifactError(f"{self.path}: TFLM {name} tensor is {dtype} {shape}; expected int8 [1, N]")
        q = MicroRunner.quant(details)
        # The interpreter takes one image per invoke; run() loops, so any batch size is accepted.
        return TensorSpec(name, (-1, shape[1]), dtype, q.scale, q.zero_point)

    def run(self, x: np.ndarray) -> np.ndarray:
        return self._runner.run(x)

    @classmethod
    def raw_loop(cls, path: Path, threads: int = 1) -> RawLoop:
        runtime = tflm_runtime()
        micro = read_micro(path)
        ip = runtime.Interpreter.from_bytes(micro.model_bytes, arena_size=int(arena_for(micro)[0]))
        set_input, invoke, get_output = ip.set_input, ip.invoke, ip.get_output

        def call(x):
            out = []
            for k in range(len(x)):  # the TFLM model has batch 1, as on a device
                set_input(x[k : k + 1], 0)
                invoke()
                out.append(get_output(0))
            return out

        return RawLoop("tflite_micro Interpreter: set_input, invoke, get_output, per image", lambda batch: call)

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
