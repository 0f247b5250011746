"""Low-bit hidden weights in an int8 .tflite: the stored levels, LiteRT == TFLM, the accuracy gate, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest
from toolchains import imported

imported("tensorflow")
imported("ai_edge_litert")

from edgemnist import spec  # noqa: E402
from edgemnist.errors import ConfigError  # noqa: E402
from edgemnist.export import lowbit  # noqa: E402
from edgemnist.flatbuffer import check_tflite  # noqa: E402
from edgemnist.tflm.runner import MicroRunner, quantize_pixels  # noqa: E402

#: (bits, level set): the defaults first, then the other 2-bit set.
CASES = [(4, "int4"), (2, "int2"), (2, "odd2")]
ARENA = 64 << 10  # ample for this network (the TFLM tests measure the exact figure)


@pytest.fixture(scope="module")
def quantized(trained, mnist):
    """(bits, levels) -> (tflite bytes, recipe), quantized once per module."""
    cache = {}

    def get(bits, levels):
        if (bits, levels) not in cache:
            cache[bits, levels] = lowbit.quantize(trained[1].model, bits, mnist, seed=0, levels=levels)
        return cache[bits, levels]

    return get


def litert(data: bytes, x: np.ndarray, *, delegates: bool = True) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kw = {} if delegates else {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    ip = Interpreter(model_content=data, **kw)
    i, o = ip.get_input_details()[0], ip.get_output_details()[0]
    ip.resize_tensor_input(i["index"], [len(x), spec.INPUT_SIZE])
    ip.allocate_tensors()
    ip.set_tensor(i["index"], x)
    ip.invoke()
    return ip.get_tensor(o["index"]).copy()


@pytest.mark.parametrize("bits,levels", CASES)
def test_hidden_filter_takes_only_the_levels(quantized, trained, bits, levels):
    data, recipe = quantized(bits, levels)
    k, scales = lowbit.hidden_filter(data)
    allowed = lowbit.LEVEL_SETS[levels].values
    assert k.shape == (512, spec.INPUT_SIZE) and k.dtype == np.int8
    assert set(np.unique(k).tolist()) <= set(allowed) and len(allowed) <= 2**bits
    assert max(len(np.unique(row)) for row in k) <= 2**bits
    assert scales.shape == (512,) and (scales > 0).all()
    # The stored weights are the grid of the Keras kernel: within half a step of it unless clipped.
    kernel = np.asarray(trained[1].model.get_layer("hidden").get_weights()[0]).T
    step = lowbit.LEVEL_SETS[levels].step * scales[:, None]
    inside = np.abs(kernel) <= lowbit.LEVEL_SETS[levels].top * scales[:, None] - step
    assert (np.abs(k * scales[:, None] - kernel)[inside] <= step.repeat(k.shape[1], 1)[inside] / 2 + 1e-7).all()
    assert recipe.bits == {"hidden": bits, "probabilities": 8}
    assert recipe.levels == levels and recipe.level_values == allowed and recipe.qat is None
    assert recipe.calibration["split"] == recipe.held_back["split"] == "train"
    assert 0.2 <= recipe.clips["ratio_min"] <= recipe.clips["ratio_median"] <= recipe.clips["ratio_max"] <= 2.0
    json.dumps(recipe.to_dict())  # the manifest can hold it
    check_tflite(data, "low-bit")  # the structure every loader checks first


@pytest.mark.parametrize("bits,levels", CASES[:2])
def test_bias_is_requantized_for_the_new_scales(quantized, trained, bits, levels):
    schema = imported("ai_edge_litert.schema_py_generated")
    data, _ = quantized(bits, levels)
    model, w, b, x = lowbit.hidden_layer(data)
    assert b.Type() == schema.TensorType.INT32
    s_in = x.Quantization().ScaleAsNumpy()[0]
    bias_scale = b.Quantization().ScaleAsNumpy()
    np.testing.assert_array_equal(bias_scale, (np.float32(s_in) * w.Quantization().ScaleAsNumpy()).astype(np.float32))
    stored = model.Buffers(b.Buffer()).DataAsNumpy().view("<i4")
    bias = np.asarray(trained[1].model.get_layer("hidden").get_weights()[1], np.float64)
    assert (np.abs(stored * bias_scale.astype(np.float64) - bias) <= bias_scale / 2 * (1 + 1e-6)).all()


@pytest.mark.parametrize("bits,levels", CASES[:2])
def test_litert_and_tflm_agree(quantized, mnist, bits, levels):
    data, _ = quantized(bits, levels)
    x = quantize_pixels(mnist.test_images[:1000])
    micro = MicroRunner(data, ARENA).run(x)
    # LiteRT's builtin kernels and TFLM's reference kernels round a tie differently now and then (today's 8-bit
    # model too): the int8 scores are identical on nearly every image and never more than 2 steps apart.
    lite = litert(data, x, delegates=False)
    assert np.mean((lite == micro).all(axis=1)) >= 0.99
    assert np.abs(lite.astype(np.int16) - micro).max() <= 2
    assert np.mean(lite.argmax(1) == micro.argmax(1)) >= 0.998


@pytest.mark.parametrize("bits,levels", CASES[:2])
def test_accuracy_passes_the_gate_on_10000_images(quantized, mnist, bits, levels):
    data, _ = quantized(bits, levels)
    accuracy = float(np.mean(litert(data, quantize_pixels(mnist.test_images)).argmax(1) == mnist.test_labels))
    assert spec.passes(accuracy, spec.accuracy_floor()), f"{bits}-bit {levels}: {accuracy:.2%}"


def test_float_io_has_the_same_levels_and_predictions(quantized, trained, mnist):
    data, _ = quantized(4, "int4")
    floatio, _ = lowbit.quantize(trained[1].model, 4, mnist, seed=0, io="float")
    np.testing.assert_array_equal(lowbit.hidden_filter(floatio)[0], lowbit.hidden_filter(data)[0])
    images = mnist.test_images[:1000]
    probabilities = litert(floatio, spec.to_unit_floats(images))
    assert probabilities.dtype == np.float32
    np.testing.assert_array_equal(probabilities.argmax(1), litert(data, quantize_pixels(images)).argmax(1))


def test_same_seed_same_bytes_other_seed_other_slice(quantized, trained, mnist):
    data, recipe = quantized(2, "int2")
    again, recipe_again = lowbit.quantize(trained[1].model, 2, mnist, seed=0)
    assert again == data and recipe_again == recipe
    _, other = lowbit.quantize(trained[1].model, 2, mnist, seed=1)
    assert other.held_back["indices_sha256"] != recipe.held_back["indices_sha256"]
    assert other.calibration["indices_sha256"] != recipe.calibration["indices_sha256"]


def test_fine_tune_is_seeded_and_stays_on_the_grid(trained, mnist):
    first, recipe = lowbit.quantize(trained[1].model, 2, mnist, seed=0, qat_epochs=1)
    second, _ = lowbit.quantize(trained[1].model, 2, mnist, seed=0, qat_epochs=1)
    assert first == second
    assert recipe.qat["epochs"] == 1 and recipe.qat["seed"] == 0
    k, _ = lowbit.hidden_filter(first)
    assert set(np.unique(k).tolist()) <= set(lowbit.LEVEL_SETS["int2"].values)
    accuracy = float(np.mean(litert(first, quantize_pixels(mnist.test_images)).argmax(1) == mnist.test_labels))
    assert spec.passes(accuracy, spec.accuracy_floor()), f"2-bit after one QAT epoch: {accuracy:.2%}"


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"bits": 3}, "4 or 2 bits, got 3"),
        ({"bits": 8}, "4 or 2 bits, got 8"),
        ({"bits": "4"}, "got '4'"),
        ({"bits": True}, "got True"),
        ({"bits": 4, "levels": "odd2"}, "4-bit levels are one of int4"),
        ({"bits": 2, "clip_rule": "max"}, "clip rule is one of"),
        ({"bits": 2, "qat_epochs": -1}, "QAT epochs"),
        ({"bits": 2, "seed": -1}, "seed must be"),
        ({"bits": 2, "io": "uint8"}, "I/O is int8 or float"),
    ],
)
def test_bad_arguments_are_refused(trained, mnist, kwargs, match):
    with pytest.raises(ConfigError, match=match) as info:
        lowbit.quantize(trained[1].model, data=mnist, **kwargs)
    assert isinstance(info.value, ValueError)
