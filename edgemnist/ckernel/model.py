"""The int8 MLP read straight from its ``.tflite`` flatbuffer: no TensorFlow, no LiteRT.

``read_model(path)`` accepts exactly the graph edgemnist exports in int8 mode::

    int8 input (1, 784) --FULLY_CONNECTED (per-channel int8 weights, int32 bias, RELU or NONE)-->
    int8 (1, H) --FULLY_CONNECTED (NONE)--> int8 (1, 10) --SOFTMAX--> int8 (1, 10), scale 1/256, zero point -128

and refuses anything else (float32 or dynamic-range models, other ops, other shapes) with an ArtifactError that
says what was expected. Everything the C needs (weights, biases, scales, zero points, softmax beta) comes from the
file; multipliers are derived from it by :mod:`edgemnist.ckernel.quant` exactly as TFLM does at ``Prepare``.

The walk reuses the bounds-checked reader of :mod:`edgemnist.flatbuffer` (after its ``check_tflite``) and reads the
extra fields it needs by their TFLite schema slots (``schema.fbs``: Tensor.quantization = 4,
QuantizationParameters.scale = 2 / zero_point = 3 / quantized_dimension = 6, Operator.builtin_options = 4,
OperatorCode.builtin_code = 3, FullyConnectedOptions.fused_activation_function = 0, SoftmaxOptions.beta = 0).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgemnist.errors import ArtifactError
from edgemnist.flatbuffer import _Reader, check_tflite, sniff

# TensorType values (schema.fbs).
FLOAT32, INT32, UINT8, INT8 = 0, 2, 3, 9
TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 7: "int16", 9: "int8", 10: "float64"}
# BuiltinOperator values.
FULLY_CONNECTED, SOFTMAX = 9, 25
OP_NAMES = {9: "FULLY_CONNECTED", 25: "SOFTMAX", 6: "DEQUANTIZE", 114: "QUANTIZE", 22: "RESHAPE", 3: "CONV_2D"}
# ActivationFunctionType values.
ACT_NONE, ACT_RELU = 0, 1
ACT_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}

# Schema field slots read here beyond edgemnist.flatbuffer's.
_T_SHAPE, _T_TYPE, _T_BUFFER, _T_NAME, _T_QUANT = 0, 1, 2, 3, 4
_Q_SCALE, _Q_ZERO, _Q_DIM = 2, 3, 6
_OP_OPCODE, _OP_INPUTS, _OP_OUTPUTS, _OP_OPTIONS = 0, 1, 2, 4
_OC_DEPRECATED, _OC_BUILTIN = 0, 3
_SG_TENSORS, _SG_INPUTS, _SG_OUTPUTS, _SG_OPERATORS = 0, 1, 2, 3
_M_OPCODES, _M_SUBGRAPHS, _M_BUFFERS = 1, 2, 4
_B_DATA = 0

INPUT_SIZE, OUTPUT_SIZE = 784, 10
EXPECTED = ("a full-integer int8 .tflite of the edgemnist MLP (int8 input (1, 784), FULLY_CONNECTED with per-channel "
            "int8 weights and RELU, FULLY_CONNECTED, SOFTMAX to int8 (1, 10)), as edgemnist's tflite exporter writes in "
            "int8 mode")


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: int
    scales: tuple[float, ...]      # float32 values widened to Python floats (exact)
    zero_points: tuple[int, ...]
    quantized_dimension: int
    data: bytes                    # the constant buffer, b"" for activations

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.dtype, f"type {self.dtype}")


@dataclass(frozen=True)
class Dense:
    """One FULLY_CONNECTED layer: y = clamp(requant(W @ (x - x_zp) + b) + y_zp)."""

    weights: np.ndarray            # int8 (out, in), row-major as in the file
    bias: np.ndarray               # int32 (out,)
    weight_scales: tuple[float, ...]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    relu: bool


@dataclass(frozen=True)
class Model:
    fc1: Dense
    fc2: Dense
    softmax_beta: float
    softmax_input_scale: float
    output_scale: float
    output_zero_point: int
    source_name: str
    source_sha256: str
    source_bytes: int

    @property
    def hidden(self) -> int:
        return int(self.fc1.weights.shape[0])

    @property
    def macs(self) -> int:
        return int(self.fc1.weights.size + self.fc2.weights.size)


def _fail(origin: str, why: str) -> ArtifactError:
    return ArtifactError(f"{origin}: cannot generate C from it: {why}; expected {EXPECTED}")


def _floats(r: _Reader, table, slot: int, what: str) -> tuple[float, ...]:
    first, n = r.vector(table, slot, 4, what)
    return tuple(struct.unpack_from(f"<{n}f", r.data, first)) if n else ()


def _longs(r: _Reader, table, slot: int, what: str) -> tuple[int, ...]:
    first, n = r.vector(table, slot, 8, what)
    return tuple(struct.unpack_from(f"<{n}q", r.data, first)) if n else ()


def _string(r: _Reader, table, slot: int) -> str:
    first, n = r.vector(table, slot, 1, "string")
    return r.data[first:first + n].decode("utf-8", "replace") if n else ""


def _parse(data: bytes, origin: str):
    """(tensors, operators [(opcode, inputs, outputs, options table or None)], graph inputs, graph outputs)."""
    r = _Reader(data, origin)
    model = r.table(r.scalar("<I", 0, "root offset"), "model")
    opcodes = []
    for oc in r.tables(model, _M_OPCODES, "operator_codes", required=True):
        dep = r.field(oc, _OC_DEPRECATED, "<b", 0, "deprecated_builtin_code")
        new = r.field(oc, _OC_BUILTIN, "<i", 0, "builtin_code")
        opcodes.append(max(dep, new))
    buffers = []
    for buf in r.tables(model, _M_BUFFERS, "buffers", required=True):
        first, n = r.vector(buf, _B_DATA, 1, "buffer.data")
        buffers.append(data[first:first + n] if n else b"")
    subgraphs = list(r.tables(model, _M_SUBGRAPHS, "subgraphs", required=True))
    if len(subgraphs) != 1:
        raise _fail(origin, f"it has {len(subgraphs)} subgraphs, not 1")
    sub = subgraphs[0]
    tensors = []
    for t in r.tables(sub, _SG_TENSORS, "tensors", required=True):
        q = r.ref(t, _T_QUANT, "tensor.quantization")
        scales, zeros, qdim = (), (), 0
        if q is not None:
            qt = r.table(q, "quantization")
            scales = _floats(r, qt, _Q_SCALE, "quantization.scale")
            zeros = _longs(r, qt, _Q_ZERO, "quantization.zero_point")
            qdim = r.field(qt, _Q_DIM, "<i", 0, "quantization.quantized_dimension")
        buffer = r.field(t, _T_BUFFER, "<I", 0, "tensor.buffer")
        tensors.append(Tensor(name=_string(r, t, _T_NAME), shape=tuple(r.ints(t, _T_SHAPE, "tensor.shape")),
                              dtype=r.field(t, _T_TYPE, "<b", 0, "tensor.type"), scales=scales, zero_points=zeros,
                              quantized_dimension=qdim, data=buffers[buffer] if buffer < len(buffers) else b""))
    ops = []
    for op in r.tables(sub, _SG_OPERATORS, "operators"):
        code = opcodes[r.field(op, _OP_OPCODE, "<I", 0, "operator.opcode_index")]
        options = r.ref(op, _OP_OPTIONS, "operator.builtin_options")
        ops.append((code, r.ints(op, _OP_INPUTS, "operator inputs"), r.ints(op, _OP_OUTPUTS, "operator outputs"),
                    r.table(options, "builtin_options") if options is not None else None))
    return r, tensors, ops, r.ints(sub, _SG_INPUTS, "subgraph inputs"), r.ints(sub, _SG_OUTPUTS, "subgraph outputs")


def _activation(origin: str, t: Tensor, what: str, size: int | None = None) -> None:
    if t.dtype != INT8:
        raise _fail(origin, f"the {what} is {t.type_name}, not int8")
    if len(t.scales) != 1 or len(t.zero_points) != 1 or not t.scales[0] > 0:
        raise _fail(origin, f"the {what} has no single positive scale and zero point")
    if size is not None and (len(t.shape) != 2 or t.shape[-1] != size):
        raise _fail(origin, f"the {what} has shape {list(t.shape)}, not (1, {size})")


def _dense(origin: str, r: _Reader, tensors, op, n_in: int | None, what: str) -> Dense:
    code, inputs, outputs, options = op
    if code != FULLY_CONNECTED or len(inputs) != 3 or len(outputs) != 1 or min(inputs) < 0:
        raise _fail(origin, f"{what} is {OP_NAMES.get(code, f'op {code}')} with {len(inputs)} inputs, not a "
                            f"FULLY_CONNECTED with weights and bias")
    x, w, b, y = tensors[inputs[0]], tensors[inputs[1]], tensors[inputs[2]], tensors[outputs[0]]
    _activation(origin, x, f"input of {what}", n_in)
    _activation(origin, y, f"output of {what}")
    if w.dtype != INT8 or len(w.shape) != 2 or not w.data:
        raise _fail(origin, f"the weights of {what} are not constant int8 (out, in) "
                            f"(got {w.type_name} {list(w.shape)})")
    out, n = w.shape
    if x.shape[-1] != n or y.shape[-1] != out:
        raise _fail(origin, f"{what}: shapes do not chain ({list(x.shape)} x {list(w.shape)} -> {list(y.shape)})")
    if len(w.data) != out * n:
        raise _fail(origin, f"the weights of {what} hold {len(w.data)} bytes, not {out * n}")
    if len(w.scales) != out or w.quantized_dimension != 0 or any(z != 0 for z in w.zero_points) \
            or not all(s > 0 for s in w.scales):
        raise _fail(origin, f"the weights of {what} are not per-channel int8 ({out} positive scales on dimension 0, "
                            f"zero point 0)")
    if b.dtype != INT32 or b.shape != (out,) or len(b.data) != 4 * out:
        raise _fail(origin, f"the bias of {what} is not constant int32 ({out},) (got {b.type_name} {list(b.shape)})")
    act = r.field(options, 0, "<b", 0, "fused_activation_function") if options is not None else ACT_NONE
    if act not in (ACT_NONE, ACT_RELU):
        raise _fail(origin, f"{what} fuses {ACT_NAMES.get(act, act)}; only RELU or none are supported")
    return Dense(weights=np.frombuffer(w.data, np.int8).reshape(out, n).copy(),
                 bias=np.frombuffer(b.data, "<i4").astype(np.int32),
                 weight_scales=w.scales, input_scale=x.scales[0], input_zero_point=int(x.zero_points[0]),
                 output_scale=y.scales[0], output_zero_point=int(y.zero_points[0]), relu=act == ACT_RELU)


def parse_model(data: bytes, origin: str, name: str | None = None) -> Model:
    """The Model in ``data`` (the bytes of a .tflite); ArtifactError saying what was expected otherwise."""
    check_tflite(data, origin)
    try:
        r, tensors, ops, graph_in, graph_out = _parse(data, origin)
    except (struct.error, IndexError) as exc:
        raise _fail(origin, f"the flatbuffer is malformed ({exc})") from None
    codes = [OP_NAMES.get(op[0], f"op {op[0]}") for op in ops]
    if [op[0] for op in ops] != [FULLY_CONNECTED, FULLY_CONNECTED, SOFTMAX]:
        raise _fail(origin, f"its operators are {codes or 'none'}")
    if len(graph_in) != 1 or len(graph_out) != 1:
        raise _fail(origin, f"it has {len(graph_in)} inputs and {len(graph_out)} outputs, not 1 and 1")
    first = tensors[graph_in[0]]
    if first.dtype == FLOAT32:
        raise _fail(origin, "its input is float32 (a float or dynamic-range model, or int8 with float I/O)")
    fc1 = _dense(origin, r, tensors, ops[0], INPUT_SIZE, "the first layer")
    fc2 = _dense(origin, r, tensors, ops[1], fc1.weights.shape[0], "the second layer")
    if ops[0][1][0] != graph_in[0] or ops[1][1][0] != ops[0][2][0] or ops[2][1] != [ops[1][2][0]] \
            or ops[2][2] != [graph_out[0]]:
        raise _fail(origin, "its operators are not chained input -> FC -> FC -> SOFTMAX -> output")
    if not fc1.relu or fc2.relu:
        raise _fail(origin, "the first layer must fuse RELU and the second none")
    if fc2.weights.shape[0] != OUTPUT_SIZE:
        raise _fail(origin, f"the second layer has {fc2.weights.shape[0]} outputs, not {OUTPUT_SIZE}")
    out = tensors[graph_out[0]]
    _activation(origin, out, "softmax output", OUTPUT_SIZE)
    if out.scales[0] != 1.0 / 256 or out.zero_points[0] != -128:
        raise _fail(origin, f"the softmax output has scale {out.scales[0]} and zero point {out.zero_points[0]}, "
                            f"not 1/256 and -128 (what TFLM's int8 softmax requires)")
    options = ops[2][3]
    beta = r.field(options, 0, "<f", 1.0, "softmax beta") if options is not None else 1.0
    # Python floats of float32 fields: struct '<f' widens exactly, as TFLM's static_cast<double> does.
    return Model(fc1=fc1, fc2=fc2, softmax_beta=beta, softmax_input_scale=fc2.output_scale,
                 output_scale=out.scales[0], output_zero_point=int(out.zero_points[0]),
                 source_name=name or origin, source_sha256=hashlib.sha256(data).hexdigest(), source_bytes=len(data))


def read_model(path: str | Path) -> Model:
    """The Model in the .tflite at ``path`` (see the module doc); ArtifactError if it is anything else."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read it ({exc.strerror or exc}); expected {EXPECTED}") from None
    if data[4:8] != b"TFL3":
        guess = sniff(data)
        raise _fail(str(path), "it is not a TFLite flatbuffer" + (f" (it looks like {guess})" if guess else ""))
    return parse_model(data, str(path), path.name)
