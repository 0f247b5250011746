"""Backend for the interpreter-free C artifact (``edgemnist_model.c`` + ``edgemnist_model.h``, format "c").

The pair is built once for the ``host`` target (``edgemnist.build``: the system C compiler, a shared library cached
by sha256 under ``$EDGEMNIST_CACHE_DIR`` or the user cache dir) and called through ctypes, one
``edgemnist_predict`` per image. The model's int8 input is ``q = p - 128`` for a pixel ``p``; the C takes ``p``
itself, so ``run`` maps int8 -> uint8 (``q + 128``) and back nothing: the scores are the model's int8 output.
Never imports TensorFlow; needs only a C compiler.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.build.compile import header_path
from edgemnist.build.host import HostKernel
from edgemnist.ckernel.reader import read_header
from edgemnist.errors import ArtifactError
from edgemnist.predictor.base import Backend, NativeLoop, RawLoop, TensorSpec


def _pixels(x: np.ndarray) -> np.ndarray:
    """int8 model input (N, 784) -> the uint8 pixels the C takes (q + 128, bit for bit q ^ 0x80)."""
    return np.ascontiguousarray(x, np.int8).view(np.uint8) ^ np.uint8(0x80)


class CBackend(Backend):
    runtime = "edgemnist C kernel"

    def __init__(self, path: Path, threads: int = 1) -> None:
        self.path = Path(path)
        self.threads = threads  # one static buffer: calls are serialized; recorded only
        self.header = header_path(self.path)
        # The build proves the pair is edgemnist's generated kernel (build.compile.verified_pair) before compiling it.
        self._kernel = HostKernel(self.path, self.header)
        facts = read_header(self._kernel.header_text.decode("ascii"), str(self.header))
        classes = facts["EDGEMNIST_OUTPUT_SIZE"]
        if facts["EDGEMNIST_INPUT_SIZE"] != spec.INPUT_SIZE or not spec.MIN_CLASSES <= classes <= spec.MAX_CLASSES:
            raise ArtifactError(
                f"{self.header}: the kernel is {facts['EDGEMNIST_INPUT_SIZE']} -> {classes}; expected "
                f"{spec.INPUT_SIZE} -> K with {spec.MIN_CLASSES} <= K <= {spec.MAX_CLASSES}"
            )
        self._facts = facts
        self.input = TensorSpec(
            spec.INPUT_NAME,
            (-1, spec.INPUT_SIZE),
            "int8",
            facts["EDGEMNIST_INPUT_SCALE"],
            facts["EDGEMNIST_INPUT_ZERO_POINT"],
        )
        self.output = TensorSpec(
            spec.OUTPUT_NAME,
            (-1, classes),
            "int8",
            facts["EDGEMNIST_OUTPUT_SCALE"],
            facts["EDGEMNIST_OUTPUT_ZERO_POINT"],
        )

    def run(self, x: np.ndarray) -> np.ndarray:
        return self._kernel.run(_pixels(x))[0]

    @classmethod
    def raw_loop(cls, path: Path, threads: int = 1) -> RawLoop:
        kernel = HostKernel(path)
        predict = kernel.predict
        classes = read_header(kernel.header_text.decode("ascii"), str(header_path(path)))["EDGEMNIST_OUTPUT_SIZE"]

        def prepare(batch: int):
            scores = np.empty((batch, classes), np.int8)

            def call(x):
                p = _pixels(x)
                base_in, base_out = p.ctypes.data, scores.ctypes.data
                for i in range(len(p)):
                    predict(base_in + i * spec.INPUT_SIZE, base_out + i * classes)
                return scores

            return call

        return RawLoop("ctypes: edgemnist_predict per image (compiled with the system cc)", prepare)

    @classmethod
    def native_loop(cls, path: Path) -> NativeLoop:
        from edgemnist.build.host import build_timing_driver, run_timing_driver

        exe = build_timing_driver(path)
        return NativeLoop(
            "edgemnist_predict per image, clock_gettime around each call (build/harness/timing_main.c)",
            lambda pixels, warmup: run_timing_driver(exe, pixels, warmup),
        )

    def quantization(self) -> str | None:
        return "int8"

    def details(self) -> dict[str, Any]:
        return {
            "compiler": self._kernel.build.compiler,
            "library": str(self._kernel.library),
            "path": self._kernel.path_name,
            "header": self.header.name,
            "source": self._facts["EDGEMNIST_SOURCE_NAME"],
            "source_sha256": self._facts["EDGEMNIST_SOURCE_SHA256"],
            "constants_bytes": self._facts["EDGEMNIST_CONST_BYTES"],
            # the model's size as a device stores it (the const arrays in flash), not the C text's
            "flash_bytes": self._facts["EDGEMNIST_CONST_BYTES"],
            "activation_bytes": self._facts["EDGEMNIST_ACTIVATION_BYTES"],
            "batch": "one edgemnist_predict call per image",
        }

    def close(self) -> None:
        self._kernel = None
