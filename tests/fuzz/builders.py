"""Builders of the known hostile files, each from a copy of a real artifact.

Every builder takes the source artifact (never modified) and a folder, writes the hostile file (and its
manifest or header when the finding needs one) there, and returns the path to hand ``Predictor.load`` or the
CLI. TFLite files are edited through LiteRT's own generated schema (``ai_edge_litert.schema_py_generated``),
ONNX ones with the ``onnx`` package: tests only, the library reads both formats with its own checkers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

# --------------------------------------------------------------------------- 1. activation tensors with data


def _tflite_model(src: Path):
    from ai_edge_litert import schema_py_generated as schema

    return schema, schema.ModelT.InitFromPackedBuf(bytearray(src.read_bytes()), 0)


def _pack(model) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def tflite_written_tensor_with_data(
    src: Path, folder: Path, *, which: str = "activation", where: str = "offset"
) -> Path:
    """A tensor the runtime writes (the hidden activation, or the graph output) given a buffer with data:
    ``where="offset"`` (offset=4096, size=4096, data inside the file) or ``"inline"`` (its own bytes)."""
    schema, model = _tflite_model(src)
    sub = model.subgraphs[0]
    produced = [o for op in sub.operators for o in op.outputs]
    index = produced[0] if which == "activation" else int(sub.outputs[0])
    buf = model.buffers[sub.tensors[index].buffer]
    if where == "offset":
        buf.offset, buf.size, buf.data = 4096, 4096, None
    else:
        buf.data = list(os.urandom(2048))
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / src.name
    out.write_bytes(_pack(model))
    return out


def tflite_unlisted_operator(src: Path, folder: Path, code: int = 32) -> Path:
    """An operator code outside the allow-list (32: CUSTOM; 119: WHILE...)."""
    schema, model = _tflite_model(src)
    model.operatorCodes[0].builtinCode = code
    model.operatorCodes[0].deprecatedBuiltinCode = min(code, 127)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / src.name
    out.write_bytes(_pack(model))
    return out


def tflite_operator_without_weights(src: Path, folder: Path) -> Path:
    """A FULLY_CONNECTED whose weights input is -1 (absent): found by the fuzz campaign (seed 12, mutant 1596),
    a SIGSEGV in LiteRT that the first allow-list (operator codes only) let through."""
    schema, model = _tflite_model(src)
    op = model.subgraphs[0].operators[0]
    op.inputs = [op.inputs[0], -1, *op.inputs[2:]]
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / src.name
    out.write_bytes(_pack(model))
    return out


def tflite_reshaped_activation(src: Path, folder: Path, shape=(1, 512, 511)) -> Path:
    """The hidden activation given the shape [1, 512, 511]: found by the fuzz campaign (seed 12, mutant 1631,
    micro): TFLM's next FULLY_CONNECTED then writes 511 rows into a 10-wide output, a SIGSEGV that depends on
    the arena's layout (a child-process run can pass and the real run crash)."""
    schema, model = _tflite_model(src)
    sub = model.subgraphs[0]
    sub.tensors[sub.operators[0].outputs[0]].shape = list(shape)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / src.name
    out.write_bytes(_pack(model))
    return out


def as_micro_pair(model_bytes: bytes, src_cc: Path, folder: Path) -> Path:
    """``model_bytes`` rendered as a model_data.cc, beside a copy of the real header (not trusted for it)."""
    from edgemnist.tflm.writer import render_source

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_data.cc").write_text(render_source(model_bytes, source_sha256=None))
    shutil.copyfile(src_cc.with_suffix(".h"), folder / "model_data.h")
    return folder / "model_data.cc"


# --------------------------------------------------------------------------- 2-3. ONNX hang and memory


def _save_onnx(model, src: Path, folder: Path) -> Path:
    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    out = folder / src.name
    out.write_bytes(model.SerializeToString())
    onnx.checker.check_model(model)  # a well-formed model: only the content is hostile
    return out


def onnx_loop(src: Path, folder: Path, trips: int = 1 << 40) -> Path:
    """The graph's output passed through a ``Loop`` of ``trips`` iterations (an identity body)."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load_from_string(src.read_bytes())
    g = model.graph
    out = g.output[0]
    inner = out.name + "_before_loop"
    for node in g.node:
        node.output[:] = [inner if o == out.name else o for o in node.output]
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Identity", ["v_in"], ["v_out"])],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None),
        ],
    )
    g.initializer.extend(
        [
            helper.make_tensor("trips", TensorProto.INT64, [], [trips]),
            helper.make_tensor("keep_going", TensorProto.BOOL, [], [True]),
        ]
    )
    g.node.append(helper.make_node("Loop", ["trips", "keep_going", inner], [out.name], body=body))
    return _save_onnx(model, src, folder)


def onnx_tile(src: Path, folder: Path, repeats: int = 65536) -> Path:
    """The input tiled ``repeats`` times, summed back and added as zeros: the answer is right, the memory not."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load_from_string(src.read_bytes())
    g = model.graph
    x = g.input[0].name
    fed = x + "_after_tile"
    for node in g.node:
        node.input[:] = [fed if i == x else i for i in node.input]
    g.initializer.extend(
        [
            helper.make_tensor("reps", TensorProto.INT64, [2], [repeats, 1]),
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        ]
    )
    nodes = [
        helper.make_node("Tile", [x, "reps"], ["tiled"]),
        helper.make_node("ReduceMax", ["tiled"], ["reduced"], axes=[0], keepdims=1),
        helper.make_node("Mul", ["reduced", "zero"], ["zeros"]),
        helper.make_node("Add", [x, "zeros"], [fed]),
    ] + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    return _save_onnx(model, src, folder)


def big_c_array(folder: Path, megabytes: int = 252) -> Path:
    """A model_data.cc of valid ``0x00,`` tokens just under the old 256 MiB limit."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "model_data.cc"
    line = b"  " + b"0x00, " * 11 + b"0x00,\n"
    count = (megabytes << 20) // len(line)
    with open(out, "wb") as fh:
        fh.write(b"alignas(16) const unsigned char g_edgemnist_model_data[] = {\n")
        chunk = line * 4096
        for _ in range(count // 4096):
            fh.write(chunk)
        fh.write(b"};\n")
        fh.write(b"const unsigned int g_edgemnist_model_data_len = %d;\n" % (count // 4096 * 4096 * 12))
    return out


# --------------------------------------------------------------------------- 4-5. hostile manifests


def copy_with_manifest(src: Path, folder: Path, edit=None) -> Path:
    """``src`` and its manifest copied into ``folder``; ``edit(manifest dict)`` changes the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / src.name
    shutil.copyfile(src, out)
    for companion in (src.with_suffix(".h"),) if src.suffix == ".cc" else ():
        shutil.copyfile(companion, folder / companion.name)
    manifest = json.loads(Path(str(src) + ".json").read_text())
    if edit is not None:
        edit(manifest)
    # ensure_ascii: lone surrogates land in the file as \udXXX escapes, which json.loads turns back into them
    Path(str(out) + ".json").write_text(json.dumps(manifest, ensure_ascii=True))
    return out


def surrogate_fields(manifest: dict) -> None:
    """Lone surrogates in free-text fields info prints (``created`` has a fixed form: see surrogate_created)."""
    manifest["io"] = "float\ud800"
    manifest["tools"]["edgemnist"] = "0.1\udcff"
    manifest.setdefault("verification", {"passed": True})["reasons"] = ["bad \udcfe byte"]


def surrogate_created(manifest: dict) -> None:
    manifest["created"] = "2026-12-01\udcff"


def forged_reason(manifest: dict) -> None:
    manifest["verification"]["passed"] = False
    manifest["verification"]["reasons"] = ["accuracy low\nerror: FORGED second line\x1b[2J"]


def ansi_fields(manifest: dict) -> None:
    manifest["io"] = "\x1b[2J\x1b[31mcleared your screen\x1b[0m"
    manifest["verification"]["reasons"] = ["\x9b2J C1 CSI", "\u2028line separator"]
    manifest["tools"] = {"edgemnist": "\x1b]0;title\x07", "x\u202e": "bidi"}
    manifest["source"]["file"] = "model.keras\r\nerror: forged"


def bad_sha(manifest: dict) -> None:
    manifest["artifact"]["sha256"] = "z" * 64


# --------------------------------------------------------------------------- 7. manifest paths that are not files


def odd_manifest(src: Path, folder: Path, kind: str) -> Path:
    """``src`` copied, its manifest path made a directory, a FIFO, a dangling symlink or a link to /dev/zero."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / src.name
    shutil.copyfile(src, out)
    if src.suffix == ".cc":
        shutil.copyfile(src.with_suffix(".h"), folder / src.with_suffix(".h").name)
    m = Path(str(out) + ".json")
    if kind == "directory":
        m.mkdir()
    elif kind == "fifo":
        os.mkfifo(m)
    elif kind == "dangling":
        m.symlink_to(folder / "nowhere.json")
    elif kind == "dev-zero":
        m.symlink_to("/dev/zero")
    return out


LENGTH_SPELLINGS = {
    "minus-one": "-1",
    "empty": "",
    "hex": "0x67518",
    "suffix-u": "423192u",
    "missing": None,
    "plus": "+423192",
    "leading-zero": "0423192",
    "spaces": " 423192 ",
}


def micro_length(src: Path, folder: Path, spelling: str | None) -> Path:
    """The micro pair with ``g_edgemnist_model_data_len`` spelled ``spelling`` (None: the line removed)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = src.read_text()
    pattern = r"const unsigned int g_edgemnist_model_data_len = \d+;\n"
    replacement = "" if spelling is None else f"const unsigned int g_edgemnist_model_data_len = {spelling};\n"
    new = re.sub(pattern, replacement, text)
    assert new != text
    (folder / src.name).write_text(new)
    shutil.copyfile(src.with_suffix(".h"), folder / src.with_suffix(".h").name)
    return folder / src.name


# --------------------------------------------------------------------------- 8. a vouching manifest


def micro_small_arena_vouched(src: Path, folder: Path, arena: int = 9920) -> Path:
    """The micro pair with a header arena too small to run (consistent with its comment) and a manifest
    re-hashed to vouch for both files: only a signature may lift the child-process check."""
    folder.mkdir(parents=True, exist_ok=True)
    header = src.with_suffix(".h").read_text()
    header = re.sub(r"kEdgemnistTensorArenaSize = \d+;", f"kEdgemnistTensorArenaSize = {arena};", header)
    header = re.sub(r"// arena: +\d+ bytes = \d+", f"// arena:   {arena} bytes = {arena - 8}", header)
    h = folder / src.with_suffix(".h").name
    h.write_text(header)
    cc = folder / src.name
    shutil.copyfile(src, cc)
    manifest = json.loads(Path(str(src) + ".json").read_text())
    manifest["micro"]["header"]["sha256"] = hashlib.sha256(h.read_bytes()).hexdigest()
    manifest["micro"]["arena_bytes"] = arena
    manifest["artifact"]["sha256"] = hashlib.sha256(cc.read_bytes()).hexdigest()
    Path(str(cc) + ".json").write_text(json.dumps(manifest))
    return cc


# --------------------------------------------------------------------------- the regression set


def findings(src: dict[str, Path], root: Path) -> list[tuple[str, dict]]:
    """Every known hostile file as harness cases: (name, case without id/workdir)."""
    out = []
    for model in ("tflite-float32", "tflite-int8"):
        for which in ("activation", "output"):
            for where in ("offset", "inline"):
                p = tflite_written_tensor_with_data(
                    src[model], root / f"1-{model}-{which}-{where}", which=which, where=where
                )
                out.append((f"1-{model}-{which}-{where}", {"kind": "load", "path": str(p)}))
    for model in ("tflite-float32", "tflite-int8"):
        p = tflite_operator_without_weights(src[model], root / f"fuzz-1596-{model}")
        out.append((f"fuzz-1596-{model}", {"kind": "load", "path": str(p)}))
    for model in ("tflite-float32", "tflite-int8"):
        p = tflite_reshaped_activation(src[model], root / f"fuzz-1631-{model}")
        out.append((f"fuzz-1631-{model}", {"kind": "load", "path": str(p)}))
    p = tflite_reshaped_activation(src["tflite-int8"], root / "fuzz-1631-int8-bytes")
    p = as_micro_pair(p.read_bytes(), src["micro"], root / "fuzz-1631-micro")
    out.append(("fuzz-1631-micro", {"kind": "load", "path": str(p), "timeout": 300}))
    for trips in (1 << 40, 1 << 62):
        out.append(
            (
                f"2-loop-{trips}",
                {"kind": "load", "path": str(onnx_loop(src["onnx-float32"], root / f"2-{trips}", trips))},
            )
        )
    tile = onnx_tile(src["onnx-float32"], root / "3-tile")
    out.append(("3-tile", {"kind": "load", "path": str(tile)}))
    for edit in (surrogate_fields, surrogate_created, forged_reason, ansi_fields, bad_sha):
        p = copy_with_manifest(src["tflite-int8"], root / f"45-{edit.__name__}", edit)
        out.append((f"45-info-{edit.__name__}", {"kind": "cli", "argv": ["info", str(p)], "encoding": "utf-8"}))
    out.append(("6-tile-2gb", {"kind": "load", "path": str(tile), "memory": 2 << 30}))
    for model in ("tflite-int8", "micro"):
        for kind in ("directory", "fifo", "dangling", "dev-zero"):
            p = odd_manifest(src[model], root / f"7-{model}-{kind}", kind)
            out.append((f"7-{model}-{kind}", {"kind": "load", "path": str(p)}))
    for name, spelling in LENGTH_SPELLINGS.items():
        p = micro_length(src["micro"], root / f"7-len-{name}", spelling)
        out.append((f"7-len-{name}", {"kind": "load", "path": str(p)}))
    p = micro_small_arena_vouched(src["micro"], root / "8-vouched")
    out.append(("8-vouched", {"kind": "load", "path": str(p), "timeout": 300}))
    return out
