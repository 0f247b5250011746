"""What an artifact of this network may contain: the one record the structural checkers read.

A hostile file does not have to be malformed to hurt: a well-formed TFLite model whose activation tensor
points at constant data segfaults LiteRT, an ONNX ``Loop`` with a trip count of 2^62 never returns, a
``Tile`` of the input by 65,536 takes gigabytes. Rather than chase samples, the checkers
(``edgemnist.flatbuffer.check_tflite``, ``edgemnist.onnxcheck.check_onnx``, ``edgemnist.tflm.reader``) refuse
everything this toolkit's exports never produce: operators outside the small sets below, more than one
subgraph or any control flow, and tensors larger than the largest MLP ``edgemnist train`` builds
(``MAX_HIDDEN_LAYERS`` hidden layers of at most ``MAX_WIDTH`` units, ``MAX_PARAMETERS`` in all) needs.

Every set is what the exports of every mode really contain (``tests/fuzz/test_hostile.py`` checks each mode's
real artifact against it, so a converter upgrade that adds an operator fails a test, not a user).
"""

from __future__ import annotations

from edgemnist import spec

#: The shapes ``edgemnist.model`` trains: 784 -> up to 8 hidden Dense+ReLU layers of 1 to 1024 units -> Dense
#: softmax over 2 to 256 classes, with at most 960,000 weights and biases in all (so an int8 model fits
#: MICRO_MAX_MODEL_BYTES and a float32 one MAX_MODEL_BYTES). The essay's 784 -> 512 -> 10 has 407,050.
MAX_HIDDEN_LAYERS = 8
MAX_WIDTH = 1024
MAX_PARAMETERS = 960_000

#: No tensor dimension of these networks exceeds 1024; a little headroom, no more.
MAX_DIM = 4096
#: The largest tensor is a 784 x 1024 or 1024 x 1024 weight matrix (at most 1,048,576 elements).
MAX_TENSOR_ELEMENTS = 1 << 20
#: Tensors are vectors and matrices; rank 4 leaves room for a converter that adds unit dimensions.
MAX_RANK = 4
#: The largest artifact: float32 weights (~1.6 MB) plus metadata; 4x headroom. TFLite and ONNX files of
#: this network are refused above it before any parser allocates anything.
MAX_MODEL_BYTES = 8 << 20

# --------------------------------------------------------------------------- TFLite (and TFLite Micro)

#: BuiltinOperator codes (tensorflow/lite/schema/schema.fbs) the .tflite exports use, by mode:
#: int8 / dynamic / float32: FULLY_CONNECTED + SOFTMAX; float16 adds DEQUANTIZE (fp16 -> fp32 weights);
#: int8 with float I/O adds QUANTIZE and DEQUANTIZE at the edges. Each with its operands: (name, inputs that
#: must be present, inputs that may be absent (-1), outputs). A FULLY_CONNECTED without weights segfaults
#: LiteRT (found by tests/fuzz), so only its bias may be absent.
TFLITE_OPS = {
    6: ("DEQUANTIZE", 1, 0, 1),
    9: ("FULLY_CONNECTED", 2, 1, 1),
    25: ("SOFTMAX", 1, 0, 1),
    114: ("QUANTIZE", 1, 0, 1),
}
#: TensorType codes the exports use: FLOAT32, FLOAT16, INT32 (int8 biases), UINT8, INT8, and the packed
#: sub-byte INT4 and INT2 (hidden weights of ``--weight-bits 4|2 --packed``), each with its bits per element.
TFLITE_TENSOR_TYPES = {
    0: ("FLOAT32", 32),
    1: ("FLOAT16", 16),
    2: ("INT32", 32),
    3: ("UINT8", 8),
    9: ("INT8", 8),
    17: ("INT4", 4),
    19: ("INT2", 2),
}
#: The packed types: only ever the weights of an int8 FULLY_CONNECTED.
TFLITE_PACKED_TYPES = (17, 19)
#: The model has one subgraph; control flow (WHILE, IF, CALL_ONCE) needs more.
TFLITE_MAX_SUBGRAPHS = 1
#: Tensors, operators and buffers of the largest export (float16: 5 tensors and 2 operators per dense layer, plus
#: the softmax; the essay's two layers: 12 tensors, 5 operators), with headroom for MAX_HIDDEN_LAYERS + 1 layers.
TFLITE_MAX_TENSORS = 64
TFLITE_MAX_OPERATORS = 32

# --------------------------------------------------------------------------- ONNX

#: Node op_types (default ONNX domain) the .onnx exports use, by mode: float32 (tf2onnx): MatMul, Add,
#: Relu, Softmax; int8 (static QDQ): QuantizeLinear, DequantizeLinear, Gemm, Softmax; dynamic:
#: DynamicQuantizeLinear, MatMulInteger, Cast, Mul, Add, Relu, Softmax. No control flow (Loop, If, Scan),
#: no shape-growing operators (Tile, Expand, Resize, ConstantOfShape, Range...).
ONNX_OPS = frozenset(
    {
        "Add",
        "Cast",
        "DequantizeLinear",
        "DynamicQuantizeLinear",
        "Gemm",
        "MatMul",
        "MatMulInteger",
        "Mul",
        "QuantizeLinear",
        "Relu",
        "Softmax",
    }
)
#: Node domains: the default ONNX domain only ("" and its alias "ai.onnx"); no contrib or custom operators.
ONNX_DOMAINS = frozenset({"", "ai.onnx"})
#: TensorProto.DataType codes the exports use, with their bits per element: FLOAT, UINT8, INT8, INT32, and the
#: packed hidden weights INT4 and INT2 (``--weight-bits 4|2 --packed``, in raw_data only).
ONNX_TENSOR_TYPES = {
    1: ("FLOAT", 32),
    2: ("UINT8", 8),
    3: ("INT8", 8),
    6: ("INT32", 32),
    22: ("INT4", 4),
    26: ("INT2", 2),
}
#: Nodes and initializers of the largest export (int8 QDQ: ~7 nodes and ~9 initializers per dense layer; the
#: essay's two layers: 15 nodes, 20 initializers), with headroom for MAX_HIDDEN_LAYERS + 1 layers.
ONNX_MAX_NODES = 128
ONNX_MAX_INITIALIZERS = 128
#: Attributes the exports' nodes carry, and the integer range each may hold.
ONNX_INT_ATTRIBUTES = {"axis": (-2, 1), "transA": (0, 1), "transB": (0, 1), "to": (1, 16)}
ONNX_FLOAT_ATTRIBUTES = frozenset({"alpha", "beta"})

# --------------------------------------------------------------------------- TFLite Micro C array

#: The largest int8 flatbuffer: MAX_PARAMETERS int8 weights, int32 biases and the flatbuffer's own tables (the
#: essay's network is 423,192 bytes).
MICRO_MAX_MODEL_BYTES = 1 << 20
#: ``model_data.cc`` spends 6 characters per byte ("0x1c, ") plus 3 per line of 12 and a ~1 KB preamble;
#: a file larger than this cannot hold a model of at most MICRO_MAX_MODEL_BYTES.
MICRO_MAX_SOURCE_BYTES = MICRO_MAX_MODEL_BYTES * 6 + (MICRO_MAX_MODEL_BYTES // 12) * 3 + (64 << 10)
#: A generated line is ~76 characters; a longer one is not ours.
MICRO_MAX_LINE = 4096


def dims_problem(dims: list[int] | tuple[int, ...], *, dynamic_ok: bool) -> str | None:
    """Why ``dims`` cannot be a tensor of this network (None when it can): rank, each dimension, and the
    element count are bounded; -1 (or 0 for ONNX's symbolic dimensions) only where ``dynamic_ok``."""
    if len(dims) > MAX_RANK:
        return f"rank {len(dims)} (at most {MAX_RANK})"
    elements = 1
    for d in dims:
        if d == -1 and dynamic_ok:
            continue
        if not 1 <= d <= MAX_DIM:
            return f"dimension {d} (expected 1 to {MAX_DIM})"
        elements *= d
    if elements > MAX_TENSOR_ELEMENTS:
        return f"{elements} elements (at most {MAX_TENSOR_ELEMENTS})"
    return None


def shape_problem(hidden: tuple[int, ...], num_classes: int) -> str | None:
    """Why 784 -> ``hidden`` -> ``num_classes`` is not a network this toolkit builds (None when it is)."""
    if not 1 <= len(hidden) <= MAX_HIDDEN_LAYERS:
        return f"{len(hidden)} hidden layers; expected 1 to {MAX_HIDDEN_LAYERS}"
    for width in hidden:
        if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= MAX_WIDTH:
            return f"width {width!r}; expected an integer from 1 to {MAX_WIDTH}"
    if not spec.MIN_CLASSES <= num_classes <= spec.MAX_CLASSES:
        return f"{num_classes} classes; expected {spec.MIN_CLASSES} to {spec.MAX_CLASSES}"
    widths = (spec.INPUT_SIZE, *hidden, num_classes)
    n = parameters(widths)
    if n > MAX_PARAMETERS:
        return f"{' -> '.join(map(str, widths))} has {n:,} weights and biases; at most {MAX_PARAMETERS:,}"
    return None


def parameters(widths: tuple[int, ...]) -> int:
    """Weights and biases of the Dense stack ``widths`` (input, hidden..., classes)."""
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))


assert spec.INPUT_SIZE * MAX_WIDTH <= MAX_TENSOR_ELEMENTS and MAX_WIDTH <= MAX_DIM
assert MAX_PARAMETERS + 4 * (MAX_HIDDEN_LAYERS * MAX_WIDTH + spec.MAX_CLASSES) + (32 << 10) <= MICRO_MAX_MODEL_BYTES
