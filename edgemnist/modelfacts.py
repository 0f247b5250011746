"""The model's facts as its ``.tflite`` states them: the one reader (pure Python, no TensorFlow, no runtime).

``read_facts(path)`` / ``parse_facts(data, origin)`` -> ``ModelFacts``: every tensor (name, shape, dtype, scales,
zero points, constant data), every operator (builtin code, operands, fused activation, softmax beta), the graph's
input and output, and what follows from them: the input and output tensors, the shapes of the FULLY_CONNECTED
layers (any number of them: ``widths``, ``hidden``, ``num_classes``) and the multiply-accumulates per
inference. Library code asks this module for a fact about the model (sizes, quantization, layer shapes, class
count, MACs) instead of typing it in; the C generator (``edgemnist.ckernel.model``)
builds its stricter int8 view on top of it.

The walk uses the bounds-checked reader of :mod:`edgemnist.flatbuffer` after its ``check_tflite`` (the skeleton,
the allow-list), and reads fields by their TFLite schema slots (``schema.fbs``: Tensor.quantization = 4,
QuantizationParameters.scale = 2 / zero_point = 3 / quantized_dimension = 6, Operator.builtin_options = 4,
OperatorCode.builtin_code = 3, FullyConnectedOptions.fused_activation_function = 0, SoftmaxOptions.beta = 0).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

from edgemnist.errors import ArtifactError
from edgemnist.flatbuffer import _Reader, check_tflite

# TensorType values (schema.fbs).
FLOAT32, FLOAT16, INT32, UINT8, INT8 = 0, 1, 2, 3, 9
TYPE_NAMES = {
    0: "float32",
    1: "float16",
    2: "int32",
    3: "uint8",
    4: "int64",
    7: "int16",
    9: "int8",
    10: "float64",
    17: "int4",
    19: "int2",
}
# BuiltinOperator values.
DEQUANTIZE, FULLY_CONNECTED, SOFTMAX = 6, 9, 25
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


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: int
    scales: tuple[float, ...]  # float32 values widened to Python floats (exact)
    zero_points: tuple[int, ...]
    quantized_dimension: int
    data: bytes  # the constant buffer, b"" for activations

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.dtype, f"type {self.dtype}")

    @property
    def size(self) -> int:
        """Elements per image: the product of the dimensions after the batch."""
        n = 1
        for d in self.shape[1:]:
            n *= d
        return n


@dataclass(frozen=True)
class Operator:
    code: int  # BuiltinOperator
    inputs: tuple[int, ...]  # tensor indices (-1: an absent optional operand)
    outputs: tuple[int, ...]
    activation: int  # FULLY_CONNECTED's fused activation (ACT_NONE for other operators)
    beta: float  # SOFTMAX's beta (1.0 for other operators)

    @property
    def name(self) -> str:
        return OP_NAMES.get(self.code, f"op {self.code}")


@dataclass(frozen=True)
class ModelFacts:
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    graph_inputs: tuple[int, ...]
    graph_outputs: tuple[int, ...]
    origin: str
    sha256: str
    bytes: int

    @property
    def input(self) -> Tensor:
        """The graph's one input tensor (ArtifactError if it has more or none)."""
        return self.tensors[self._one(self.graph_inputs, "inputs")]

    @property
    def output(self) -> Tensor:
        """The graph's one output tensor (ArtifactError if it has more or none)."""
        return self.tensors[self._one(self.graph_outputs, "outputs")]

    @property
    def input_size(self) -> int:
        return self.input.size

    @property
    def output_size(self) -> int:
        return self.output.size

    @property
    def dense_shapes(self) -> tuple[tuple[int, int], ...]:
        """(inputs, outputs) of each FULLY_CONNECTED layer in graph order, from its weight tensor's shape (out, in)
        (a float16 weight behind its DEQUANTIZE included)."""
        producers = {o: op for op in self.operators for o in op.outputs}
        shapes = []
        for op in self.operators:
            if op.code != FULLY_CONNECTED or len(op.inputs) < 2:
                continue
            w = op.inputs[1]
            source = producers.get(w)
            if source is not None and source.code == DEQUANTIZE and source.inputs:
                w = source.inputs[0]
            shape = self.tensors[w].shape
            if len(shape) != 2:
                raise ArtifactError(f"{self.origin}: a FULLY_CONNECTED weight has shape {list(shape)}, not (out, in)")
            shapes.append((int(shape[1]), int(shape[0])))
        return tuple(shapes)

    @property
    def widths(self) -> tuple[int, ...]:
        """(inputs, hidden widths..., classes) of the Dense stack, from its weight shapes (``dense_shapes``)."""
        shapes = self.dense_shapes
        return (shapes[0][0], *(o for _, o in shapes)) if shapes else (self.input_size,)

    @property
    def hidden(self) -> tuple[int, ...]:
        """The hidden widths: every dense layer's output but the last's."""
        return self.widths[1:-1]

    @property
    def num_classes(self) -> int:
        """The output's width: one probability per class."""
        return self.output_size

    @property
    def macs(self) -> int:
        """Multiply-accumulates per image: the sum over the dense layers of inputs x outputs."""
        return sum(i * o for i, o in self.dense_shapes)

    def _one(self, indices: tuple[int, ...], what: str) -> int:
        if len(indices) != 1:
            raise ArtifactError(f"{self.origin}: the graph has {len(indices)} {what}; expected 1")
        return indices[0]


def _floats(r: _Reader, table, slot: int, what: str) -> tuple[float, ...]:
    first, n = r.vector(table, slot, 4, what)
    return tuple(struct.unpack_from(f"<{n}f", r.data, first)) if n else ()


def _longs(r: _Reader, table, slot: int, what: str) -> tuple[int, ...]:
    first, n = r.vector(table, slot, 8, what)
    return tuple(struct.unpack_from(f"<{n}q", r.data, first)) if n else ()


def _string(r: _Reader, table, slot: int) -> str:
    first, n = r.vector(table, slot, 1, "string")
    return r.data[first : first + n].decode("utf-8", "replace") if n else ""


def _walk(data: bytes, origin: str) -> ModelFacts:
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
        buffers.append(data[first : first + n] if n else b"")
    subgraphs = list(r.tables(model, _M_SUBGRAPHS, "subgraphs", required=True))
    if len(subgraphs) != 1:
        raise ArtifactError(f"{origin}: it has {len(subgraphs)} subgraphs, not 1")
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
        tensors.append(
            Tensor(
                name=_string(r, t, _T_NAME),
                shape=tuple(r.ints(t, _T_SHAPE, "tensor.shape")),
                dtype=r.field(t, _T_TYPE, "<b", 0, "tensor.type"),
                scales=scales,
                zero_points=zeros,
                quantized_dimension=qdim,
                data=buffers[buffer] if buffer < len(buffers) else b"",
            )
        )
    ops = []
    for op in r.tables(sub, _SG_OPERATORS, "operators"):
        code = opcodes[r.field(op, _OP_OPCODE, "<I", 0, "operator.opcode_index")]
        ref = r.ref(op, _OP_OPTIONS, "operator.builtin_options")
        options = r.table(ref, "builtin_options") if ref is not None else None
        activation, beta = ACT_NONE, 1.0
        if options is not None and code == FULLY_CONNECTED:
            activation = r.field(options, 0, "<b", ACT_NONE, "fused_activation_function")
        elif options is not None and code == SOFTMAX:
            # a float32 field widened exactly (struct '<f'), as TFLM's static_cast<double> does
            beta = r.field(options, 0, "<f", 1.0, "softmax beta")
        ops.append(
            Operator(
                code,
                tuple(r.ints(op, _OP_INPUTS, "operator inputs")),
                tuple(r.ints(op, _OP_OUTPUTS, "operator outputs")),
                activation,
                beta,
            )
        )
    return ModelFacts(
        tuple(tensors),
        tuple(ops),
        tuple(r.ints(sub, _SG_INPUTS, "subgraph inputs")),
        tuple(r.ints(sub, _SG_OUTPUTS, "subgraph outputs")),
        origin,
        hashlib.sha256(data).hexdigest(),
        len(data),
    )


def parse_facts(data: bytes, origin: str) -> ModelFacts:
    """The facts of the .tflite in ``data``; ArtifactError (saying what is wrong) for anything that is not a
    well-formed TFLite flatbuffer within the allow-list."""
    check_tflite(data, origin)
    try:
        return _walk(data, origin)
    except (struct.error, IndexError) as exc:
        raise ArtifactError(f"{origin}: the TFLite flatbuffer is malformed ({exc})") from None


def read_facts(path: str | Path) -> ModelFacts:
    """The facts of the .tflite at ``path`` (see the module doc)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read it ({exc.strerror or exc}); expected a .tflite model") from None
    return parse_facts(data, str(path))
