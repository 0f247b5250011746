"""Check the generated C against the interpreters: TFLite Micro (must be byte-identical) and LiteRT (recorded).

``verify_host(c_path, tflite_path, images, labels)`` builds the C for this machine (:mod:`.host`), runs every
image through it and through the TFLM Python interpreter (reference kernels) on the same int8 bytes, and returns
the figures an export gate and a manifest need: differing output bytes and images, accuracy, and LiteRT's
agreement (top-1 and bytes; LiteRT's XNNPACK kernels round once where TFLM rounds twice and have their own softmax,
so a few bytes differ).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist.build.compile import compiler_version
from edgemnist.build.host import HostKernel
from edgemnist.errors import ArtifactError
from edgemnist.modelfacts import parse_facts

#: TFLM's arena for the cross-check: generous (the model needs ~9-10 KB); run once in a child process first.
TFLM_ARENA_BYTES = 64 << 10


def _tflm_runner(model_bytes: bytes):
    from edgemnist.tflm.arena import ensure_runs
    from edgemnist.tflm.runner import MicroRunner

    ensure_runs(model_bytes, TFLM_ARENA_BYTES)
    return MicroRunner(model_bytes, TFLM_ARENA_BYTES)


def int8_inputs(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels (N, 28, 28) or (N, 784), each image flattened -> the model's int8 input q = p - 128."""
    return (np.asarray(pixels, np.uint8).reshape(len(pixels), -1).astype(np.int16) - 128).astype(np.int8)


def tflm_outputs(model_bytes: bytes, pixels: np.ndarray) -> np.ndarray:
    return _tflm_runner(model_bytes).run(int8_inputs(pixels))


def litert_outputs(model_bytes: bytes, pixels: np.ndarray) -> np.ndarray:
    from edgemnist._deps import require

    litert = require("ai_edge_litert.interpreter", "litert", what="ai-edge-litert")
    x = int8_inputs(pixels)
    it = litert.Interpreter(model_content=model_bytes, num_threads=1)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    it.resize_tensor_input(inp["index"], [len(x), parse_facts(model_bytes, "the int8 .tflite").input_size])
    it.allocate_tensors()
    it.set_tensor(inp["index"], x)
    it.invoke()
    return it.get_tensor(out["index"])


def compare(scores: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """Byte and top-1 agreement of two (N, classes) int8 arrays (argmax: first index wins, as numpy)."""
    if scores.shape != reference.shape:
        raise ArtifactError(f"output shapes differ: {scores.shape} vs {reference.shape}")
    diff = scores != reference
    steps = np.abs(scores.astype(np.int16) - reference.astype(np.int16))
    return {
        "n": int(len(scores)),
        "differing_bytes": int(diff.sum()),
        "differing_images": int(diff.any(1).sum()),
        "top1_agreement": float(np.mean(scores.argmax(1) == reference.argmax(1))),
        "max_abs_diff_int8_steps": int(steps.max()) if steps.size else 0,
    }


def verify_host(
    c_path: str | Path,
    tflite_path: str | Path,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    compare_litert: bool = True,
    header: str | Path | None = None,
) -> dict[str, Any]:
    """Host build of ``c_path`` vs TFLM (and LiteRT) on ``images`` (uint8 MNIST); see the module doc."""
    model_bytes = Path(tflite_path).read_bytes()
    kernel = HostKernel(c_path, header)
    start = time.perf_counter()
    scores, digits = kernel.run(np.asarray(images, np.uint8).reshape(len(images), -1))
    seconds = time.perf_counter() - start
    ref = tflm_outputs(model_bytes, images)
    labels = np.asarray(labels)
    result: dict[str, Any] = {
        "compiler": compiler_version(),
        "path": kernel.path_name,
        "n": int(len(images)),
        "accuracy": float(np.mean(digits == labels)),
        "tflm_accuracy": float(np.mean(ref.argmax(1) == labels)),
        "us_per_image": round(1e6 * seconds / max(len(images), 1), 3),
        "digits_are_argmax": bool(np.array_equal(digits, scores.argmax(1))),
        "tflm": compare(scores, ref),
    }
    if compare_litert:
        result["litert"] = compare(scores, litert_outputs(model_bytes, images))
    return result
