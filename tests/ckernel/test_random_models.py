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
from edgemnist.ckernel import quant, render
from edgemnist.ckernel.model import Dense, Model

sys.path.insert(0, str(Path(__file__).parent))
import tflm_reference as ref  # noqa: E402
from toolchains import requires
from wasm_any import run_wasm

UBSAN = ("-fsanitize=undefined", "-fno-sanitize-recover=all")
#: (target, compute path) of every firmware row: a new core is tested here by its row alone.
FIRMWARE_PATHS = [(t.name, p.key) for t in targets.TARGETS if t.kind == "firmware" for p in t.paths]

SEEDS = range(24)


def f32(x: float) -> float:
    return float(np.float32(x))


def random_model(seed: int) -> Model:
    rng = np.random.default_rng(seed)
    n_in = int(rng.choice([16, 48]))
    hidden = int(rng.choice([16, 32]))
    in_scale = f32(1 / 255)
    h_scale = f32(10 ** rng.uniform(-2.5, 0))
    # Effective per-channel multipliers in_scale * w / h_scale from ~1e-4 to ~4 (some shift left) on odd seeds,
    # below one (no left shift anywhere) on even seeds.
    top = 0.6 if seed % 2 else -0.05
    w1_scales = tuple(f32(h_scale / in_scale * 10 ** rng.uniform(-4, top)) for _ in range(hidden))
    logit_scale = f32(10 ** rng.uniform(-2, 0.3))
    w2_scales = tuple(f32(logit_scale / h_scale * 10 ** rng.uniform(-3, top)) for _ in range(10))
    fc1 = Dense(
        weights=rng.integers(-127, 128, (hidden, n_in), dtype=np.int8),
        bias=rng.integers(-(1 << 18), 1 << 18, hidden).astype(np.int32),
        weight_scales=w1_scales,
        input_scale=in_scale,
        input_zero_point=-128,
        output_scale=h_scale,
        output_zero_point=-128,
        relu=True,
    )
    fc2 = Dense(
        weights=rng.integers(-127, 128, (10, hidden), dtype=np.int8),
        bias=rng.integers(-(1 << 16), 1 << 16, 10).astype(np.int32),
        weight_scales=w2_scales,
        input_scale=h_scale,
        input_zero_point=-128,
        output_scale=logit_scale,
        output_zero_point=int(rng.integers(-128, 128)),
        relu=False,
    )
    return Model(
        fc1=fc1,
        fc2=fc2,
        softmax_beta=f32(rng.choice([1.0, rng.uniform(0.2, 3.0)])),
        softmax_input_scale=logit_scale,
        output_scale=1 / 256,
        output_zero_point=-128,
        source_name=f"random-{seed}.tflite",
        source_sha256=f"{seed:064x}",
        source_bytes=0,
    )


def reference_scores(model: Model, pixels: np.ndarray) -> np.ndarray:
    m1, s1 = quant.per_channel_multipliers(model.fc1.input_scale, model.fc1.weight_scales, model.fc1.output_scale)
    m2, s2 = quant.per_channel_multipliers(model.fc2.input_scale, model.fc2.weight_scales, model.fc2.output_scale)
    sm = quant.softmax_params(model.softmax_beta, model.softmax_input_scale)
    w1, w2 = model.fc1.weights.tolist(), model.fc2.weights.tolist()
    out = []
    for p in pixels.tolist():
        x = [v - 128 for v in p]  # the model's int8 input
        h = ref.dense(x, -128, w1, model.fc1.bias, m1, s1, -128, -128, 127)
        logits = ref.dense(h, -128, w2, model.fc2.bias, m2, s2, model.fc2.output_zero_point, -128, 127)
        out.append(ref.softmax(logits, *sm))
    return np.array(out, np.int8)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_models_match_the_python_transcription_of_tflm(seed, tmp_path):
    requires("cc")
    model = random_model(seed)
    for name, text in render.render(model).items():
        (tmp_path / name).write_text(text)
    n_in = model.fc1.weights.shape[1]
    rng = np.random.default_rng(1000 + seed)
    pixels = np.concatenate(
        [
            rng.integers(0, 256, (40, n_in)),
            np.zeros((1, n_in)),
            np.full((1, n_in), 255),
            (rng.random((6, n_in)) < 0.2) * 255,
        ]
    ).astype(np.uint8)
    scores, digits = HostKernel(tmp_path / render.SOURCE_NAME).run(pixels)
    expected = reference_scores(model, pixels)
    assert np.array_equal(scores, expected), f"seed {seed}: {int((scores != expected).sum())} bytes differ"
    assert np.array_equal(digits, expected.argmax(1))
    # The same build under UBSan (any signed overflow, bad shift or out-of-bounds access aborts): the same bytes.
    ubsan = HostKernel(tmp_path / render.SOURCE_NAME, extra_flags=UBSAN)
    assert ubsan.library != HostKernel(tmp_path / render.SOURCE_NAME).library
    assert np.array_equal(ubsan.run(pixels)[0], expected)


@pytest.mark.parametrize("target,path", FIRMWARE_PATHS, ids=[f"{t}-{p}" for t, p in FIRMWARE_PATHS])
@pytest.mark.parametrize("seed", SEEDS[:6])
def test_random_models_on_every_firmware_path(seed, target, path, tmp_path):
    """The SMLAD assembly (and every other firmware path) on other layer widths (1 and 3 words of 16 inputs...)."""
    requires(target)
    model = random_model(seed)
    for name, text in render.render(model).items():
        (tmp_path / name).write_text(text)
    pixels = np.random.default_rng(seed).integers(0, 256, (30, model.fc1.weights.shape[1])).astype(np.uint8)
    run = emulate.run(target, tmp_path / render.SOURCE_NAME, pixels, path)
    assert run.path == targets.get(target).path(path).name and np.array_equal(
        run.scores, reference_scores(model, pixels)
    )


@pytest.mark.parametrize("seed", SEEDS[:6])
def test_random_models_on_the_wasm_simd_path(seed, tmp_path):
    """The wasm dot products on other layer widths."""
    requires("wasm32", "wasmtime")
    model = random_model(seed)
    for name, text in render.render(model).items():
        (tmp_path / name).write_text(text)
    pixels = np.random.default_rng(seed).integers(0, 256, (30, model.fc1.weights.shape[1])).astype(np.uint8)
    scores, _, name = run_wasm(compile.build("wasm32", tmp_path / render.SOURCE_NAME, path="simd").file, pixels)
    assert name == "wasm-simd128" and np.array_equal(scores, reference_scores(model, pixels))


def test_the_random_models_give_graded_scores_not_only_saturated_ones(tmp_path):
    """Softmax outputs strictly between -128 and 127 occur: the exp/reciprocal arithmetic is exercised."""
    graded = 0
    for seed in SEEDS[:8]:
        model = random_model(seed)
        pixels = np.random.default_rng(seed).integers(0, 256, (20, model.fc1.weights.shape[1])).astype(np.uint8)
        s = reference_scores(model, pixels)
        graded += int(((s > -128) & (s < 127)).sum())
    assert graded > 50


def test_the_random_models_reach_the_branches_they_are_for():
    shifts = [
        s
        for seed in SEEDS
        for d in (random_model(seed).fc1, random_model(seed).fc2)
        for s in quant.per_channel_multipliers(d.input_scale, d.weight_scales, d.output_scale)[1]
    ]
    assert max(shifts) > 0 and min(shifts) < -5  # left shifts and right shifts both occur
    left = sum(
        any(
            s > 0
            for d in (random_model(seed).fc1, random_model(seed).fc2)
            for s in quant.per_channel_multipliers(d.input_scale, d.weight_scales, d.output_scale)[1]
        )
        for seed in SEEDS
    )
    assert 0 < left < len(SEEDS)  # both the general and the right-shift-only requantization get generated
