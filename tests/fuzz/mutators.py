"""Fresh mutants of real artifacts: structure-aware edits of TFLite flatbuffer fields, ONNX graphs and the
micro C text, and byte-level damage (bit flips, overwrites, truncations, insertions, deletions).

``Mutator(sources, rng)`` yields ``Mutant(kind, description, files)``: ``files`` maps a file name to its
bytes (the artifact first; a micro mutant also carries its header). Every mutant is derived from the
source bytes and the generator's state alone, so (seed, index) reproduces it.
"""

from __future__ import annotations

import copy
import random
import re
from dataclasses import dataclass
from pathlib import Path

INTERESTING_INTS = [
    0,
    1,
    -1,
    2,
    3,
    7,
    10,
    127,
    128,
    255,
    256,
    511,
    512,
    784,
    785,
    4096,
    65535,
    65536,
    1 << 20,
    1 << 24,
    (1 << 31) - 1,
    -(1 << 31),
    1 << 32,
    (1 << 40),
    (1 << 62),
    -7,
]
INTERESTING_BYTES = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE]


@dataclass
class Mutant:
    kind: str  # "tflite-int8:struct:tensor.shape", ...
    description: str
    files: dict[str, bytes]


# --------------------------------------------------------------------------- bytes


def byte_mutation(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    b = bytearray(data)
    n = len(b)
    op = rng.choice(["flip", "flip", "overwrite", "truncate", "insert", "delete", "header-flip"])
    if op in ("flip", "header-flip"):
        hi = min(n, 512) if op == "header-flip" else n
        positions = [rng.randrange(hi) for _ in range(rng.randint(1, 8))]
        for p in positions:
            b[p] ^= 1 << rng.randrange(8)
        return f"{op} bits at {positions[:4]}", bytes(b)
    if op == "overwrite":
        p, k = rng.randrange(n), rng.randint(1, 16)
        value = rng.choice(INTERESTING_BYTES + [None])
        b[p : p + k] = bytes(rng.randrange(256) if value is None else value for _ in range(min(k, n - p)))
        return f"overwrite {k} bytes at {p}", bytes(b)
    if op == "truncate":
        k = rng.choice([rng.randrange(n), rng.randrange(min(n, 256)), n - rng.randint(1, 64)])
        return f"truncate to {k}", bytes(b[: max(k, 0)])
    if op == "insert":
        p, k = rng.randrange(n), rng.choice([1, 4, 8, 64, 1024])
        return f"insert {k} bytes at {p}", bytes(b[:p] + bytes(rng.randrange(256) for _ in range(k)) + b[p:])
    p, k = rng.randrange(n), rng.choice([1, 4, 16, 256])
    return f"delete {k} bytes at {p}", bytes(b[:p] + b[p + k :])


# --------------------------------------------------------------------------- TFLite structure


def _tflite(data: bytes):
    from ai_edge_litert import schema_py_generated as schema

    return schema, schema.ModelT.InitFromPackedBuf(bytearray(data), 0)


def _pack(model) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def tflite_mutation(model0, rng: random.Random) -> tuple[str, bytes]:
    """One structure-aware edit of a parsed ModelT (a deep copy is edited), packed back."""
    model = copy.deepcopy(model0)
    sub = model.subgraphs[0]
    tensors, ops = sub.tensors, sub.operators
    t = rng.randrange(len(tensors))
    tensor = tensors[t]
    field = rng.choice(
        [
            "shape",
            "shape_signature",
            "type",
            "buffer",
            "buffer-data",
            "quantization",
            "op-inputs",
            "op-outputs",
            "opcode-index",
            "builtin-code",
            "options",
            "graph-io",
            "drop-op",
            "duplicate-op",
            "extra-subgraph",
            "version",
            "variable",
            "intermediates",
        ]
    )
    what = field
    if field == "shape":
        shape = list(tensor.shape) if tensor.shape is not None else []
        if shape and rng.random() < 0.7:
            shape[rng.randrange(len(shape))] = rng.choice(INTERESTING_INTS)
        else:
            shape = shape + [rng.choice(INTERESTING_INTS)] if rng.random() < 0.5 else shape[:-1]
        tensor.shape = [max(min(d, (1 << 31) - 1), -(1 << 31)) for d in shape]
        what = f"tensor {t} shape {tensor.shape}"
    elif field == "shape_signature":
        tensor.shapeSignature = [rng.choice([-1, 0, 1, 784, 65536, -5]) for _ in range(rng.randint(0, 4))]
        what = f"tensor {t} shape_signature {tensor.shapeSignature}"
    elif field == "type":
        tensor.type = rng.choice([0, 1, 2, 3, 4, 7, 9, 10, 15, 16, 17, 20, 22, 30, 127])
        what = f"tensor {t} type {tensor.type}"
    elif field == "buffer":
        tensor.buffer = rng.choice([0, rng.randrange(len(model.buffers)), len(model.buffers), (1 << 32) - 1])
        what = f"tensor {t} buffer {tensor.buffer}"
    elif field == "buffer-data":
        buf = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else model.buffers[0]
        choice = rng.choice(["offset", "inline", "empty", "short"])
        if choice == "offset":
            buf.offset, buf.size, buf.data = rng.choice([16, 4096, 1 << 20]), rng.choice([1, 4096, 1 << 30]), None
        elif choice == "inline":
            buf.data = list(rng.randbytes(rng.choice([1, 40, 2048, 4096])))
        elif choice == "empty":
            buf.data = None
        elif buf.data is not None and len(buf.data):
            buf.data = buf.data[: len(buf.data) // 2]
        what = f"tensor {t} buffer {choice}"
    elif field == "quantization":
        q = tensor.quantization
        if q is not None and q.scale is not None and len(q.scale):
            q.scale = [rng.choice([0.0, -1.0, float("nan"), float("inf"), 1e-38, 1e38])] * len(q.scale)
        if q is not None and q.zeroPoint is not None and len(q.zeroPoint):
            q.zeroPoint = [rng.choice([-129, 128, 1 << 40, -1])] * len(q.zeroPoint)
        what = f"tensor {t} quantization"
    elif field in ("op-inputs", "op-outputs"):
        op = ops[rng.randrange(len(ops))]
        lst = list(op.inputs if field == "op-inputs" else op.outputs)
        if lst:
            lst[rng.randrange(len(lst))] = rng.choice([-1, -2, 0, t, len(tensors), len(tensors) + 100])
        if field == "op-inputs":
            op.inputs = lst
        else:
            op.outputs = lst
        what = f"{field} {lst}"
    elif field == "opcode-index":
        op = ops[rng.randrange(len(ops))]
        op.opcodeIndex = rng.choice([0, 1, len(model.operatorCodes), 1 << 20])
        what = f"opcode_index {op.opcodeIndex}"
    elif field == "builtin-code":
        code = model.operatorCodes[rng.randrange(len(model.operatorCodes))]
        code.builtinCode = rng.choice([3, 4, 6, 9, 14, 22, 25, 32, 114, 118, 119, 127, 150, 200])
        code.deprecatedBuiltinCode = min(code.builtinCode, 127)
        what = f"builtin code {code.builtinCode}"
    elif field == "options":
        op = ops[rng.randrange(len(ops))]
        opts = op.builtinOptions
        if opts is not None:
            for attr in ("fusedActivationFunction", "keepNumDims", "beta", "weightsFormat", "asymmetricQuantizeInputs"):
                if hasattr(opts, attr):
                    setattr(opts, attr, rng.choice([0, 1, 5, 127]) if attr != "beta" else rng.choice([0.0, -1.0, 1e30]))
        what = "builtin options"
    elif field == "graph-io":
        target = sub.inputs if rng.random() < 0.5 else sub.outputs
        if len(target):
            target[0] = rng.choice([0, t, len(tensors), -1])
        what = f"graph io -> {t}"
    elif field == "drop-op" and len(ops) > 1:
        del ops[rng.randrange(len(ops))]
        what = "drop an operator"
    elif field == "duplicate-op":
        ops.insert(rng.randrange(len(ops) + 1), copy.deepcopy(ops[rng.randrange(len(ops))]))
        what = "duplicate an operator"
    elif field == "extra-subgraph":
        model.subgraphs.append(copy.deepcopy(sub))
        what = "a second subgraph"
    elif field == "version":
        model.version = rng.choice([0, 2, 4, 1 << 31])
        what = f"schema version {model.version}"
    elif field == "variable":
        tensor.isVariable = True
        what = f"tensor {t} variable"
    elif field == "intermediates":
        ops[rng.randrange(len(ops))].intermediates = [t]
        what = "operator intermediates"
    return what, _pack(model)


# --------------------------------------------------------------------------- ONNX structure


def onnx_mutation(model0, rng: random.Random) -> tuple[str, bytes]:
    import onnx
    from onnx import TensorProto, helper

    model = onnx.ModelProto()
    model.CopyFrom(model0)
    g = model.graph
    field = rng.choice(
        [
            "op_type",
            "attribute",
            "add-attribute",
            "init-dims",
            "init-data",
            "init-type",
            "input-dims",
            "rename-input",
            "drop-node",
            "duplicate-node",
            "loop",
            "tile",
            "domain",
            "opset",
            "external",
            "subgraph-attr",
            "value-info",
            "many-nodes",
        ]
    )
    what = field
    node = g.node[rng.randrange(len(g.node))]
    if field == "op_type":
        node.op_type = rng.choice(
            [
                "Tile",
                "Expand",
                "Reshape",
                "Identity",
                "Loop",
                "If",
                "Scan",
                "ConstantOfShape",
                "Gemm",
                "MatMul",
                "Softmax",
                "Resize",
                "Range",
                "NonZero",
                "Pad",
                "Relu",
                "",
            ]
        )
        what = f"op_type {node.op_type}"
    elif field == "attribute" and len(node.attribute):
        a = node.attribute[rng.randrange(len(node.attribute))]
        if a.type == onnx.AttributeProto.INT:
            a.i = rng.choice(INTERESTING_INTS)
        elif a.type == onnx.AttributeProto.FLOAT:
            a.f = rng.choice([0.0, -1.0, float("nan"), float("inf"), 1e30])
        what = f"attribute {a.name}"
    elif field == "add-attribute":
        node.attribute.append(
            helper.make_attribute(
                rng.choice(["axis", "repeats", "perm", "to", "epsilon"]), rng.choice([1, 5, -9, [1, 2], 0.5])
            )
        )
        what = "attribute added"
    elif field.startswith("init") and len(g.initializer):
        t = g.initializer[rng.randrange(len(g.initializer))]
        if field == "init-dims":
            dims = list(t.dims)
            if dims and rng.random() < 0.7:
                dims[rng.randrange(len(dims))] = rng.choice(INTERESTING_INTS)
            else:
                dims.append(rng.choice([1, 2, 65536]))
            del t.dims[:]
            t.dims.extend(dims)
            what = f"initializer dims {dims}"
        elif field == "init-data":
            if t.raw_data:
                t.raw_data = t.raw_data[: rng.randrange(len(t.raw_data) + 1)] + (b"\x00" * rng.choice([0, 4, 100]))
            what = "initializer data length"
        else:
            t.data_type = rng.choice([0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 16, 17, 99])
            what = f"initializer type {t.data_type}"
    elif field == "input-dims":
        dims = g.input[0].type.tensor_type.shape.dim
        if len(dims):
            dims[rng.randrange(len(dims))].dim_value = rng.choice([0, 1, 785, 65536, 1 << 40])
        what = "graph input dims"
    elif field == "rename-input" and len(node.input):
        node.input[rng.randrange(len(node.input))] = rng.choice(["nope", "", g.input[0].name, g.output[0].name])
        what = "node input renamed"
    elif field == "drop-node" and len(g.node) > 1:
        del g.node[rng.randrange(len(g.node))]
        what = "node dropped"
    elif field == "duplicate-node":
        g.node.append(copy.deepcopy(node))
        what = "node duplicated"
    elif field == "loop":
        body = helper.make_graph(
            [helper.make_node("Identity", ["c"], ["c2"])],
            "b",
            [
                helper.make_tensor_value_info("i", TensorProto.INT64, []),
                helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            ],
            [helper.make_tensor_value_info("c2", TensorProto.BOOL, [])],
        )
        g.initializer.append(helper.make_tensor("trip", TensorProto.INT64, [], [rng.choice([1 << 40, 1 << 62])]))
        g.node.append(helper.make_node("Loop", ["trip", ""], [], body=body))
        what = "a Loop"
    elif field == "tile":
        g.initializer.append(helper.make_tensor("reps", TensorProto.INT64, [2], [rng.choice([256, 65536]), 1]))
        g.node.append(helper.make_node("Tile", [g.input[0].name, "reps"], ["tiled"]))
        what = "a Tile"
    elif field == "domain":
        node.domain = rng.choice(["com.microsoft", "ai.onnx.ml", "custom", "ai.onnx"])
        what = f"domain {node.domain}"
    elif field == "opset":
        model.opset_import[0].version = rng.choice([1, 7, 13, 17, 99, 1 << 40])
        what = f"opset {model.opset_import[0].version}"
    elif field == "external" and len(g.initializer):
        t = g.initializer[rng.randrange(len(g.initializer))]
        t.data_location = TensorProto.EXTERNAL
        entry = t.external_data.add()
        entry.key, entry.value = "location", rng.choice(["/etc/passwd", "../../x", "/dev/zero"])
        what = "external data"
    elif field == "subgraph-attr":
        node.attribute.append(helper.make_attribute("body", helper.make_graph([], "g", [], [])))
        what = "a graph attribute"
    elif field == "value-info":
        g.value_info.append(helper.make_tensor_value_info("v", TensorProto.FLOAT, [1 << 40, 784]))
        what = "a huge value_info"
    elif field == "many-nodes":
        for _ in range(rng.choice([10, 100])):
            g.node.append(helper.make_node("Relu", [g.output[0].name], [g.output[0].name]))
        what = "many nodes"
    return what, model.SerializeToString()


# --------------------------------------------------------------------------- micro C text


def micro_text_mutation(cc: str, header: str, rng: random.Random) -> tuple[str, str, str]:
    """(what, new .cc, new .h): edits of the C spelling, the constants and the lines."""
    lines = cc.split("\n")
    hlines = header.split("\n")
    choice = rng.choice(
        [
            "token",
            "token",
            "drop-line",
            "dup-line",
            "length",
            "junk",
            "cc-trunc",
            "h-constant",
            "h-comment",
            "h-drop",
            "static-assert",
            "crlf",
            "unicode",
        ]
    )
    if choice == "token":
        i = rng.randrange(9, len(lines) - 3)
        repl = rng.choice(["0x1C", "0xzz", "0x123", "1c", "0x1", "-0x01", "0x00,0x00", "0x0g", "'\\x00'", ""])
        lines[i] = re.sub(r"0x[0-9a-f]{2}", lambda m: repl, lines[i], count=1)
        what = f"a byte spelled {repl!r}"
    elif choice == "drop-line":
        i = rng.randrange(len(lines))
        del lines[i]
        what = f"line {i} removed"
    elif choice == "dup-line":
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        what = f"line {i} duplicated"
    elif choice == "length":
        value = rng.choice(["-1", "", "0x67518", "423192u", "0", "1e6", "423191", "423193", "99999999999"])
        cc2 = re.sub(r"(g_edgemnist_model_data_len = )\d+;", lambda m: m.group(1) + value + ";", cc)
        return f"length {value!r}", cc2, header
    elif choice == "junk":
        lines.insert(rng.randrange(len(lines)), rng.choice(["int x = 1;", "#define X", "/* */", "}", "{", "x" * 5000]))
        what = "a junk line"
    elif choice == "cc-trunc":
        cut = rng.randrange(len(cc))
        return f"truncated at {cut}", cc[:cut], header
    elif choice == "h-constant":
        i = rng.choice([k for k, line in enumerate(hlines) if line.startswith("constexpr")])
        value = rng.choice(
            [
                "0",
                "-1",
                "9920",
                "16",
                "0x10",
                "1e9",
                "0.1f",
                "nan",
                "inf",
                "-128",
                "128",
                "00016",
                "0.00392156886",
                "3.92156886e-03f",
                "99999999999",
                "0xdeadbeefULL",
            ]
        )
        hlines[i] = re.sub(r"= [^;]*;", lambda m: f"= {value};", hlines[i])
        what = f"header constant {hlines[i][:60]!r}"
    elif choice == "h-comment":
        i = rng.choice(
            [k for k, line in enumerate(hlines) if line.startswith("// arena") or line.startswith("// model")]
        )
        hlines[i] = re.sub(r"\d+", lambda m: str(int(m.group()) - rng.choice([8, 16, 1])), hlines[i], count=2)
        what = "header comment numbers"
    elif choice == "h-drop":
        del hlines[rng.randrange(len(hlines))]
        what = "a header line removed"
    elif choice == "static-assert":
        cc2 = re.sub(r"0x[0-9a-f]{16}ULL", rng.choice(["0x0000000000000000ULL", "0xBFA4ULL", "1ULL"]), cc, count=1)
        return "static_assert id", cc2, header
    elif choice == "crlf":
        return "CRLF line ends", cc.replace("\n", "\r\n"), header
    else:
        i = rng.randrange(len(lines))
        lines[i] = lines[i] + rng.choice(["\u00e9", "\u202e", "\x00", "\x1b[2J"])
        what = "a non-ASCII character"
    return what, "\n".join(lines), "\n".join(hlines)


# --------------------------------------------------------------------------- the generator


class Mutator:
    """Mutants of every source, round-robin over (source, kind)."""

    def __init__(self, sources: dict[str, Path], rng: random.Random) -> None:
        import onnx

        self.rng = rng
        self.raw = {name: path.read_bytes() for name, path in sources.items()}
        self.tflite = {n: _tflite(d)[1] for n, d in self.raw.items() if n.startswith("tflite")}
        self.onnx = {n: onnx.load_from_string(d) for n, d in self.raw.items() if n.startswith("onnx")}
        micro = sources.get("micro")
        if micro is not None:
            from edgemnist.tflm.reader import read_array

            self.micro_header = micro.with_suffix(".h").read_text()
            self.micro_bytes = read_array(micro)
            self.micro_model = _tflite(self.micro_bytes)[1]
            self.raw["micro"] = micro.read_bytes()
        self.kinds = []
        for name in self.raw:
            if name == "micro":
                self.kinds += [("micro", "text"), ("micro", "struct"), ("micro", "bytes"), ("micro", "ccbytes")]
            else:
                self.kinds += [(name, "struct"), (name, "struct"), (name, "bytes")]

    def __call__(self, index: int) -> Mutant:
        for _ in range(20):  # an edit the schema's packer cannot encode (a bool of 127...): draw another
            try:
                return self._one(index)
            except (TypeError, ValueError, OverflowError, __import__("struct").error):
                continue
        raise RuntimeError(f"no packable mutant for index {index}")

    def _one(self, index: int) -> Mutant:
        name, how = self.kinds[index % len(self.kinds)]
        rng = self.rng
        if name == "micro":
            from edgemnist.tflm.layout import HEADER_NAME
            from edgemnist.tflm.writer import render_source

            cc = self.raw["micro"].decode()
            if how == "text":
                what, cc2, h2 = micro_text_mutation(cc, self.micro_header, rng)
                return Mutant(
                    "micro:text",
                    what,
                    {"model_data.cc": cc2.encode("utf-8", "surrogatepass"), HEADER_NAME: h2.encode()},
                )
            if how == "ccbytes":
                what, data = byte_mutation(self.raw["micro"], rng)
                return Mutant("micro:ccbytes", what, {"model_data.cc": data, HEADER_NAME: self.micro_header.encode()})
            if how == "struct":
                what, model = tflite_mutation(self.micro_model, rng)
            else:
                what, model = byte_mutation(self.micro_bytes, rng)
            # A re-rendered array with the original header: the header no longer matches (arena measured),
            # or, one time in three, a header re-stamped for the mutant (sha and id), so its arena is believed.
            cc2 = render_source(model, source_sha256=None)
            header = self.micro_header
            if rng.random() < 0.33:
                import hashlib

                from edgemnist.tflm.layout import model_id

                header = re.sub(r"sha256 [0-9a-f]{64}", "sha256 " + hashlib.sha256(model).hexdigest(), header)
                header = re.sub(r"0x[0-9a-f]{16}ULL", model_id(model), header)
                what += " (header re-stamped)"
            return Mutant(f"micro:{how}", what, {"model_data.cc": cc2.encode(), HEADER_NAME: header.encode()})
        suffix = ".tflite" if name.startswith("tflite") else ".onnx"
        file = f"model{suffix}"
        if how == "bytes":
            what, data = byte_mutation(self.raw[name], rng)
        elif suffix == ".tflite":
            what, data = tflite_mutation(self.tflite[name], rng)
        else:
            what, data = onnx_mutation(self.onnx[name], rng)
        return Mutant(f"{name}:{how}", what, {file: data})
