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
#: ``--weight-bits 4|2``: per-channel weights, so each hidden channel's scale can be the low-bit file's own.
LOW_BIT_STATIC = StaticRecipe(per_channel=True)
_ONNX_DTYPES = {1: "float32", 3: "int8", 2: "uint8", 10: "float16", 6: "int32", 7: "int64", 22: "int4", 26: "int2"}
#: ``--weight-bits 4|2 --packed``: the first opset whose DequantizeLinear takes the type that stores the hidden
#: weights two (INT4) or four (INT2) to a byte (``lowbit.PACKED_TYPES``, the same names in ONNX).
PACKED_OPSET = {4: 21, 2: 25}


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
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    try:
        calibration = json.loads(props["calibration"]) if "calibration" in props else None
    except ValueError:
        calibration = None
    facts = {
        "input": _value_info(graph.input[0]),
        "output": _value_info(graph.output[0]),
        "graph": {
            "opset": opset,
            "batch_dim": graph.input[0].type.tensor_type.shape.dim[0].dim_param or None,
            "ops": sorted({n.op_type for n in graph.node}),
            "weights": sorted(weights),
            "input_quantization": input_quant,
            "metadata_props": sorted(p.key for p in proto.metadata_props),
        },
        "tools": {"onnx_opset": opset},
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


def check(facts: dict[str, Any], mode: str, io: str, packed_bits: int | None = None) -> list[str]:
    """Every way the artifact differs from ``mode`` (empty if it is what it claims); ``packed_bits``: the hidden
    weights are stored packed at that width (``PACKED_OPSET``), the output layer's in int8."""
    from edgemnist.export.lowbit import PACKED_TYPES

    problems = []
    weights, ops = EXPECTED[mode]
    opset = OPSET
    if packed_bits is not None:
        opset = PACKED_OPSET[packed_bits]
        weights = sorted({*weights, PACKED_TYPES[packed_bits].lower()})
    graph = facts["graph"]
    if graph["weights"] != weights:
        problems.append(
            f"weights are {'/'.join(graph['weights']) or 'absent'}, expected {'/'.join(weights)} for {mode}"
        )
    missing = ops - set(graph["ops"])
    if missing:
        problems.append(f"ops {', '.join(sorted(missing))} missing for {mode}")
    if mode == "float32" and {"QuantizeLinear", "DynamicQuantizeLinear"} & set(graph["ops"]):
        problems.append("float32 graph contains quantization ops")
    if graph["opset"] != opset:
        problems.append(f"opset {graph['opset']}, expected {opset}")
    if graph["batch_dim"] != BATCH_DIM:
        problems.append(f"batch dimension is not the dynamic {BATCH_DIM!r}")
    return problems + io_problems(facts, "float32")


def _hidden_gemm(graph):
    """(weight DequantizeLinear, bias DequantizeLinear, input DequantizeLinear) of the first Gemm of a QDQ graph."""
    producers = {out: n for n in graph.node for out in n.output}
    gemm = next((n for n in graph.node if n.op_type == "Gemm"), None)
    if gemm is None or len(gemm.input) < 3:
        raise ArtifactError("the int8 graph has no Gemm with weights and bias")
    nodes = [producers.get(name) for name in (gemm.input[1], gemm.input[2], gemm.input[0])]
    if any(n is None or n.op_type != "DequantizeLinear" for n in nodes):
        raise ArtifactError("the first Gemm's weights, bias and input are not all dequantized in the graph")
    return nodes


def set_hidden_levels(proto, levels: np.ndarray, scales: np.ndarray, bias: np.ndarray) -> None:
    """Store the low-bit .tflite's hidden layer in the QDQ graph: the first Gemm's int8 weights become ``levels``
    (N, K, transposed to the graph's (K, N)) with per-channel ``scales``, and its int32 bias is requantized to
    round(bias / (s_in * scale)) with those scales; the same real weights as the .tflite. Read back and checked."""
    from onnx import numpy_helper

    inits = {i.name: i for i in proto.graph.initializer}
    w_node, b_node, x_node = _hidden_gemm(proto.graph)
    n, k = levels.shape
    w_q, w_s, b_q, b_s = (inits.get(name) for name in (*w_node.input[:2], *b_node.input[:2]))
    if any(t is None for t in (w_q, w_s, b_q, b_s)) or tuple(w_q.dims) != (k, n) or tuple(w_s.dims) != (n,):
        raise ArtifactError(f"the first Gemm is not a per-channel int8 [{k}, {n}] layer with an int32 bias")
    s_in = np.float32(numpy_helper.to_array(inits[x_node.input[1]]))
    bias_scale = (s_in * scales.astype(np.float32)).astype(np.float32)
    bias_q = np.clip(np.round(bias.astype(np.float64) / bias_scale.astype(np.float64)), -(2**31), 2**31 - 1)
    for tensor, value in (
        (w_q, np.ascontiguousarray(levels.T.astype(np.int8))),
        (w_s, scales.astype(np.float32)),
        (b_q, bias_q.astype(np.int32)),
        (b_s, bias_scale),
    ):
        tensor.CopyFrom(numpy_helper.from_array(value, tensor.name))
    if not np.array_equal(numpy_helper.to_array(w_q), levels.T):
        raise ArtifactError("the rewritten weights do not read back as written")  # pragma: no cover


def hidden_weights(path: str | Path) -> tuple[np.ndarray, str, int]:
    """The first Gemm's stored weights (K, N) of a QDQ .onnx as int8 (unpacked from INT4 / INT2), the stored
    type's name (``int8``, ``int4``, ``int2``) and the bytes the file holds for them."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    inits = {i.name: i for i in proto.graph.initializer}
    w_node, _, _ = _hidden_gemm(proto.graph)
    tensor = inits[w_node.input[0]]
    kind = _ONNX_DTYPES.get(tensor.data_type, str(tensor.data_type))
    if kind not in ("int8", "int4", "int2"):
        raise ArtifactError(f"the first Gemm's weights are stored as {kind}, not int8, int4 or int2")
    w = numpy_helper.to_array(tensor).astype(np.int8)
    return w, kind, len(tensor.raw_data) if tensor.raw_data else int(w.nbytes)


def pack(data: bytes, bits: int) -> bytes:
    """The low-bit int8 .onnx ``data`` (``OnnxExporter.export``) with its hidden weights and their zero points
    stored as INT4 / INT2 (``PACKED_OPSET``: two or four to a byte, the first element in the lowest bits, as ONNX
    packs them), the default-domain opset raised to the first that dequantizes that type, every other tensor
    unchanged; the weights are read back and checked."""
    import onnx
    from onnx import helper, numpy_helper

    from edgemnist.export.lowbit import PACKED_TYPES, pack_bits

    if bits not in PACKED_OPSET:
        raise ConfigError(f"packed ONNX weights take {' or '.join(map(str, PACKED_OPSET))} bits, got {bits!r}")
    kind, opset = PACKED_TYPES[bits], PACKED_OPSET[bits]
    proto = onnx.load_from_string(data)
    inits = {i.name: i for i in proto.graph.initializer}
    w_node, _, _ = _hidden_gemm(proto.graph)
    if len(w_node.input) < 3 or any(name not in inits for name in w_node.input[:3]):
        raise ArtifactError("the first Gemm's weights are not a constant with a scale and a zero point")
    levels = numpy_helper.to_array(inits[w_node.input[0]])
    zero = numpy_helper.to_array(inits[w_node.input[2]])
    top = 1 << (bits - 1)
    if levels.dtype != np.int8 or levels.min() < -top or levels.max() > top - 1:
        raise ArtifactError(f"the hidden weights ({levels.dtype}, {levels.min()}..{levels.max()}) do not fit {kind}")
    if zero.dtype != np.int8 or zero.any():
        raise ArtifactError("the hidden weights' zero points are not all 0 (symmetric int8)")
    for name in (w_node.input[0], w_node.input[2]):
        tensor = inits[name]
        value = numpy_helper.to_array(tensor)
        packed = pack_bits(value, bits).tobytes()
        tensor.CopyFrom(helper.make_tensor(name, getattr(onnx.TensorProto, kind), list(value.shape), packed, raw=True))
    for entry in proto.opset_import:
        if entry.domain in ("", "ai.onnx"):
            entry.version = opset
    proto.ir_version = max(proto.ir_version, helper.find_min_ir_version_for([helper.make_opsetid("", opset)]))
    for prop in proto.metadata_props:
        if prop.key == "opset":
            prop.value = str(opset)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ArtifactError(f"the packed graph is not valid ONNX ({str(exc).splitlines()[0]})") from None
    out = proto.SerializeToString()
    back = onnx.load_from_string(out)
    stored = {i.name: i for i in back.graph.initializer}
    if not (
        np.array_equal(numpy_helper.to_array(stored[w_node.input[0]]).astype(np.int8), levels)
        and not numpy_helper.to_array(stored[w_node.input[2]]).astype(np.int8).any()
    ):
        raise ArtifactError("the packed weights do not read back as the int8 levels")  # pragma: no cover
    return out


def weight_facts(path: str | Path, recipe) -> dict[str, Any]:
    """The manifest's ``weights`` section of a low-bit .onnx: bits and recipe of the .tflite it takes its levels
    from, and what the file stores for the hidden layer."""
    w, kind, nbytes = hidden_weights(path)
    return {
        "bits": dict(recipe.bits),
        "hidden_stored": {
            "type": kind,
            "packed": kind != "int8",
            "bytes": nbytes,
            "values": sorted(int(v) for v in np.unique(w)),
            "max_distinct_per_channel": int(max(len(np.unique(w[:, j])) for j in range(w.shape[1]))),
        },
        "recipe": recipe.to_dict(),
    }


def compare_with_tflite(path: str | Path, tflite_bytes: bytes, images: np.ndarray) -> dict[str, Any]:
    """ONNX Runtime on the .onnx against LiteRT on the low-bit int8 .tflite it takes its levels from."""
    from edgemnist.predictor import Predictor

    with tempfile.TemporaryDirectory(prefix="edgemnist-lowbit-") as tmp:
        ref = Path(tmp) / "reference.tflite"
        ref.write_bytes(tflite_bytes)
        outs = []
        for p in (path, ref):
            with Predictor.load(p, threads=1, check_hash=False, allow_unverified=True, self_test=False) as pred:
                outs.append(pred.predict_proba(images))
    a, b = outs
    return {
        "runtime": "ONNX Runtime vs LiteRT",
        "n": int(len(images)),
        "agreement": float(np.mean(a.argmax(1) == b.argmax(1))),
        "max_abs_diff": float(np.abs(a - b).max()),
    }


class OnnxExporter(Exporter):
    """Keras -> .onnx (``export_onnx``), read back with onnx (``describe``) and checked (``check``).

    ``--weight-bits 4|2``: the Keras model with the low-bit .tflite's hidden weights (``lowbit.gridded_model``),
    quantized per channel (``LOW_BIT_STATIC``), its hidden Gemm set to that file's levels and scales
    (``set_hidden_levels``); ``measure`` compares it with that .tflite. ``packed``: that int8 container
    (``requires``) with the hidden weights stored as INT4 / INT2 (``pack``), compared with it in ONNX Runtime."""

    def requires(self, config) -> Any:
        return config.unpacked if config.packed else None

    def _low_bit(self, job: ExportJob):
        c = job.config
        return job.source.low_bit(c.weight_bits, "int8", c.calibration_samples, c.seed)

    def export(self, job: ExportJob) -> None:
        if job.config.packed:
            path = Path(job.files.path)
            path.write_bytes(pack(Path(job.input.path).read_bytes(), job.config.weight_bits))
            return
        source = {"file": job.source.path.name, "sha256": job.source.sha256}
        if not job.config.low_bit:
            export_onnx(job.model, job.files.path, job.config, job.calibration, source=source)
            return
        import onnx

        from edgemnist.export import lowbit

        data, _ = self._low_bit(job)
        path = export_onnx(
            lowbit.gridded_model(job.model, data),
            job.files.path,
            job.config,
            job.calibration,
            source=source,
            recipe=LOW_BIT_STATIC,
        )
        proto = onnx.load(str(path))
        levels, _, _ = lowbit.stored_filter(data)
        scales, _ = lowbit.hidden_filter_scales(data)
        bias = np.asarray(job.model.get_layer(lowbit.HIDDEN_LAYER).get_weights()[1], np.float32)
        set_hidden_levels(proto, levels, scales, bias)
        onnx.checker.check_model(proto)
        path.write_bytes(proto.SerializeToString())

    def describe(self, job: ExportJob) -> dict[str, Any]:
        facts = describe(job.files.path)
        if job.config.low_bit:
            facts["weights"] = weight_facts(job.files.path, self._low_bit(job)[1])
        return facts

    def check(self, job: ExportJob, facts: dict[str, Any]) -> list[str]:
        c = job.config
        problems = check(facts, c.mode, c.io, packed_bits=c.weight_bits if c.packed else None)
        if c.mode == "int8" and facts.get("calibration") is None:
            problems.append("int8 model states no calibration recipe in its metadata")
        if c.low_bit:
            from edgemnist.export import lowbit

            problems += lowbit.weight_problems(facts["weights"], c.weight_bits, packed=c.packed)
        return problems

    def measure(self, job: ExportJob) -> tuple[dict[str, Any], list[str]]:
        if not job.config.low_bit:
            return {}, []
        if job.config.packed:
            from edgemnist.export import packed

            return packed.measure(job, "ONNX Runtime")
        data, _ = self._low_bit(job)
        result = compare_with_tflite(job.files.path, data, job.source.data.test_images)
        return {"low_bit_tflite": result}, []

    def summary(self, result) -> str | None:
        from edgemnist.export import packed

        return packed.summary(result)


EXPORTER = OnnxExporter()
