"""Keras -> ONNX (opset ``OPSET``), float32 or quantized by ONNX Runtime, each exactly what its name says.

- ``int8``: static QDQ quantization: ``quant_pre_process`` (shape inference + graph optimization: MatMul+Add
  fuse to Gemm), then ``quantize_static`` with MinMax calibration on training images; int8 weights
  (symmetric) and activations (asymmetric), float32 I/O (a QuantizeLinear/DequantizeLinear pair at the edges).
- ``dynamic``: ``quantize_dynamic``: int8 weights, activations quantized per batch at run time
  (DynamicQuantizeLinear + MatMulInteger), float32 I/O.
- ``float32``: the tf2onnx graph as converted.

The graph is converted with ``tf2onnx.convert.from_function`` (``from_keras`` fails on Keras 3 models)
from a function ``pixels -> {"probabilities": ...}``; the batch dimension is named ``batch`` and dynamic.
The manifest's essentials are also stored in the model's ``metadata_props``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgemnist import spec
from edgemnist.errors import ArtifactError, ConfigError
from edgemnist.export.base import Exporter, ExportJob, io_problems
from edgemnist.manifest import SCHEMA, tensor_info

#: ONNX opset of every exported graph (ONNX Runtime >= 1.14 runs it; QDQ quantization supports it).
OPSET = 17
BATCH_DIM = "batch"
CALIBRATION_BATCH = 100


@dataclass(frozen=True)
class StaticRecipe:
    """The static int8 recipe: what drives ``quantize_static`` (``apply_kwargs``) is what is recorded
    (``to_dict``, in the model's ``metadata_props`` and, read back from there, in the manifest)."""

    quant_format: str = "QDQ"
    activation_type: str = "QInt8"
    weight_type: str = "QInt8"
    calibrate_method: str = "MinMax"
    per_channel: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def apply_kwargs(self, quantization) -> dict[str, Any]:
        """``quantize_static`` keyword arguments, each looked up by its recorded name in ``quantization``
        (``onnxruntime.quantization``)."""
        return {
            "quant_format": getattr(quantization.QuantFormat, self.quant_format),
            "activation_type": getattr(quantization.QuantType, self.activation_type),
            "weight_type": getattr(quantization.QuantType, self.weight_type),
            "calibrate_method": getattr(quantization.CalibrationMethod, self.calibrate_method),
            "per_channel": self.per_channel,
        }


#: The static int8 recipe of every onnx int8 export.
STATIC = StaticRecipe()
_ONNX_DTYPES = {1: "float32", 3: "int8", 2: "uint8", 10: "float16", 6: "int32", 7: "int64"}


def export_onnx(
    model,
    out_path: str | Path,
    config,
    calibration=None,
    *,
    source: dict[str, str] | None = None,
    recipe: StaticRecipe = STATIC,
) -> Path:
    """Convert ``model`` to ``out_path`` (a .onnx) as ``config.mode`` says; int8 needs ``calibration`` and is
    quantized with ``recipe``.

    ``source`` (``{"file": name, "sha256": digest}`` of the .keras), when given, is stored in the metadata."""
    from edgemnist._deps import require
    from edgemnist._deps import tensorflow as _tf

    out_path = Path(out_path)
    if out_path.suffix != ".onnx":
        raise ConfigError(f"{out_path}: an ONNX artifact must end in .onnx")
    mode = config.mode
    if mode not in ("int8", "dynamic", "float32"):
        raise ConfigError(f"unknown onnx mode {mode!r}")
    if mode == "int8" and calibration is None:
        raise ConfigError("onnx int8 needs calibration images")
    tf = _tf()
    tf2onnx = require("tf2onnx", "train")
    onnx = require("onnx", "train")
    signature = (tf.TensorSpec((None, spec.INPUT_SIZE), tf.float32, name=spec.INPUT_NAME),)

    @tf.function(input_signature=signature)
    def serve(pixels):
        return {spec.OUTPUT_NAME: model(pixels, training=False)}

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=signature, opset=OPSET)
    _name_batch(proto)
    if mode != "float32":
        proto = _quantize(proto, mode, calibration, recipe)
        _name_batch(proto)
    proto.doc_string = f"edgemnist MLP, onnx {mode}"
    del proto.metadata_props[:]
    classes = int(model.output_shape[-1])
    onnx.helper.set_model_props(proto, metadata(config, calibration, source, recipe, num_classes=classes))
    onnx.checker.check_model(proto)
    out_path.write_bytes(proto.SerializeToString())
    return out_path


def _name_batch(proto) -> None:
    for value in list(proto.graph.input) + list(proto.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_param = BATCH_DIM


def _quantize(proto, mode: str, calibration, recipe: StaticRecipe):
    import onnx

    from edgemnist._deps import require

    quantization = require("onnxruntime.quantization", "onnx", what="onnxruntime")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="edgemnist-onnx-") as tmp:
        source, prepared, quantized = (Path(tmp) / n for n in ("float32.onnx", "prepared.onnx", "quantized.onnx"))
        onnx.save(proto, source)
        quant_pre_process(str(source), str(prepared))
        if mode == "dynamic":
            quantization.quantize_dynamic(prepared, quantized, weight_type=quantization.QuantType.QInt8)
        else:
            images = np.ascontiguousarray(calibration.images, dtype=np.float32)

            class Reader(quantization.CalibrationDataReader):
                def __init__(self):
                    self._batches = iter(range(0, len(images), CALIBRATION_BATCH))

                def get_next(self):
                    start = next(self._batches, None)
                    return None if start is None else {spec.INPUT_NAME: images[start : start + CALIBRATION_BATCH]}

            quantization.quantize_static(prepared, quantized, Reader(), **recipe.apply_kwargs(quantization))
        return onnx.load(quantized)


def metadata(
    config,
    calibration=None,
    source: dict[str, str] | None = None,
    recipe: StaticRecipe = STATIC,
    *,
    num_classes: int = spec.NUM_CLASSES,
) -> dict[str, str]:
    """The manifest's essentials, as ONNX ``metadata_props`` (string values; JSON where structured);
    ``num_classes``: the model's output width."""
    io = tensor_info(spec.INPUT_NAME, (-1, spec.INPUT_SIZE), "float32")
    out = tensor_info(spec.OUTPUT_NAME, (-1, num_classes), "float32")
    props = {
        "edgemnist.schema": SCHEMA,
        "format": "onnx",
        "quantization": config.mode,
        "io": config.io,
        "input": json.dumps(io),
        "output": json.dumps(out),
        "preprocessing": json.dumps(spec.PREPROCESSING),
        "labels": json.dumps(spec.labels(num_classes)),
        "opset": str(OPSET),
    }
    if source is not None:
        props["source"] = json.dumps({key: source[key] for key in ("file", "sha256")})
    if config.mode == "int8" and calibration is not None:
        props["calibration"] = json.dumps({**calibration.recipe, **recipe.to_dict()})
    return props


def _value_info(value, name: str | None = None) -> dict:
    t = value.type.tensor_type
    shape = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
    return tensor_info(name or value.name, shape, _ONNX_DTYPES.get(t.elem_type, str(t.elem_type)))


def describe(path: str | Path) -> dict[str, Any]:
    """Facts read back from the .onnx: I/O, opset, ops, stored weight dtypes, metadata."""
    from edgemnist._deps import require

    onnx = require("onnx", "train")
    try:
        proto = onnx.load(str(path))
    except Exception as exc:
        raise ArtifactError(f"{path}: not a readable ONNX model ({exc})") from None
    graph = proto.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise ArtifactError(f"{path}: {len(graph.input)} inputs and {len(graph.output)} outputs; expected one each")
    inits = {i.name: i for i in graph.initializer}
    weights = set()
    compute = {"MatMul", "Gemm", "MatMulInteger", "QLinearMatMul"}
    for node in graph.node:
        if node.op_type in compute and len(node.input) > 1:
            name = node.input[1]
            producer = next((n for n in graph.node if name in n.output), None)
            if producer is not None and producer.op_type == "DequantizeLinear":
                name = producer.input[0]
            if name in inits:
                weights.add(_ONNX_DTYPES.get(inits[name].data_type, str(inits[name].data_type)))
    input_quant = None
    for node in graph.node:  # the input's QuantizeLinear in a QDQ graph: what calibration decided
        if node.op_type == "QuantizeLinear" and node.input[0] == graph.input[0].name:
            scale, zero = (onnx.numpy_helper.to_array(inits[n]) for n in node.input[1:3])
            input_quant = {"scale": float(scale), "zero_point": int(zero), "dtype": str(zero.dtype)}
    props = {p.key: p.value for p in proto.metadata_props}
    try:
        calibration = json.loads(props["calibration"]) if "calibration" in props else None
    except ValueError:
        calibration = None
    facts = {
        "input": _value_info(graph.input[0]),
        "output": _value_info(graph.output[0]),
        "graph": {
            "opset": next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None),
            "batch_dim": graph.input[0].type.tensor_type.shape.dim[0].dim_param or None,
            "ops": sorted({n.op_type for n in graph.node}),
            "weights": sorted(weights),
            "input_quantization": input_quant,
            "metadata_props": sorted(p.key for p in proto.metadata_props),
        },
        "tools": {"onnx_opset": OPSET},
    }
    if isinstance(calibration, dict):  # the recipe the file states is the one recorded
        facts["calibration"] = calibration
    return facts


#: What each mode must contain when read back: (weight dtypes, ops that must be present).
EXPECTED = {
    "int8": (["int8"], {"QuantizeLinear", "DequantizeLinear"}),
    "dynamic": (["int8"], {"DynamicQuantizeLinear", "MatMulInteger"}),
    "float32": (["float32"], set()),
}


def check(facts: dict[str, Any], mode: str, io: str) -> list[str]:
    """Every way the artifact differs from ``mode`` (empty if it is what it claims)."""
    problems = []
    weights, ops = EXPECTED[mode]
    graph = facts["graph"]
    if graph["weights"] != weights:
        problems.append(f"weights are {'/'.join(graph['weights']) or 'absent'}, expected {weights[0]} for {mode}")
    missing = ops - set(graph["ops"])
    if missing:
        problems.append(f"ops {', '.join(sorted(missing))} missing for {mode}")
    if mode == "float32" and {"QuantizeLinear", "DynamicQuantizeLinear"} & set(graph["ops"]):
        problems.append("float32 graph contains quantization ops")
    if graph["opset"] != OPSET:
        problems.append(f"opset {graph['opset']}, expected {OPSET}")
    if graph["batch_dim"] != BATCH_DIM:
        problems.append(f"batch dimension is not the dynamic {BATCH_DIM!r}")
    return problems + io_problems(facts, "float32")


class OnnxExporter(Exporter):
    """Keras -> .onnx (``export_onnx``), read back with onnx (``describe``) and checked (``check``)."""

    def export(self, job: ExportJob) -> None:
        source = {"file": job.source.path.name, "sha256": job.source.sha256}
        export_onnx(job.model, job.files.path, job.config, job.calibration, source=source)

    def describe(self, job: ExportJob) -> dict[str, Any]:
        return describe(job.files.path)

    def check(self, job: ExportJob, facts: dict[str, Any]) -> list[str]:
        problems = check(facts, job.config.mode, job.config.io)
        if job.config.mode == "int8" and facts.get("calibration") is None:
            problems.append("int8 model states no calibration recipe in its metadata")
        return problems


EXPORTER = OnnxExporter()
