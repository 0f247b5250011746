"""The pure-Python ONNX graph checker on small hand-built models (the onnx package builds them; the checker
itself needs none). Real exports of every mode are checked in tests/fuzz/test_fuzz.py."""

from __future__ import annotations

import numpy as np
import pytest
from toolchains import imported

from edgemnist.errors import ArtifactError
from edgemnist.onnxcheck import check_onnx

onnx = imported("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _model(nodes=None, inits=None, **graph_kw) -> bytes:
    w = numpy_helper.from_array(np.zeros((784, 10), np.float32), "w")
    b = numpy_helper.from_array(np.zeros((10,), np.float32), "b")
    nodes = (
        nodes
        if nodes is not None
        else [
            helper.make_node("MatMul", ["x", "w"], ["h"]),
            helper.make_node("Add", ["h", "b"], ["l"]),
            helper.make_node("Softmax", ["l"], ["y"], axis=-1),
        ]
    )
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 784])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])],
        initializer=[w, b] + (inits or []),
        **graph_kw,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_a_plain_mlp_passes():
    check_onnx(_model(), "m")


@pytest.mark.parametrize(
    "nodes,words",
    [
        ([helper.make_node("Tile", ["x", "r"], ["y"])], "'Tile'"),
        ([helper.make_node("Loop", ["t", "c"], ["y"], body=helper.make_graph([], "b", [], []))], "control flow"),
        ([helper.make_node("MatMul", ["x", "w"], ["y"], domain="com.microsoft")], "domain"),
        ([helper.make_node("Softmax", ["x"], ["y"], axis=7)], "axis = 7"),
        ([helper.make_node("Softmax", ["x"], ["y"], perm=[1, 0])], "holds ints"),
        ([helper.make_node("Relu", ["x"], ["y"]) for _ in range(129)], "129 nodes"),
    ],
)
def test_what_this_network_never_contains_is_refused(nodes, words):
    with pytest.raises(ArtifactError, match=words):
        check_onnx(_model(nodes), "m")


def test_initializers_are_bounded_and_consistent():
    huge = TensorProto(name="big", data_type=TensorProto.FLOAT, dims=[4096, 4096])
    with pytest.raises(ArtifactError, match="elements"):
        check_onnx(_model(inits=[huge]), "m")
    short = TensorProto(name="s", data_type=TensorProto.FLOAT, dims=[10], raw_data=b"\x00" * 8)
    with pytest.raises(ArtifactError, match="raw bytes"):
        check_onnx(_model(inits=[short]), "m")
    ext = numpy_helper.from_array(np.zeros((2,), np.float32), "e")
    ext.data_location = TensorProto.EXTERNAL
    with pytest.raises(ArtifactError, match="external"):
        check_onnx(_model(inits=[ext]), "m")
    with pytest.raises(ArtifactError, match="data type"):
        check_onnx(_model(inits=[helper.make_tensor("d", TensorProto.DOUBLE, [1], [1.0])]), "m")


def test_value_info_dims_are_bounded():
    vi = helper.make_tensor_value_info("v", TensorProto.FLOAT, [1 << 40, 784])
    with pytest.raises(ArtifactError, match="dimension"):
        check_onnx(_model(value_info=[vi]), "m")


def test_damaged_bytes_raise_only_artifact_errors():
    data = _model()
    rng = np.random.default_rng(0)
    for _ in range(300):
        b = bytearray(data)
        for p in rng.integers(0, len(b), 3):
            b[p] ^= 1 << int(rng.integers(8))
        try:
            check_onnx(bytes(b[: int(rng.integers(1, len(b) + 1))]), "m")
        except ArtifactError:
            pass


def test_the_checker_returns_the_graph_operator_types():
    """OnnxBackend decides per-image mode from these (not from a byte search of the file)."""
    assert check_onnx(_model(), "m").ops == frozenset(n.op_type for n in onnx.load_from_string(_model()).graph.node)


@pytest.mark.parametrize("kind,per_byte", [(TensorProto.INT4, 2), (TensorProto.INT2, 4)])
def test_packed_weights_pass_raw_and_exact_and_are_named(kind, per_byte):
    """Packed INT4 / INT2 hidden weights (``--packed``): raw_data of exactly ceil(elements / per_byte) bytes."""
    n = 7 * 5  # odd: the last byte is padded
    need = -(-n // per_byte)
    ok = TensorProto(name="w4", data_type=kind, dims=[7, 5], raw_data=b"\x11" * need)
    checked = check_onnx(_model(inits=[ok]), "m")
    assert {"FLOAT", TensorProto.DataType.Name(kind)} == set(checked.tensor_types)
    for held in (need - 1, need + 1):
        bad = TensorProto(name="w4", data_type=kind, dims=[7, 5], raw_data=b"\x11" * held)
        with pytest.raises(ArtifactError, match=f"holds {held} raw bytes"):
            check_onnx(_model(inits=[bad]), "m")
    typed = TensorProto(name="w4", data_type=kind, dims=[7, 5], int32_data=[1] * need)
    with pytest.raises(ArtifactError, match="outside raw_data"):
        check_onnx(_model(inits=[typed]), "m")
    # Only as constant weights: a graph input or a value of a packed type is refused.
    with pytest.raises(ArtifactError, match="element type"):
        check_onnx(_model(value_info=[helper.make_tensor_value_info("v", kind, [7, 5])]), "m")
