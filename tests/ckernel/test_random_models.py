"""The generated C on random models against a literal Python transcription of TFLM's integer arithmetic
(tflm_reference.py): shapes, scales (multipliers above one: left shifts), zero points, biases and softmax betas the
MNIST model never has, so every branch of the C's shortcuts (em_srdhm's single shift, em_requant without the
impossible saturation, the compiled-out left shift) is checked against the long way round."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from edgemnist.build import compile, emulate, targets
from edgemnist.build.host import HostKernel
from edgemnist.ckernel import layout, quant, writer
from edgemnist.ckernel.model import Dense, Model

sys.path.insert(0, str(Path(__file__).parent))
import tflm_reference as ref  # noqa: E402
from toolchains import requires
from wasm_any import run_wasm

UBSAN = ("-fsanitize=undefined", "-fno-sanitize-recover=all")
#: (target, compute path) of every firmware row: a new core is tested here by its row alone.
FIRMWARE_PATHS = [(t.name, p.key) for t in targets.TARGETS if t.kind == "firmware" for p in t.paths]

SEEDS = range(36)


def f32(x: float) -> float:
    return float(np.float32(x))


#: Layer widths by seed: the MNIST shape's multiples of 16 first, then odd widths (fewer than 16 inputs: no fast
#: dot product at all; a tail of 1 to 15 inputs after whole runs of 16) and deeper stacks.
WIDTHS = [
    (16, 16, 10),
    (48, 32, 10),
    (100, 7, 10),
    (7, 100, 10),
    (1, 1, 10),
    (33, 1, 10),
    (64, 48, 32, 10),
    (100, 7, 1, 10),
    (17, 10),
    (5, 3, 9, 31, 2, 10),
    (200, 100, 50, 25, 12, 6, 3, 10),
    (16, 16, 16, 16, 16, 16, 16, 16, 10),
]


#: The low-bit cases: (seed, hidden weight bits) over every width (with left and right shifts both).
LOW_BIT = [(seed, bits) for bits in (4, 2) for seed in range(len(WIDTHS))]


def random_model(seed: int, bits: int = 8) -> Model:
    """A random model; with ``bits`` 4 or 2 its hidden layers' weights span that codec's whole range."""
    rng = np.random.default_rng(seed)
    codec = layout.CODECS_BY_BITS[bits]
    widths = WIDTHS[seed % len(WIDTHS)]
    # Effective per-channel multipliers s_in * s_w / s_out from ~1e-4 to ~4 (some shift left) on odd seeds,
    # below one (no left shift anywhere) on even seeds.
    top = 0.6 if seed % 2 else -0.05
    hidden = [f32(10 ** rng.uniform(-2.5, 0)) for _ in widths[1:-1]]
    scales = [f32(1 / 255), *hidden, f32(10 ** rng.uniform(-2, 0.3))]
    layers = []
    for i in range(len(widths) - 1):
        n, rows, last = widths[i], widths[i + 1], i == len(widths) - 2
        layers.append(
            Dense(
                weights=rng.integers(-127, 128, (rows, n), dtype=np.int8)
                if last
                else rng.integers(max(codec.lo, -127), codec.hi + 1, (rows, n), dtype=np.int8),
                bias=rng.integers(-(1 << 18), 1 << 18, rows).astype(np.int32),
                weight_scales=tuple(f32(scales[i + 1] / scales[i] * 10 ** rng.uniform(-4, top)) for _ in range(rows)),
                input_scale=scales[i],
                input_zero_point=-128,
                output_scale=scales[i + 1],
                output_zero_point=int(rng.integers(-128, 128)) if last else -128,
                relu=not last,
            )
        )
    return Model(
        layers=tuple(layers),
        softmax_beta=f32(rng.choice([1.0, rng.uniform(0.2, 3.0)])),
        softmax_input_scale=scales[-1],
        output_scale=1 / 256,
        output_zero_point=-128,
        source_name=f"random-{seed}-w{bits}.tflite",
        source_sha256=f"{seed:064x}",
        source_bytes=0,
    )


def n_in(model: Model) -> int:
    return model.widths[0]


def reference_scores(model: Model, pixels: np.ndarray) -> np.ndarray:
    params = [quant.per_channel_multipliers(d.input_scale, d.weight_scales, d.output_scale) for d in model.layers]
    weights = [d.weights.tolist() for d in model.layers]
    sm = quant.softmax_params(model.softmax_beta, model.softmax_input_scale)
    out = []
    for p in pixels.tolist():
        x = [v - 128 for v in p]  # the model's int8 input
        for d, w, (m, s) in zip(model.layers, weights, params, strict=True):
            lo = max(-128, d.output_zero_point) if d.relu else -128
            x = ref.dense(x, d.input_zero_point, w, d.bias, m, s, d.output_zero_point, lo, 127)
        out.append(ref.softmax(x, *sm))
    return np.array(out, np.int8)


CASES = [(seed, 8) for seed in SEEDS] + LOW_BIT


@pytest.mark.parametrize("seed,bits", CASES, ids=[f"{s}-w{b}" for s, b in CASES])
def test_random_models_match_the_python_transcription_of_tflm(seed, bits, tmp_path):
    requires("cc")
    model = random_model(seed, bits)
    for name, text in writer.render(model, weight_bits=bits).items():
        (tmp_path / name).write_text(text)
    n_in = model.widths[0]
    rng = np.random.default_rng(1000 + seed)
    pixels = np.concatenate(
        [
            rng.integers(0, 256, (40, n_in)),
            np.zeros((1, n_in)),
            np.full((1, n_in), 255),
            (rng.random((6, n_in)) < 0.2) * 255,
        ]
    ).astype(np.uint8)
    scores, digits = HostKernel(tmp_path / layout.SOURCE_NAME).run(pixels)
    expected = reference_scores(model, pixels)
    assert np.array_equal(scores, expected), f"seed {seed}: {int((scores != expected).sum())} bytes differ"
    assert np.array_equal(digits, expected.argmax(1))
    # The same build under UBSan (any signed overflow, bad shift or out-of-bounds access aborts): the same bytes.
    ubsan = HostKernel(tmp_path / layout.SOURCE_NAME, extra_flags=UBSAN)
    assert ubsan.library != HostKernel(tmp_path / layout.SOURCE_NAME).library
    assert np.array_equal(ubsan.run(pixels)[0], expected)


FIRMWARE_CASES = [(seed, 8) for seed in SEEDS[: len(WIDTHS)]] + LOW_BIT


@pytest.mark.parametrize("target,path", FIRMWARE_PATHS, ids=[f"{t}-{p}" for t, p in FIRMWARE_PATHS])
@pytest.mark.parametrize("seed,bits", FIRMWARE_CASES, ids=[f"{s}-w{b}" for s, b in FIRMWARE_CASES])
def test_random_models_on_every_firmware_path(seed, bits, target, path, tmp_path):
    """The SMLAD assembly and the low-bit unpack-and-SMLAD loops (and every other firmware path) on other widths
    and depths: no run of 16 inputs, 1 and 3 runs, tails of 1 to 15 inputs, 1 to 8 layers."""
    requires(target)
    model = random_model(seed, bits)
    for name, text in writer.render(model, weight_bits=bits).items():
        (tmp_path / name).write_text(text)
    pixels = np.random.default_rng(seed).integers(0, 256, (30, n_in(model))).astype(np.uint8)
    run = emulate.run(target, tmp_path / layout.SOURCE_NAME, pixels, path)
    assert run.path == targets.get(target).path(path).name and np.array_equal(
        run.scores, reference_scores(model, pixels)
    )


@pytest.mark.parametrize("seed,bits", FIRMWARE_CASES, ids=[f"{s}-w{b}" for s, b in FIRMWARE_CASES])
def test_random_models_on_the_wasm_simd_path(seed, bits, tmp_path):
    """The wasm dot products (and the low-bit layers' plain loops on wasm) on other widths and depths."""
    requires("wasm32", "wasmtime")
    model = random_model(seed, bits)
    for name, text in writer.render(model, weight_bits=bits).items():
        (tmp_path / name).write_text(text)
    pixels = np.random.default_rng(seed).integers(0, 256, (30, n_in(model))).astype(np.uint8)
    scores, _, name = run_wasm(compile.build("wasm32", tmp_path / layout.SOURCE_NAME, path="simd").file, pixels)
    assert name == "wasm-simd128" and np.array_equal(scores, reference_scores(model, pixels))


def test_the_random_models_give_graded_scores_not_only_saturated_ones(tmp_path):
    """Softmax outputs strictly between -128 and 127 occur: the exp/reciprocal arithmetic is exercised."""
    graded = 0
    for seed in SEEDS[:8]:
        model = random_model(seed)
        pixels = np.random.default_rng(seed).integers(0, 256, (20, n_in(model))).astype(np.uint8)
        s = reference_scores(model, pixels)
        graded += int(((s > -128) & (s < 127)).sum())
    assert graded > 50


def test_the_low_bit_random_models_span_their_codecs():
    """Every level of each codec occurs in the hidden layers (-8 and -2 included), and the last layer stays int8."""
    for bits in (4, 2):
        codec = layout.CODECS_BY_BITS[bits]
        seen = set()
        for seed, b in LOW_BIT:
            if b == bits:
                model = random_model(seed, bits)
                for d in model.layers[:-1]:
                    seen |= set(np.unique(d.weights).tolist())
                assert int(np.abs(model.layers[-1].weights).max()) > codec.hi
        assert seen == set(range(codec.lo, codec.hi + 1))


def test_the_random_models_reach_the_branches_they_are_for():
    shifts = [
        s
        for seed in SEEDS
        for d in random_model(seed).layers
        for s in quant.per_channel_multipliers(d.input_scale, d.weight_scales, d.output_scale)[1]
    ]
    assert max(shifts) > 0 and min(shifts) < -5  # left shifts and right shifts both occur
    left = sum(
        any(
            s > 0
            for d in random_model(seed).layers
            for s in quant.per_channel_multipliers(d.input_scale, d.weight_scales, d.output_scale)[1]
        )
        for seed in SEEDS
    )
    assert 0 < left < len(SEEDS)  # both the general and the right-shift-only requantization get generated


def extreme_model(bits: int) -> Model:
    """784 inputs into eight rows at their codec's bounds (every weight the lowest level, every weight the
    highest, alternating, one half each, random), then an int8 layer: the widest sums a low-bit layer can hold,
    across more than one run of 64 words of the DSP loop. The bias lifts every sum above zero and the
    multipliers keep the outputs graded, so a wrong sum shows instead of saturating or vanishing under ReLU."""
    codec = layout.CODECS_BY_BITS[bits]
    rng = np.random.default_rng(bits)
    n, lo, hi = 784, codec.lo, codec.hi
    rows = np.stack(
        [
            np.full(n, lo),
            np.full(n, hi),
            np.resize([lo, hi], n),
            np.resize([hi, lo, lo, hi], n),
            np.r_[np.full(n // 2, lo), np.full(n - n // 2, hi)],
            rng.integers(lo, hi + 1, n),
            rng.integers(lo, hi + 1, n),
            np.resize(np.r_[np.full(256, lo), np.full(256, hi)], n),
        ]
    ).astype(np.int8)
    top = n * -lo * 255  # the largest |sum| of a row
    first = Dense(
        weights=rows,
        bias=np.full(8, top + top // 20, np.int32),
        weight_scales=tuple(f32(245 / (2 * top + top // 20) * 0.05 * 255) for _ in range(8)),
        input_scale=f32(1 / 255),
        input_zero_point=-128,
        output_scale=f32(0.05),
        output_zero_point=-128,
        relu=True,
    )
    last = Dense(
        weights=rng.integers(-127, 128, (10, 8), dtype=np.int8),
        bias=rng.integers(-(1 << 12), 1 << 12, 10).astype(np.int32),
        weight_scales=tuple(f32(10 ** rng.uniform(-3.5, -2.5)) for _ in range(10)),
        input_scale=f32(0.05),
        input_zero_point=-128,
        output_scale=f32(0.2),
        output_zero_point=0,
        relu=False,
    )
    return Model(
        layers=(first, last),
        softmax_beta=1.0,
        softmax_input_scale=f32(0.2),
        output_scale=1 / 256,
        output_zero_point=-128,
        source_name=f"extreme-w{bits}.tflite",
        source_sha256=f"{bits:064x}",
        source_bytes=0,
    )


def extreme_pixels() -> np.ndarray:
    rng = np.random.default_rng(7)
    return np.concatenate(
        [np.full((1, 784), 255), np.zeros((1, 784)), np.resize([255, 0], (1, 784)), rng.integers(0, 256, (5, 784))]
    ).astype(np.uint8)


def hidden_outputs(model: Model, pixels: np.ndarray) -> np.ndarray:
    d = model.layers[0]
    m, s = quant.per_channel_multipliers(d.input_scale, d.weight_scales, d.output_scale)
    w = d.weights.tolist()
    return np.array([ref.dense([v - 128 for v in p], -128, w, d.bias, m, s, -128, -128, 127) for p in pixels.tolist()])


@pytest.mark.parametrize("bits", [4, 2])
def test_the_extreme_low_bit_model_is_graded_not_saturated(bits):
    """The check below means something: the hidden outputs of the bound rows spread over the int8 range."""
    h = hidden_outputs(extreme_model(bits), extreme_pixels())
    assert h.min() > -128 and h.max() < 127 and len(np.unique(h)) > 12


@pytest.mark.parametrize("target,path", FIRMWARE_PATHS, ids=[f"{t}-{p}" for t, p in FIRMWARE_PATHS])
@pytest.mark.parametrize("bits", [4, 2])
def test_low_bit_sums_at_their_bounds_on_every_firmware_path(bits, target, path, tmp_path):
    requires(target)
    model = extreme_model(bits)
    for name, text in writer.render(model, weight_bits=bits).items():
        (tmp_path / name).write_text(text)
    pixels = extreme_pixels()
    run = emulate.run(target, tmp_path / layout.SOURCE_NAME, pixels, path)
    assert np.array_equal(run.scores, reference_scores(model, pixels))


@pytest.mark.parametrize("bits", [4, 2])
def test_low_bit_sums_at_their_bounds_on_the_host_and_wasm(bits, tmp_path):
    requires("cc", "wasm32", "wasmtime")
    model = extreme_model(bits)
    for name, text in writer.render(model, weight_bits=bits).items():
        (tmp_path / name).write_text(text)
    pixels = extreme_pixels()
    expected = reference_scores(model, pixels)
    assert np.array_equal(HostKernel(tmp_path / layout.SOURCE_NAME, extra_flags=UBSAN).run(pixels)[0], expected)
    scores, _, _ = run_wasm(compile.build("wasm32", tmp_path / layout.SOURCE_NAME, path="simd").file, pixels)
    assert np.array_equal(scores, expected)


@pytest.mark.parametrize("bits", [8, 4, 2])
def test_only_the_dot_products_a_model_uses_are_compiled_in(bits, tmp_path):
    """An 8-bit model's DSP firmware holds no low-bit loop; a 4-bit one only the 4-bit loop (and so on): the
    generator sets EM_USES_W4 / EM_USES_W2 from the layers, and the kernel object's symbols show what was built."""
    import subprocess

    requires("cortex-m4")
    for name, text in writer.render(random_model(6, bits), weight_bits=bits).items():
        (tmp_path / name).write_text(text)
    source = (tmp_path / layout.SOURCE_NAME).read_text()
    assert f"#define EM_USES_W4 {int(bits == 4)}" in source and f"#define EM_USES_W2 {int(bits == 2)}" in source
    build = compile.build("cortex-m4", tmp_path / layout.SOURCE_NAME, path="dsp")
    nm = targets.get("cortex-m4").nm_tool.command
    symbols = set(
        subprocess.run([nm, str(build.kernel_object)], capture_output=True, text=True, check=True).stdout.split()
    )
    low = {b: f"edgemnist__dot4_dsp_w{b}" in symbols for b in (4, 2)}
    assert "edgemnist__dot4_dsp" in symbols and low == {4: bits == 4, 2: bits == 2}
