"""Keras -> TFLite (LiteRT) flatbuffer, in one of four modes, each exactly what its name says.

- ``int8``: full-integer quantization calibrated on training images; only ``TFLITE_BUILTINS_INT8`` ops, so
  every weight and activation is int8 (biases int32). I/O int8 by default (input scale 1/255, zero point
  -128: a uint8 pixel p is fed as p - 128); ``io="float"`` adds a QUANTIZE/DEQUANTIZE pair at the edges
  and keeps float32 I/O, the compute stays integer.
- ``dynamic``: dynamic-range: int8 weights, float32 activations and I/O (not integer-only).
- ``float16``: float16 weights dequantized to float32 at load; float32 compute and I/O.
- ``float32``: no quantization.

The conversion (``edgemnist.export.converter.convert``) follows Keras' own LiteRT exporter (``ExportArchive`` ->
SavedModel -> ``TFLiteConverter.from_saved_model``) but with a signature ``pixels -> probabilities`` and builtin
ops only (Keras' exporter also allows SELECT_TF_OPS, which a device interpreter cannot run). ``check`` reads the
flatbuffer back and lists every way it differs from the mode it claims.

``int8`` with ``weight_bits`` 4 or 2 is ``edgemnist.export.lowbit``'s int8 file whose hidden weights take 2^bits
values; with ``packed`` the same weights stored as INT4 / INT2, compared with that file in LiteRT (``measure``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist.errors import ArtifactError, ConfigError
from edgemnist.export.base import Exporter, ExportJob, io_problems
from edgemnist.export.converter import SIGNATURE, convert
from edgemnist.manifest import tensor_info

# Ops that only convert at the graph's edges; every other op does the model's compute.
_EDGE_OPS = {"QUANTIZE", "DEQUANTIZE"}


def export_tflite(model, out_path: str | Path, config, calibration=None) -> Path:
    """Convert ``model`` to ``out_path`` (a .tflite) as ``config.mode`` / ``config.io`` say.

    ``calibration`` (an ``edgemnist.export.config.Calibration``) is required for int8 and ignored otherwise.
    The flatbuffer does not embed its source (the manifest records it).
    """
    out_path = Path(out_path)
    if out_path.suffix != ".tflite":
        raise ConfigError(f"{out_path}: a TFLite artifact must end in .tflite")
    out_path.write_bytes(convert(model, config.mode, config.io, calibration))
    return out_path


def _dtype(t: dict) -> str:
    return np.dtype(t["dtype"]).name


def _tensor(detail: dict, name: str) -> dict:
    dtype = _dtype(detail)
    scale = zero_point = None
    if dtype != "float32":
        scale, zero_point = detail["quantization"]
    return tensor_info(name, [int(d) for d in detail["shape_signature"]], dtype, scale, zero_point)


def describe(path: str | Path) -> dict[str, Any]:
    """Facts read back from the flatbuffer: I/O tensors (scale, zero point) and the dtypes of its compute."""
    from edgemnist._deps import require

    interpreter_mod = require("ai_edge_litert.interpreter", "litert", what="ai-edge-litert")
    try:
        it = interpreter_mod.Interpreter(model_path=str(path))
    except Exception as exc:
        raise ArtifactError(f"{path}: LiteRT cannot read it ({exc})") from None
    signatures = it.get_signature_list()
    sig = signatures.get(SIGNATURE, {"inputs": [], "outputs": []})
    inputs, outputs = it.get_input_details(), it.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ArtifactError(f"{path}: {len(inputs)} inputs and {len(outputs)} outputs; expected one each")
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    producers = {}
    ops = it._get_ops_details()
    for op in ops:
        for i in op["outputs"]:
            producers[i] = op

    def stored_dtype(index: int) -> str:
        # A float16 weight reaches its op through a DEQUANTIZE; report what is stored.
        op = producers.get(index)
        if op is not None and op["op_name"] == "DEQUANTIZE" and op["inputs"][0] not in producers:
            return _dtype(tensors[op["inputs"][0]])
        return _dtype(tensors[index])

    weights, activations, layers = set(), set(), []
    for op in ops:
        if op["op_name"] == "FULLY_CONNECTED":
            activations.add(_dtype(tensors[op["inputs"][0]]))
            weights.add(stored_dtype(op["inputs"][1]))
            shape = [int(d) for d in tensors[op["inputs"][1]]["shape"]]
            layers.append({"weights": stored_dtype(op["inputs"][1]), "shape": shape})
        elif op["op_name"] not in _EDGE_OPS:
            activations.update(_dtype(tensors[i]) for i in op["inputs"] if i >= 0)
    return {
        "input": _tensor(inputs[0], sig["inputs"][0] if sig["inputs"] else inputs[0]["name"]),
        "output": _tensor(outputs[0], sig["outputs"][0] if sig["outputs"] else outputs[0]["name"]),
        "graph": {
            "signature": SIGNATURE if SIGNATURE in signatures else None,
            "ops": sorted({op["op_name"] for op in ops}),
            "weights": sorted(weights),
            "activations": sorted(activations),
            "layers": layers,  # each FULLY_CONNECTED's stored weight dtype and (out, in) shape, in graph order
        },
    }


#: Dynamic-range conversion quantizes a weight tensor only from this many elements on (the TFLite converter's
#: threshold); a smaller one (a 16 -> 10 output layer's 160) stays float32.
DYNAMIC_MIN_ELEMENTS = 1024
#: What each mode must look like when read back: (weight dtypes, activation dtypes).
EXPECTED = {
    "int8": (["int8"], ["int8"]),
    "dynamic": (["int8"], ["float32"]),
    "float16": (["float16"], ["float32"]),
    "float32": (["float32"], ["float32"]),
}


def check(facts: dict[str, Any], mode: str, io: str) -> list[str]:
    """Every way the artifact differs from ``mode`` / ``io`` (empty if it is what it claims)."""
    problems = []
    weights, activations = EXPECTED[mode]
    graph = facts["graph"]
    if mode == "dynamic":  # the converter leaves a weight of fewer elements float32 (nothing to gain)
        for i, layer in enumerate(graph.get("layers", [])):
            n = math.prod(layer["shape"])
            allowed = ("int8",) if n >= DYNAMIC_MIN_ELEMENTS else ("int8", "float32")
            if layer["weights"] not in allowed:
                problems.append(f"layer {i + 1}'s {n} weights are {layer['weights']}, expected int8 for dynamic")
        if not problems and graph.get("layers"):
            weights = graph["weights"]  # checked layer by layer above
    if graph["weights"] != weights:
        problems.append(f"weights are {'/'.join(graph['weights']) or 'absent'}, expected {weights[0]} for {mode}")
    if graph["activations"] != activations:
        problems.append(f"compute runs in {'/'.join(graph['activations'])}, expected {activations[0]} for {mode}")
    return problems + io_problems(facts, "float32" if io == "float" else io)


def low_bit_bytes(job: ExportJob) -> tuple[bytes, Any]:
    """The flatbuffer of a ``--weight-bits 4|2`` export (int8 container, or packed) and its recipe."""
    from edgemnist.export import lowbit

    c = job.config
    data, recipe = job.source.low_bit(c.weight_bits, c.io, c.calibration_samples, c.seed)
    return (lowbit.pack(data, c.weight_bits) if c.packed else data), recipe


class TFLiteExporter(Exporter):
    """Keras -> .tflite (``export_tflite``), read back with LiteRT (``describe``) and checked (``check``).

    ``--weight-bits 4|2``: the int8 container of ``edgemnist.export.lowbit`` (quantized once per Source);
    ``packed``: the same weights stored as INT4 / INT2, generated after (``requires``) and compared with the
    int8 container in LiteRT (``measure``)."""

    def requires(self, config) -> Any:
        return config.unpacked if config.packed else None

    def export(self, job: ExportJob) -> None:
        if job.config.low_bit:
            path = Path(job.files.path)
            path.write_bytes(low_bit_bytes(job)[0])
            return
        export_tflite(job.model, job.files.path, job.config, job.calibration)

    def describe(self, job: ExportJob) -> dict[str, Any]:
        facts = describe(job.files.path)
        if job.config.low_bit:
            from edgemnist.export import lowbit

            facts["weights"] = lowbit.weight_facts(Path(job.files.path).read_bytes(), low_bit_bytes(job)[1])
        return facts

    def check(self, job: ExportJob, facts: dict[str, Any]) -> list[str]:
        problems = check(facts, job.config.mode, job.config.io)
        if job.config.low_bit:
            from edgemnist.export import lowbit

            problems += lowbit.weight_problems(facts["weights"], job.config.weight_bits, job.config.packed)
        return problems

    def measure(self, job: ExportJob) -> tuple[dict[str, Any], list[str]]:
        if not job.config.packed:
            return {}, []
        from edgemnist.export import packed

        return packed.measure(job, "LiteRT")

    def summary(self, result) -> str | None:
        from edgemnist.export import packed

        return packed.summary(result)


EXPORTER = TFLiteExporter()
