"""Cheap structural checks of model bytes before a native runtime sees them.

``check_tflite(data, origin)`` walks the TFLite flatbuffer's skeleton in pure Python (no schema package,
no runtime): the ``TFL3`` identifier, the root table and its vtable, and the tables and vectors of the
model (operator codes, subgraphs, tensors, operators, buffers) must lie inside the file, and every index
they hold (opcode, tensor, buffer) must point at something that exists. It is not a full flatbuffer
verifier (LiteRT runs one of its own); it exists because TFLite Micro runs none and can crash the process
on a malformed model, and because a wrong file under the right name deserves a message that says what it is
(``sniff``).

Beyond the skeleton it refuses what this network's exports never contain (``edgemnist.allowlist``): an
operator outside the allow-list, more than one subgraph, tensor types, ranks, dimensions and sizes beyond a
784 -> ... -> K MLP, a constant whose data does not match its shape, and -- the class that segfaults
LiteRT -- buffer data on any tensor that is not a constant input (an operator's output, a graph input or
output: the runtime writes into those, and writing into the model's own read-only bytes crashes it).
An operator may only read a constant, a graph input or an earlier operator's output.

Offsets follow the flatbuffers wire format: little-endian ``uoffset`` (uint32, forward), ``soffset``
(int32, table -> vtable, backward), vtables of uint16 (vtable size, table size, then one field offset each).
"""

from __future__ import annotations

import struct

from edgemnist import allowlist, spec
from edgemnist.errors import ArtifactError

TFLITE_IDENTIFIER = b"TFL3"
TFLITE_SCHEMA_VERSION = 3
#: TensorType values: the schema defines 0 (FLOAT32) to 22; a little headroom for newer schemas, no more.
MAX_TENSOR_TYPE = 31
#: A sanity bound on how many elements the walk visits (this model has ~10 tensors and 3 operators).
MAX_ITEMS = 100_000

# Field numbers (vtable slots) of the TFLite schema tables the walk reads.
_MODEL_VERSION, _MODEL_OPCODES, _MODEL_SUBGRAPHS, _MODEL_BUFFERS = 0, 1, 2, 4
_SUBGRAPH_TENSORS, _SUBGRAPH_INPUTS, _SUBGRAPH_OUTPUTS, _SUBGRAPH_OPERATORS = 0, 1, 2, 3
_TENSOR_SHAPE, _TENSOR_TYPE, _TENSOR_BUFFER, _TENSOR_SHAPE_SIGNATURE = 0, 1, 2, 7
_OP_OPCODE, _OP_INPUTS, _OP_OUTPUTS, _OP_INTERMEDIATES = 0, 1, 2, 8
_OPCODE_DEPRECATED_BUILTIN, _OPCODE_CUSTOM, _OPCODE_BUILTIN = 0, 1, 3
_BUFFER_DATA, _BUFFER_OFFSET, _BUFFER_SIZE = 0, 1, 2

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a zip archive (a .keras model?)"),
    (b"\x1f\x8b", "gzip data"),
    (b"\x89HDF", "an HDF5 file"),
    (b"\x00\x00\x08\x03", "an MNIST IDX image file"),
    (b"\x00\x00\x08\x01", "an MNIST IDX label file"),
)


def sniff(data: bytes) -> str | None:
    """A guess at what ``data`` is, for error messages ("a PNG image"), or None."""
    for magic, what in _SIGNATURES:
        if data.startswith(magic):
            return what
    if data[4:8] == TFLITE_IDENTIFIER:
        return "a TFLite flatbuffer"
    if data[:1] == b"\x08" and b"onnx" in data[:64].lower() or data[:2] == b"\x08\x07" or data[:2] == b"\x08\x08":
        return "an ONNX model (protobuf)"
    head = data[:256].lstrip()
    if head[:1] in (b"{", b"["):
        return "JSON text"
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "text"
    return None


def _what(data: bytes) -> str:
    guess = sniff(data)
    return f"; it looks like {guess}" if guess else ""


class _Reader:
    """Bounds-checked reads of little-endian scalars, tables and vectors from one buffer."""

    def __init__(self, data: bytes, origin: str) -> None:
        self.data, self.n, self.origin = data, len(data), origin

    def fail(self, what: str) -> ArtifactError:
        return ArtifactError(
            f"{self.origin}: not a loadable TFLite model: the flatbuffer is malformed ({what}); "
            f"the file is corrupt or truncated"
        )

    def scalar(self, fmt: str, pos: int, what: str) -> int:
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > self.n:
            raise self.fail(f"{what} at byte {pos} lies outside the {self.n}-byte file")
        return struct.unpack_from(fmt, self.data, pos)[0]

    def table(self, pos: int, what: str) -> tuple[int, tuple[int, ...]]:
        """(table position, field offsets) of the table at ``pos``."""
        if pos % 4:
            raise self.fail(f"{what} table at byte {pos} is misaligned")
        vtable = pos - self.scalar("<i", pos, what)
        vt_size = self.scalar("<H", vtable, f"{what} vtable")
        table_size = self.scalar("<H", vtable + 2, f"{what} vtable")
        if vt_size < 4 or vt_size % 2 or vtable + vt_size > self.n or table_size < 4 or pos + table_size > self.n:
            raise self.fail(f"{what} vtable at byte {vtable} is malformed")
        fields = tuple(struct.unpack_from(f"<{(vt_size - 4) // 2}H", self.data, vtable + 4))
        if any(f >= table_size for f in fields):
            raise self.fail(f"{what} has a field outside its {table_size}-byte table")
        return pos, fields

    def field(
        self, table: tuple[int, tuple[int, ...]], index: int, fmt: str, default: int | None = None, what: str = "field"
    ) -> int | None:
        pos, fields = table
        if index >= len(fields) or fields[index] == 0:
            return default
        return self.scalar(fmt, pos + fields[index], what)

    def ref(self, table: tuple[int, tuple[int, ...]], index: int, what: str) -> int | None:
        """The absolute position an offset field points at, or None when the field is absent."""
        pos, fields = table
        if index >= len(fields) or fields[index] == 0:
            return None
        at = pos + fields[index]
        target = at + self.scalar("<I", at, what)
        if target >= self.n:
            raise self.fail(f"{what} points past the end of the file")
        return target

    def vector(self, table, index: int, elem: int, what: str, *, required: bool = False) -> tuple[int, int]:
        """(position of the first element, length) of a vector field; (0, 0) when absent and optional."""
        start = self.ref(table, index, what)
        if start is None:
            if required:
                raise self.fail(f"{what} is missing")
            return 0, 0
        if start % 4:
            raise self.fail(f"{what} is misaligned")
        length = self.scalar("<I", start, what)
        if length > MAX_ITEMS and elem == 4 or start + 4 + length * elem > self.n:
            raise self.fail(f"{what} ({length} elements) runs past the end of the file")
        return start + 4, length

    def tables(self, table, index: int, what: str, *, required: bool = False):
        first, length = self.vector(table, index, 4, what, required=required)
        for i in range(length):
            at = first + 4 * i
            yield self.table(at + self.scalar("<I", at, what), f"{what}[{i}]")

    def ints(self, table, index: int, what: str) -> list[int]:
        first, length = self.vector(table, index, 4, what)
        return list(struct.unpack_from(f"<{length}i", self.data, first)) if length else []


def check_tflite(data: bytes, origin: str) -> None:
    """Raise ArtifactError unless ``data`` has the skeleton of a TFLite model of this network (module doc)."""
    n = len(data)
    if n < 16:
        raise ArtifactError(f"{origin}: not a loadable TFLite model: {n} bytes is too short{_what(data)}")
    if data[4:8] != TFLITE_IDENTIFIER:
        raise ArtifactError(
            f"{origin}: not a loadable TFLite model: no 'TFL3' flatbuffer identifier at byte 4{_what(data)}"
        )
    if n > allowlist.MAX_MODEL_BYTES:
        raise ArtifactError(
            f"{origin}: {n} bytes, larger than any TFLite model of this network "
            f"({allowlist.MAX_MODEL_BYTES} bytes at most)"
        )
    r = _Reader(data, origin)
    try:
        _check_model(r, n)
    except struct.error as exc:  # pragma: no cover - every read is bounds-checked first
        raise r.fail(str(exc)) from None


def _refuse(origin: str, what: str) -> ArtifactError:
    return ArtifactError(f"{origin}: not a TFLite model of this network: {what}")


def _check_model(r: _Reader, n: int) -> None:
    origin = r.origin
    model = r.table(r.scalar("<I", 0, "root offset"), "model")
    version = r.field(model, _MODEL_VERSION, "<I", 0, "model.version")
    if version != TFLITE_SCHEMA_VERSION:
        raise r.fail(f"schema version {version}, expected {TFLITE_SCHEMA_VERSION}")
    opcodes = []
    for code in r.tables(model, _MODEL_OPCODES, "operator_codes", required=True):
        deprecated = r.field(code, _OPCODE_DEPRECATED_BUILTIN, "<b", 0, "operator_code.deprecated_builtin_code")
        builtin = r.field(code, _OPCODE_BUILTIN, "<i", 0, "operator_code.builtin_code")
        op = max(deprecated, builtin)  # the schema's rule: the larger of the two fields is the operator
        if op not in allowlist.TFLITE_OPS or r.ref(code, _OPCODE_CUSTOM, "operator_code.custom_code") is not None:
            raise _refuse(
                origin,
                f"operator code {op} is not one this toolkit's exports use "
                f"(allowed: {', '.join(sorted(v[0] for v in allowlist.TFLITE_OPS.values()))})",
            )
        opcodes.append(op)
    buffer_bytes = []  # bytes of constant data each buffer holds (0: none)
    for buf in r.tables(model, _MODEL_BUFFERS, "buffers", required=True):
        _, inline = r.vector(buf, _BUFFER_DATA, 1, "buffer.data")
        offset = r.field(buf, _BUFFER_OFFSET, "<Q", 0, "buffer.offset")
        size = r.field(buf, _BUFFER_SIZE, "<Q", 0, "buffer.size")
        if offset > 1 and offset + size > n:  # data stored after the flatbuffer (models over 2 GB)
            raise r.fail(f"buffer data at bytes {offset}..{offset + size} lies outside the file")
        if inline and (offset > 1 or size):
            raise r.fail("a buffer holds both inline data and an offset")
        buffer_bytes.append(inline or (size if offset > 1 else 0))
        if len(buffer_bytes) > allowlist.TFLITE_MAX_TENSORS + 1:
            raise _refuse(origin, f"more than {allowlist.TFLITE_MAX_TENSORS + 1} buffers")
    subgraphs = list(r.tables(model, _MODEL_SUBGRAPHS, "subgraphs", required=True))
    if not subgraphs:
        raise r.fail("no subgraph")
    if len(subgraphs) > allowlist.TFLITE_MAX_SUBGRAPHS:
        raise _refuse(origin, f"{len(subgraphs)} subgraphs (control flow); this network has one")
    sub = subgraphs[0]
    constant = []  # per tensor: does it hold data (a weight or bias)?
    shapes, kinds = [], []
    for i, tensor in enumerate(r.tables(sub, _SUBGRAPH_TENSORS, "tensors", required=True)):
        if i >= allowlist.TFLITE_MAX_TENSORS:
            raise _refuse(origin, f"more than {allowlist.TFLITE_MAX_TENSORS} tensors")
        shape = r.ints(tensor, _TENSOR_SHAPE, "tensor.shape")
        kind = r.field(tensor, _TENSOR_TYPE, "<b", 0, "tensor.type")
        if not 0 <= kind <= MAX_TENSOR_TYPE:
            raise r.fail(f"tensor type {kind} is unknown")
        if kind not in allowlist.TFLITE_TENSOR_TYPES:
            raise _refuse(
                origin,
                f"tensor {i} has type {kind}; expected one of "
                f"{', '.join(t for t, _ in allowlist.TFLITE_TENSOR_TYPES.values())}",
            )
        why = allowlist.dims_problem(shape, dynamic_ok=False) or allowlist.dims_problem(
            r.ints(tensor, _TENSOR_SHAPE_SIGNATURE, "tensor.shape_signature"), dynamic_ok=True
        )
        if why:
            raise _refuse(origin, f"tensor {i} has {why}")
        index = r.field(tensor, _TENSOR_BUFFER, "<I", 0, "tensor.buffer")
        if not 0 <= index < max(len(buffer_bytes), 1):
            raise r.fail("a tensor refers to a buffer that does not exist")
        held = buffer_bytes[index] if buffer_bytes else 0
        if held:
            elements = 1
            for d in shape:
                elements *= d
            expected = -(-elements * allowlist.TFLITE_TENSOR_TYPES[kind][1] // 8)  # packed types: bytes rounded up
            if held != expected:
                raise _refuse(origin, f"constant tensor {i} holds {held} bytes but its shape {shape} needs {expected}")
        constant.append(bool(held))
        shapes.append(tuple(shape))
        kinds.append(kind)
    tensors = len(constant)
    written = set()  # tensors the runtime writes into: graph inputs and every operator's outputs
    for key, what in ((_SUBGRAPH_INPUTS, "subgraph inputs"), (_SUBGRAPH_OUTPUTS, "subgraph outputs")):
        ids = r.ints(sub, key, what)
        if any(not 0 <= i < tensors for i in ids):
            raise r.fail(f"{what} refer to a tensor that does not exist")
        if any(constant[i] for i in ids):
            raise _refuse(origin, f"{what} refer to a tensor with constant data")
        if key == _SUBGRAPH_INPUTS:
            ok, want = len(ids) == 1 and shapes[ids[0]] == (1, spec.INPUT_SIZE), f"[1, {spec.INPUT_SIZE}] tensor"
        else:  # one probability per class: as many classes as an IDX label byte can name
            ok = len(ids) == 1 and len(shapes[ids[0]]) == 2 and shapes[ids[0]][0] == 1
            ok = ok and spec.MIN_CLASSES <= shapes[ids[0]][1] <= spec.MAX_CLASSES
            want = f"[1, K] tensor (K from {spec.MIN_CLASSES} to {spec.MAX_CLASSES})"
        if not ok:
            raise _refuse(origin, f"{what} are {[list(shapes[i]) for i in ids]}; expected one {want}")
        if key == _SUBGRAPH_INPUTS:
            written.update(ids)
        else:
            outputs = ids
    operators = 0
    for op in r.tables(sub, _SUBGRAPH_OPERATORS, "operators"):
        operators += 1
        if operators > allowlist.TFLITE_MAX_OPERATORS:
            raise _refuse(origin, f"more than {allowlist.TFLITE_MAX_OPERATORS} operators")
        code_index = r.field(op, _OP_OPCODE, "<I", 0, "operator.opcode_index")
        if not 0 <= code_index < max(len(opcodes), 1):
            raise r.fail("an operator refers to an operator code that does not exist")
        ins, outs = r.ints(op, _OP_INPUTS, "operator tensors"), r.ints(op, _OP_OUTPUTS, "operator tensors")
        if any(not -1 <= i < tensors for i in ins + outs):
            raise r.fail("an operator refers to a tensor that does not exist")
        name, required, optional, n_out = allowlist.TFLITE_OPS[opcodes[code_index]]
        if not (
            required <= len(ins) <= required + optional and all(i >= 0 for i in ins[:required]) and len(outs) == n_out
        ):
            raise _refuse(
                origin,
                f"operator {operators - 1} ({name}) has inputs {ins} and outputs {outs}; "
                f"expected {required} present input(s), {optional} optional, {n_out} output(s)",
            )
        if r.ints(op, _OP_INTERMEDIATES, "operator intermediates"):
            raise _refuse(origin, "an operator has intermediate tensors")
        if any(i >= 0 and not constant[i] and i not in written for i in ins):
            raise _refuse(
                origin,
                "an operator reads a tensor that is neither a constant, a graph input nor "
                "the output of an earlier operator",
            )
        why = _operands_problem(
            name,
            [shapes[i] if i >= 0 else None for i in ins],
            [shapes[i] for i in outs],
            [kinds[i] if i >= 0 else None for i in ins],
            [kinds[i] for i in outs],
        )
        if why:
            raise _refuse(origin, f"operator {operators - 1} ({name}): {why}")
        for i in outs:
            if i < 0 or constant[i]:
                raise _refuse(
                    origin,
                    f"operator {operators - 1} writes into tensor {i}, which holds constant "
                    f"data (an activation or output tensor must have an empty buffer)",
                )
            written.add(i)
    if any(i not in written for i in outputs):
        raise _refuse(origin, "a graph output is not written by any operator")


_FLOAT32, _FLOAT16, _INT32, _INT8 = 0, 1, 2, 9


def _operands_problem(op: str, ins: list, outs: list, in_kinds: list, out_kinds: list) -> str | None:
    """Why an operator's tensor shapes and types cannot be this network's (None when they can): a
    FULLY_CONNECTED maps [1, K] with weights [N, K] (and bias [N]) to [1, N]; the others keep their shape.
    A kernel trusts these: an activation reshaped to [1, 512, 511] made TFLM write 511 rows into a 10-wide
    output (a SIGSEGV found by tests/fuzz)."""
    if op == "FULLY_CONNECTED":
        x, w, out = ins[0], ins[1], outs[0]
        if len(x) != 2 or x[0] != 1 or len(w) != 2 or w[1] != x[1] or out != (1, w[0]):
            return f"shapes input {list(x)}, weights {list(w)}, output {list(out)}; expected [1, K], [N, K], [1, N]"
        if len(ins) > 2 and ins[2] is not None and ins[2] != (w[0],):
            return f"bias shape {list(ins[2])}; expected [{w[0]}]"
        x_kind, w_kind, out_kind = in_kinds[0], in_kinds[1], out_kinds[0]
        bias_kind = in_kinds[2] if len(in_kinds) > 2 else None
        if x_kind == _INT8:
            ok = (
                (w_kind == _INT8 or w_kind in allowlist.TFLITE_PACKED_TYPES)
                and out_kind == _INT8
                and bias_kind in (None, _INT32)
            )
        else:
            ok = (
                x_kind == _FLOAT32
                and w_kind in (_FLOAT32, _INT8)
                and out_kind == _FLOAT32
                and bias_kind in (None, _FLOAT32)
            )
        return None if ok else f"tensor types {in_kinds} -> {out_kinds} are not an int8 or a float32 layer"
    if ins[0] != outs[0]:
        return f"input shape {list(ins[0])} but output shape {list(outs[0])}; expected the same"
    expected = {
        "SOFTMAX": ((_FLOAT32, _FLOAT32), (_INT8, _INT8)),
        "QUANTIZE": ((_FLOAT32, _INT8),),
        "DEQUANTIZE": ((_INT8, _FLOAT32), (_FLOAT16, _FLOAT32)),
    }[op]
    if (in_kinds[0], out_kinds[0]) not in expected:
        return f"tensor types {in_kinds[0]} -> {out_kinds[0]}; expected one of {list(expected)}"
    return None
