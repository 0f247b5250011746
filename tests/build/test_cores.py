"""The generated C on every microcontroller core of the target table (edgemnist/build/targets.py), each under its
emulator at its board's real memory: it builds warning-free (-Wall -Wextra -pedantic -Werror), runs 100+ MNIST test
images with 0 output bytes differing from the host build, counts instructions at the rate the row states (checked by
the firmware's calibration loop), and a firmware too large for the board is refused saying by how much.

The model is a 784 -> 16 -> 10 int8 MLP with seeded random weights, rendered by the generator: small enough for
every board (the Cortex-M0's 256 KB flash and 16 KB RAM included). The trained model on every core is
tests/ckernel/test_ckernel.py's."""

from __future__ import annotations

import numpy as np
import pytest
from toolchains import requires

from edgemnist.build import compile, emulate, targets
from edgemnist.build.host import HostKernel
from edgemnist.ckernel import layout, writer
from edgemnist.ckernel.model import Dense, Model
from edgemnist.errors import DoesNotFitError

IMAGES = 120
#: (target, compute path) of every firmware row.
FIRMWARE_PATHS = [(t.name, p.key) for t in targets.TARGETS if t.kind == "firmware" for p in t.paths]


def small_model(hidden: int = 16, seed: int = 0) -> Model:
    """A 784 -> hidden -> 10 int8 MLP with random weights and scales in the trained model's ranges."""
    rng = np.random.default_rng(seed)
    in_scale, h_scale, logit_scale = float(np.float32(1 / 255)), 0.05, 0.1
    fc1 = Dense(
        weights=rng.integers(-127, 128, (hidden, 784), dtype=np.int8),
        bias=rng.integers(-4000, 4000, hidden).astype(np.int32),
        weight_scales=tuple(float(np.float32(s)) for s in rng.uniform(2e-4, 2e-3, hidden)),
        input_scale=in_scale,
        input_zero_point=-128,
        output_scale=h_scale,
        output_zero_point=-128,
        relu=True,
    )
    fc2 = Dense(
        weights=rng.integers(-127, 128, (10, hidden), dtype=np.int8),
        bias=rng.integers(-2000, 2000, 10).astype(np.int32),
        weight_scales=tuple(float(np.float32(s)) for s in rng.uniform(1e-3, 5e-3, 10)),
        input_scale=h_scale,
        input_zero_point=-128,
        output_scale=logit_scale,
        output_zero_point=3,
        relu=False,
    )
    return Model(
        layers=(fc1, fc2),
        softmax_beta=1.0,
        softmax_input_scale=logit_scale,
        output_scale=1 / 256,
        output_zero_point=-128,
        source_name=f"small-{hidden}.tflite",
        source_sha256=f"{seed:064x}",
        source_bytes=0,
    )


@pytest.fixture(scope="module")
def small_pair(tmp_path_factory):
    out = tmp_path_factory.mktemp("cores")
    for name, text in writer.render(small_model()).items():
        (out / name).write_text(text)
    return out / layout.SOURCE_NAME


@pytest.fixture(scope="module")
def pixels(mnist):
    return mnist.test_images.reshape(-1, 784)[:IMAGES]


@pytest.fixture(scope="module")
def host_scores(small_pair, pixels):
    requires("cc")
    return HostKernel(small_pair).run(pixels)


@pytest.mark.parametrize("target,path", FIRMWARE_PATHS, ids=[f"{t}-{p}" for t, p in FIRMWARE_PATHS])
def test_every_core_builds_warning_free_and_equals_the_host_build(small_pair, pixels, host_scores, target, path):
    requires(target)
    row = targets.get(target)
    built = compile.build(row, small_pair, path=path)
    compiles = [c for c in built.commands if "-c" in c]
    assert compiles and all({"-Wall", "-Wextra", "-pedantic", "-Werror", "-std=c99"} <= set(c) for c in compiles)
    run = emulate.run(row, small_pair, pixels, path)
    assert run.target == target and run.path == row.path(path).name and run.images == IMAGES
    assert int((run.scores != host_scores[0]).sum()) == 0
    assert np.array_equal(run.digits, host_scores[1])
    # The firmware's 2-instruction calibration loop ran at the rate the row states (e.g. 62.5 on the nRF51's
    # 16 MHz TIMER0, 1 on RISC-V minstret): the instruction counts are the row's counter's.
    assert run.instructions_per_tick_measured == pytest.approx(emulate.instructions_per_tick(row), rel=1e-3)
    macs = 784 * 16 + 16 * 10
    assert macs / 4 < run.instructions_min <= run.instructions_per_inference <= run.instructions_max < 40 * macs
    s = run.sizes
    assert s["flash_bytes"] == s["model_constants_bytes"] + s["code_bytes"] <= row.flash_bytes
    assert s["ram_bytes"] == s["data_bytes"] + s["bss_bytes"] + run.stack_peak_bytes <= row.ram_bytes
    assert s["model_constants_bytes"] >= 784 * 16 + 16 * 12 and s["kernel_bss_bytes"] == 16
    assert s["kernel_code_bytes"] > 0 and s["harness_code_bytes"] > 0 and 0 < run.kernel_stack_bytes < 1024


def test_helium_runs_at_most_0_6_x_the_dsp_instructions_on_the_same_core(small_pair, pixels, host_scores):
    requires("cortex-m55")
    mve = emulate.run("cortex-m55", small_pair, pixels, "mve")
    dsp = emulate.run("cortex-m55", small_pair, pixels, "dsp")
    assert (mve.path, dsp.path) == ("cortex-m-mve", "cortex-m-dsp")
    assert np.array_equal(mve.scores, dsp.scores) and np.array_equal(mve.scores, host_scores[0])
    assert mve.instructions_per_inference <= 0.6 * dsp.instructions_per_inference


def test_a_firmware_too_large_for_the_board_is_refused_saying_by_how_much(tmp_path):
    """784 -> 336 -> 10 is ~264 KB of constants: more than the micro:bit's 256 KB of flash."""
    requires("cortex-m0")
    for name, text in writer.render(small_model(hidden=336)).items():
        (tmp_path / name).write_text(text)
    row = targets.get("cortex-m0")
    constants = 336 * 784 + 336 * 9 + 12 * 336
    with pytest.raises(DoesNotFitError, match=r"does not fit the board's memory \(flash by [\d,]+ B\)") as err:
        emulate.run(row, tmp_path / layout.SOURCE_NAME, np.zeros((1, 784), np.uint8))
    assert set(err.value.overflow) == {"flash"} and 0 < err.value.overflow["flash"] < constants + 4096 - row.flash_bytes
