"""edgemnist.modelfacts, the one reader of model facts from a .tflite, against LiteRT and the Keras model."""

from __future__ import annotations

import pytest

from edgemnist.errors import ArtifactError
from edgemnist.modelfacts import parse_facts, read_facts


@pytest.mark.parametrize(
    ("mode", "io"),
    [("float32", "float"), ("float16", "float"), ("dynamic", "float"), ("int8", "int8"), ("int8", "float")],
)
def test_facts_match_litert_and_the_keras_layers(export_artifact, trained, mode, io):
    from ai_edge_litert.interpreter import Interpreter

    path = export_artifact("tflite", mode, io).path
    facts = read_facts(path)
    it = Interpreter(model_path=str(path))
    for tensor, detail in ((facts.input, it.get_input_details()[0]), (facts.output, it.get_output_details()[0])):
        assert tensor.shape[1:] == tuple(int(d) for d in detail["shape"][1:])
        assert tensor.type_name == detail["dtype"].__name__
        scale, zero_point = detail["quantization"]
        if tensor.type_name == "int8":
            assert (tensor.scales, tensor.zero_points) == ((scale,), (zero_point,))
    kernels = [w.shape for w in trained[1].model.get_weights() if w.ndim == 2]  # Keras: (in, out) per Dense
    assert facts.dense_shapes == tuple(kernels) == ((784, 512), (512, 10))
    assert facts.macs == 784 * 512 + 512 * 10
    assert (facts.input_size, facts.output_size) == (784, 10)
    if (mode, io) == ("int8", "int8"):
        assert (facts.input.scales[0], facts.input.zero_points[0]) == (pytest.approx(1 / 255), -128)
        assert (facts.output.scales[0], facts.output.zero_points[0]) == (1 / 256, -128)


def test_what_is_not_a_tflite_is_refused_saying_so(tmp_path):
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.raises(ArtifactError, match="PNG"):
        read_facts(bad)
    with pytest.raises(ArtifactError, match="cannot read it"):
        read_facts(tmp_path / "absent.tflite")
    with pytest.raises(ArtifactError):
        parse_facts(b"\x10\x00\x00\x00TFL3" + bytes(200), "x.tflite")
