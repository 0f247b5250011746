"""The Predictor's conversions and checks over a fake backend: no runtime, exact arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from edgemnist.errors import ArtifactError, InputError, ManifestError
from edgemnist.predictor import Backend, Predictor, TensorSpec, as_batch, is_pixel_scale


class Fake(Backend):
    """Records what it is fed; answers a fixed int8 (or float32) output."""

    runtime = "Fake"

    def __init__(
        self,
        path=None,
        threads: int = 1,
        *,
        inp: TensorSpec | None = None,
        out: TensorSpec | None = None,
        quantization: str | None = None,
    ) -> None:
        self.input = inp or TensorSpec("pixels", (-1, 784), "int8", 1 / 255, -128)
        self.output = out or TensorSpec("probabilities", (-1, 10), "int8", 1 / 256, -128)
        self._q = quantization
        self.fed: list[np.ndarray] = []
        self.per_image_calls = 0

    def run(self, x):
        self.fed.append(x.copy())
        n = len(x)
        if self.output.dtype == "float32":
            return np.full((n, 10), 0.1, np.float32)
        q = np.full((n, 10), -128, np.int8)
        q[:, 3] = 127  # (127 + 128) / 256 = 0.99609375
        return q

    def quantization(self):
        return self._q

    def per_image(self):
        self.per_image_calls += 1


def test_uint8_pixels_take_the_integer_path_and_outputs_are_dequantized():
    backend = Fake()
    p = Predictor(backend)
    px = np.array([[0, 1, 127, 128, 255] + [0] * 779], np.uint8)
    proba = p.predict_proba(px)
    assert backend.fed[-1].dtype == np.int8 and backend.fed[-1][0, :5].tolist() == [-128, -127, -1, 0, 127]
    assert proba.dtype == np.float32 and proba[0, 3] == np.float32(255 / 256) and proba[0, 0] == 0.0
    labels, conf = p.predict(px)
    assert labels.tolist() == [3] and conf.tolist() == [np.float32(255 / 256)]
    assert is_pixel_scale(backend.input)


def test_floats_are_quantized_with_round_and_clip():
    inp = TensorSpec("pixels", (-1, 784), "int8", 3 / 255, 5)
    backend = Fake(inp=inp)
    x = np.zeros((1, 784), np.float32)
    x[0, :4] = [0.0, 1 / 255, 0.5, 1.0]
    Predictor(backend).predict_proba(x)
    assert backend.fed[-1][0, :4].tolist() == [5, 5, 48, 90]
    assert not is_pixel_scale(inp)


def test_float_model_gets_pixels_over_255():
    backend = Fake(inp=TensorSpec("pixels", (-1, 784), "float32"), out=TensorSpec("p", (-1, 10), "float32"))
    px = np.arange(784, dtype=np.int64).reshape(1, 784) % 256
    Predictor(backend).predict_proba(px.astype(np.uint8))
    assert np.array_equal(backend.fed[-1], px.astype(np.float32) / np.float32(255))


def test_dynamic_models_run_per_image():
    backend = Fake(quantization="dynamic")
    Predictor(backend)
    assert backend.per_image_calls == 1
    other = Fake(quantization="int8")
    Predictor(other)
    assert other.per_image_calls == 0


@pytest.mark.parametrize(
    "bad,message",
    [
        (None, "numpy array"),
        ("x", "numpy array"),
        (np.zeros((2, 27, 28), np.uint8), "shaped"),
        (np.zeros((0, 784), np.uint8), "at least one"),
        (np.zeros((1, 784), np.int32), "astype\\(np.uint8\\)"),
        (np.full((1, 784), 2.0, np.float32), "in \\[0, 1\\]"),
        (np.full((1, 784), np.nan), "finite"),
        ([[1, 2], [3]], "numpy array"),
    ],
)
def test_bad_inputs_say_what_was_expected(bad, message):
    with pytest.raises(InputError, match=message):
        Predictor(Fake()).predict_proba(bad)


def test_as_batch_accepts_every_documented_layout():
    for shape in ((28, 28), (784,), (3, 28, 28), (3, 784)):
        out = as_batch(np.zeros(shape, np.uint8))
        assert out.shape[1] == 784 and out.flags.c_contiguous
    assert as_batch(np.zeros((2, 784), np.float64)).dtype == np.float32


def test_a_manifest_that_contradicts_the_backend_is_refused():
    manifest = {
        "quantization": "int8",
        "input": TensorSpec("pixels", (-1, 784), "int8", 0.5, 0).to_dict(),
        "output": Fake().output.to_dict(),
    }
    with pytest.raises(ManifestError, match="contradicts"):
        Predictor(Fake(), manifest=manifest)


def test_bad_tensor_facts_are_artifact_errors():
    with pytest.raises(ArtifactError, match="expected \\[N, 784\\]"):
        Predictor(Fake(inp=TensorSpec("pixels", (-1, 100), "int8", 1 / 255, -128)))
    with pytest.raises(ArtifactError, match="scale and zero point are unknown"):
        Predictor(Fake(inp=TensorSpec("pixels", (-1, 784), "int8")))
    with pytest.raises(ArtifactError, match="invalid quantization"):
        Predictor(Fake(out=TensorSpec("p", (-1, 10), "int8", -1.0, 0)))


def test_a_failing_runtime_is_an_artifact_error_with_its_first_line():
    class Broken(Fake):
        def run(self, x):
            raise RuntimeError("native failure\nsecond line")

    with pytest.raises(ArtifactError, match="native failure") as info:
        Predictor(Broken()).predict_proba(np.zeros((28, 28), np.uint8))
    assert "second line" not in str(info.value)
