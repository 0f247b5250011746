"""A structural check of an ONNX model, in pure Python, before an ``InferenceSession`` sees it.

``check_onnx(data, origin)`` reads the protobuf wire format directly (the device install has only
onnxruntime, not the ``onnx`` package) and refuses, with an ArtifactError, anything this network's exports
never contain (``edgemnist.allowlist``): a node type outside the allow-list or outside the default ONNX
domain, any subgraph (``Loop``, ``If``, ``Scan`` carry theirs in graph attributes) or model-local function,
attributes other than the few the exports use or out of their range, initializers of unknown types, with
external data (a path the runtime would open), whose data does not match their dims, or larger than a
784 -> ... -> K MLP needs, and graph inputs/outputs/value_info with too many or too large dimensions.

The wire format itself is read by :mod:`edgemnist.protowire`; what it reads follows the ONNX schema
(onnx/onnx.proto3): ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto, TypeProto. A
singular field that appears twice is refused (protobuf would merge or overwrite it, and this check must see what
the runtime sees); unknown fields are skipped (the runtime ignores them too). Every length is checked against the
bytes that remain, so a hostile length costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgemnist import allowlist
from edgemnist.errors import ArtifactError
from edgemnist.protowire import I32, LEN, Malformed, Refused, count, delimited, integer, integers, message, string

# ModelProto fields.
_M_GRAPH, _M_OPSET, _M_TRAINING, _M_FUNCTIONS = 7, 8, 20, 25
# GraphProto fields.
_G_NODE, _G_INITIALIZER, _G_INPUT, _G_OUTPUT, _G_VALUE_INFO, _G_SPARSE = 1, 5, 11, 12, 13, 15
# NodeProto fields.
_N_OP_TYPE, _N_ATTRIBUTE, _N_DOMAIN = 4, 5, 7
# AttributeProto fields: name, f, i, and those that hold tensors or graphs (never in this network).
_A_NAME, _A_F, _A_I, _A_REF = 1, 2, 3, 21
_A_NESTED = {
    5: "a tensor",
    6: "a graph",
    10: "tensors",
    11: "graphs",
    22: "a sparse tensor",
    23: "sparse tensors",
    14: "a type",
    15: "types",
    4: "a string",
    7: "floats",
    8: "ints",
    9: "strings",
}
# TensorProto fields.
_T_DIMS, _T_TYPE, _T_SEGMENT, _T_FLOAT, _T_INT32, _T_STRING, _T_INT64 = 1, 2, 3, 4, 5, 6, 7
_T_RAW, _T_DOUBLE, _T_UINT64, _T_EXTERNAL, _T_LOCATION = 9, 10, 11, 13, 14
# ValueInfoProto / TypeProto / TypeProto.Tensor / TensorShapeProto / Dimension.
_V_TYPE, _TY_TENSOR, _TT_ELEM, _TT_SHAPE, _SH_DIM, _D_VALUE, _D_PARAM = 2, 1, 1, 2, 1, 1, 2


def _check_dims(dims: list[int], what: str, *, dynamic_ok: bool) -> None:
    why = allowlist.dims_problem(dims, dynamic_ok=dynamic_ok)
    if why:
        raise Refused(f"{what} has {why}")


def _check_tensor(data: bytes, span, what: str) -> str:
    t = message(data, span, singular={_T_TYPE, _T_RAW, _T_LOCATION, _T_SEGMENT}, what=what)
    if _T_SEGMENT in t:
        raise Refused(f"{what} is segmented")
    if _T_EXTERNAL in t or integer(t.get(_T_LOCATION), what) != 0:
        raise Refused(f"{what} keeps its data in an external file; this network's exports never do")
    kind = integer(t.get(_T_TYPE), f"{what} data_type")
    if kind not in allowlist.ONNX_TENSOR_TYPES:
        raise Refused(
            f"{what} has data type {kind}; expected one of "
            f"{', '.join(n for n, _ in allowlist.ONNX_TENSOR_TYPES.values())}"
        )
    dims = integers(data, t.get(_T_DIMS), f"{what} dims", allowlist.MAX_TENSOR_ELEMENTS)
    _check_dims(dims, what, dynamic_ok=False)
    elements = 1
    for d in dims:
        elements *= d
    name, bits = allowlist.ONNX_TENSOR_TYPES[kind]
    if _T_RAW in t:
        start, end = delimited(t[_T_RAW][0], f"{what} raw_data")
        held, needed = end - start, (elements * bits + 7) // 8  # sub-byte types: packed, the last byte padded
        others = [f for f in (_T_FLOAT, _T_INT32, _T_STRING, _T_INT64, _T_DOUBLE, _T_UINT64) if f in t]
        if others or held != needed:
            raise Refused(f"{what} holds {held} raw bytes but its dims {dims} ({name}) need {needed}")
        return name
    if bits < 8:
        raise Refused(f"{what} holds {name} outside raw_data; this toolkit's exports store packed types raw")
    typed = {"FLOAT": (_T_FLOAT, 4)}.get(name, (_T_INT32, None))  # INT8/UINT8/INT32 live in int32_data
    held = count(data, t.get(typed[0]), typed[1], f"{what} data", allowlist.MAX_TENSOR_ELEMENTS)
    others = [f for f in (_T_FLOAT, _T_INT32, _T_STRING, _T_INT64, _T_DOUBLE, _T_UINT64) if f in t and f != typed[0]]
    if others or held != elements:
        raise Refused(f"{what} holds {held} values but its dims {dims} need {elements}")
    return name


def _check_value_info(data: bytes, span, what: str) -> None:
    v = message(data, span, singular={_V_TYPE}, what=what)
    if _V_TYPE not in v:
        return
    ty_span = delimited(v[_V_TYPE][0], f"{what} type")
    ty = message(data, ty_span, singular={_TY_TENSOR}, what=f"{what} type")
    if set(ty) - {_TY_TENSOR, 6}:  # 6: denotation; sequences, maps, optionals, sparse: never here
        raise Refused(f"{what} is not a plain tensor")
    if _TY_TENSOR not in ty:
        return
    tt_span = delimited(ty[_TY_TENSOR][0], f"{what} type")
    tt = message(data, tt_span, singular={_TT_ELEM, _TT_SHAPE}, what=f"{what} type")
    kind = integer(tt.get(_TT_ELEM), f"{what} elem_type")
    if kind not in allowlist.ONNX_TENSOR_TYPES or allowlist.ONNX_TENSOR_TYPES[kind][1] < 8:
        raise Refused(f"{what} has element type {kind}")  # packed types are constant weights only
    if _TT_SHAPE not in tt:
        return
    dims = []
    for field in message(data, delimited(tt[_TT_SHAPE][0], f"{what} shape"), what=f"{what} shape").get(_SH_DIM, ()):
        d = message(data, delimited(field, f"{what} dim"), singular={_D_VALUE, _D_PARAM}, what=f"{what} dim")
        dims.append(integer(d.get(_D_VALUE), f"{what} dim") if _D_VALUE in d else -1)
    _check_dims(dims, what, dynamic_ok=True)


def _check_node(data: bytes, span, index: int) -> str:
    node = message(data, span, singular={_N_OP_TYPE, _N_DOMAIN, 3}, what=f"node {index}")
    op = string(data, node.get(_N_OP_TYPE), f"node {index} op_type")
    domain = string(data, node.get(_N_DOMAIN), f"node {index} domain")
    what = f"node {index} ({op[:40]!r})"
    if domain not in allowlist.ONNX_DOMAINS:
        raise Refused(f"{what} is in domain {domain[:40]!r}; only the default ONNX domain is allowed")
    if op in ("Loop", "If", "Scan", "SequenceMap"):
        raise Refused(f"{what} is control flow; this network has none")
    if op not in allowlist.ONNX_OPS:
        raise Refused(
            f"{what} is not an operator this toolkit's exports use (allowed: {', '.join(sorted(allowlist.ONNX_OPS))})"
        )
    for wire, a_span in node.get(_N_ATTRIBUTE, ()):
        if wire != LEN:
            raise Malformed(f"{what} has a malformed attribute")
        a = message(data, a_span, singular={_A_NAME, _A_F, _A_I, 20}, what=f"{what} attribute")
        name = string(data, a.get(_A_NAME), f"{what} attribute name")
        nested = [label for number, label in _A_NESTED.items() if number in a]
        if nested or _A_REF in a:
            raise Refused(f"{what} attribute {name[:40]!r} holds {nested[0] if nested else 'a reference'}")
        if name in allowlist.ONNX_INT_ATTRIBUTES:
            lo, hi = allowlist.ONNX_INT_ATTRIBUTES[name]
            value = integer(a.get(_A_I), f"{what} attribute {name}")
            if _A_F in a or not lo <= value <= hi:
                raise Refused(f"{what} attribute {name} = {value} (expected {lo} to {hi})")
        elif name in allowlist.ONNX_FLOAT_ATTRIBUTES:
            if _A_I in a or _A_F not in a or a[_A_F][0][0] != I32:
                raise Refused(f"{what} attribute {name} is not a float")
        else:
            raise Refused(f"{what} has attribute {name[:40]!r}, which this network's exports never use")
    return op


def _check_graph(data: bytes, span) -> Checked:
    g = message(data, span, singular={2}, what="the graph")
    if _G_SPARSE in g:
        raise Refused("the graph has sparse initializers")
    nodes, inits = g.get(_G_NODE, []), g.get(_G_INITIALIZER, [])
    if not nodes:
        raise Refused("the graph has no nodes")
    if len(nodes) > allowlist.ONNX_MAX_NODES:
        raise Refused(f"{len(nodes)} nodes (at most {allowlist.ONNX_MAX_NODES})")
    if len(inits) > allowlist.ONNX_MAX_INITIALIZERS:
        raise Refused(f"{len(inits)} initializers (at most {allowlist.ONNX_MAX_INITIALIZERS})")
    ops = set()
    for i, (wire, node_span) in enumerate(nodes):
        if wire != LEN:
            raise Malformed(f"node {i} is malformed")
        ops.add(_check_node(data, node_span, i))
    types = set()
    for i, (wire, t_span) in enumerate(inits):
        if wire != LEN:
            raise Malformed(f"initializer {i} is malformed")
        types.add(_check_tensor(data, t_span, f"initializer {i}"))
    for key, label in ((_G_INPUT, "graph input"), (_G_OUTPUT, "graph output"), (_G_VALUE_INFO, "value_info")):
        for i, (wire, v_span) in enumerate(g.get(key, ())):
            if wire != LEN:
                raise Malformed(f"{label} {i} is malformed")
            _check_value_info(data, v_span, f"{label} {i}")
    return Checked(frozenset(ops), frozenset(types))


@dataclass(frozen=True)
class Checked:
    """What the check read of a model that passed: its operator types (what the backend decides per-image mode
    from) and its initializers' data type names (``allowlist.ONNX_TENSOR_TYPES``)."""

    ops: frozenset[str]
    tensor_types: frozenset[str]


def check_onnx(data: bytes, origin: str) -> Checked:
    """Raise ArtifactError unless ``data`` is an ONNX model built only from what this network's exports use;
    return what it read (``Checked``)."""
    n = len(data)
    if n > allowlist.MAX_MODEL_BYTES:
        raise ArtifactError(
            f"{origin}: {n} bytes, larger than any ONNX model of this network "
            f"({allowlist.MAX_MODEL_BYTES} bytes at most)"
        )
    try:
        model = message(data, (0, n), singular={1, _M_GRAPH}, what="the model")
        if _M_FUNCTIONS in model:
            raise Refused("the model defines functions")
        if _M_TRAINING in model:
            raise Refused("the model carries training information")
        if _M_GRAPH not in model:
            raise Malformed("no graph")
        return _check_graph(data, delimited(model[_M_GRAPH][0], "the graph"))
    except Malformed as exc:
        from edgemnist.flatbuffer import sniff

        guess = sniff(data[:512])
        looks = f"; it looks like {guess}" if guess and "ONNX" not in guess else ""
        raise ArtifactError(f"{origin}: not a loadable ONNX model (the protobuf is malformed: {exc}){looks}") from None
    except Refused as exc:
        raise ArtifactError(f"{origin}: not an ONNX model of this network: {exc}") from None
