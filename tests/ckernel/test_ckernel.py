"""edgemnist.ckernel end to end: the generated C against the real TFLite Micro interpreter on all 10,000 MNIST test
images (host build), LiteRT agreement recorded, the WebAssembly paths (wasmtime) and every firmware target's paths
under its emulator (the Cortex-M4 under QEMU mps2-an386) against the host build, and refusal of models the kernel
does not implement.

Images on the emulated Cortex-M4: EDGEMNIST_M4_IMAGES (default 1000; CI or a release check may set 10000)."""

from __future__ import annotations

import os
import re
import subprocess

import numpy as np
import pytest
from toolchains import requires

from edgemnist.build import compile, emulate, targets, verify
from edgemnist.build.host import HostKernel
from edgemnist.ckernel import layout, reader, writer
from edgemnist.ckernel.model import read_model
from edgemnist.errors import ArtifactError, DoesNotFitError

pytestmark = pytest.mark.slow

M4_IMAGES = int(os.environ.get("EDGEMNIST_M4_IMAGES", "1000"))
#: (target, compute path) of every firmware row: a new core is tested here by its row alone.
FIRMWARE_PATHS = [(t.name, p.key) for t in targets.TARGETS if t.kind == "firmware" for p in t.paths]


@pytest.fixture(scope="module")
def int8_tflite(export_artifact):
    return export_artifact("tflite", "int8").path


@pytest.fixture(scope="module")
def pair(int8_tflite, tmp_path_factory):
    out = tmp_path_factory.mktemp("ckernel")
    files = writer.render(read_model(int8_tflite), source=int8_tflite)
    for name, text in files.items():
        (out / name).write_text(text)
    return out / layout.SOURCE_NAME


@pytest.fixture(scope="module")
def pixels(mnist):
    return mnist.test_images.reshape(-1, 784)


@pytest.fixture(scope="module")
def host_scores(pair, pixels):
    requires("cc")
    return HostKernel(pair).run(pixels)


def test_pair_is_plain_c99_and_calls_nothing(pair, int8_tflite):
    requires("cc", "nm")
    header = pair.with_name(layout.HEADER_NAME).read_text()
    source = pair.read_text()
    assert re.findall(r"#include\s*(\S+)", header) == ["<stdint.h>"]
    assert re.findall(r"#include\s*(\S+)", source) == ['"edgemnist_model.h"', "<wasm_simd128.h>"]
    assert "__wasm_simd128__" in source.split("<wasm_simd128.h>")[0][-300:]  # only under the wasm SIMD path
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    for banned in ("malloc", "memcpy", "memset", "printf", "float", "double"):
        assert not re.search(rf"\b{banned}\b", code), banned
    model = read_model(int8_tflite)
    assert f'EDGEMNIST_SOURCE_SHA256 "{model.source_sha256}"' in header
    assert f'EDGEMNIST_SOURCE_NAME "{int8_tflite.name}"' in header
    assert "EDGEMNIST_ACTIVATION_BYTES 512" in header and "edgemnist_predict(" in header
    assert "#define EM_LEFT_SHIFTS 0" in source  # this model's multipliers are all below one
    assert re.search(r"static const int8_t em_w1\[401408\]", source)  # weights are const
    for opt in ("-O0", "-O2", "-Os", "-O3"):
        obj = pair.with_name(f"host{opt}.o")
        subprocess.run(["cc", *targets.WARNINGS, opt, "-c", str(pair), "-o", str(obj)], check=True)
        undefined = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True, check=True).stdout
        assert undefined.strip() == "", f"{opt}: the C calls {undefined.split()}"


def test_host_build_is_byte_identical_to_tflm_on_all_test_images(pair, int8_tflite, mnist):
    requires("cc")
    requires("tflite_micro")
    r = verify.verify_host(pair, int8_tflite, mnist.test_images, mnist.test_labels)
    assert r["path"] == "portable" and r["n"] == 10000
    assert r["tflm"]["n"] == 10000 and r["tflm"]["differing_bytes"] == 0 and r["tflm"]["differing_images"] == 0
    assert r["accuracy"] == r["tflm_accuracy"] > 0.97
    assert r["digits_are_argmax"]
    # LiteRT (XNNPACK) rounds differently in a few bytes; recorded, and top-1 must agree almost everywhere.
    lit = r["litert"]
    print(
        f"LiteRT vs C: {lit['differing_bytes']} bytes differ over {lit['differing_images']} images, "
        f"top-1 agreement {lit['top1_agreement']:.4f}"
    )
    assert lit["top1_agreement"] >= 0.995 and lit["differing_images"] <= 100


def test_two_kernels_of_one_library_in_threads_do_not_mix_their_buffers(pair, pixels, host_scores):
    """dlopen gives both instances the same static activation buffer; calls must still be serialized."""
    import threading

    kernels = [HostKernel(pair), HostKernel(pair)]
    assert kernels[0].library == kernels[1].library
    results, errors = {}, []

    def work(k, i):
        try:
            for _ in range(3):
                results[i] = k.run(pixels[:2000])[0]
                assert np.array_equal(results[i], host_scores[0][:2000])
        except AssertionError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(kernels[i % 2], i)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4


def test_the_general_requantization_path_gives_the_same_bytes(int8_tflite, pixels, host_scores, tmp_path):
    """The left-shift step of MultiplyByQuantizedMultiplier is compiled out when no channel needs it; forced in,
    it must give the same bytes."""
    requires("cc")
    files = writer.render(read_model(int8_tflite), source=int8_tflite, general_shifts=True)
    assert "#define EM_LEFT_SHIFTS 1" in files[layout.SOURCE_NAME]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    scores, digits = HostKernel(tmp_path / layout.SOURCE_NAME).run(pixels)
    assert np.array_equal(scores, host_scores[0]) and np.array_equal(digits, host_scores[1])


def test_ties_go_to_the_first_digit(pair, host_scores):
    scores, digits = host_scores
    assert np.array_equal(digits, scores.argmax(1))  # numpy's argmax: first maximum
    top = scores.max(1, keepdims=True)
    tied = (scores == top).sum(1) > 1
    assert tied.any()  # the int8 softmax saturates on confident images: ties are real, not hypothetical
    assert all(digits[i] == np.flatnonzero(scores[i] == top[i])[0] for i in np.flatnonzero(tied))


@pytest.mark.parametrize("path", [p.key for p in targets.get("wasm32").paths])
def test_webassembly_paths_equal_the_host_build(pair, pixels, host_scores, path):
    requires("wasm32", "wasmtime")
    from edgemnist.web.runtime import WasmKernel

    kernel = WasmKernel(compile.build("wasm32", pair, path=path).file)
    scores = kernel.run(pixels)
    assert kernel.kernel_path == targets.get("wasm32").path(path).name
    assert int((scores != host_scores[0]).sum()) == 0 and np.array_equal(scores.argmax(1), host_scores[1])


@pytest.mark.parametrize("target,path", FIRMWARE_PATHS, ids=[f"{t}-{p}" for t, p in FIRMWARE_PATHS])
def test_every_firmware_path_under_its_emulator_equals_the_host_build(pair, pixels, host_scores, target, path):
    requires(target)
    n = min(M4_IMAGES, len(pixels))
    row = targets.get(target)
    constants = reader.read_header(pair.with_name(layout.HEADER_NAME).read_text(), "header")["EDGEMNIST_CONST_BYTES"]
    if constants > row.flash_bytes:  # the micro:bit's 256 KB: refused, saying by how much (tests/build/test_cores.py)
        with pytest.raises(DoesNotFitError) as err:
            emulate.run(target, pair, pixels[:1], path)
        assert err.value.overflow["flash"] > constants - row.flash_bytes
        return
    run = emulate.run(target, pair, pixels[:n], path)
    assert run.path == row.path(path).name and run.images == n and run.target == target
    assert int((run.scores != host_scores[0][:n]).sum()) == 0
    assert np.array_equal(run.digits, host_scores[1][:n])
    assert run.instructions_per_tick_measured == emulate.instructions_per_tick(row)
    s = run.sizes
    assert s["model_constants_bytes"] >= 401408 + 5120 + 4 * 522  # int8 weights + int32 biases, all in flash
    assert s["flash_bytes"] == s["model_constants_bytes"] + s["code_bytes"] <= row.flash_bytes
    assert s["ram_bytes"] == s["data_bytes"] + s["bss_bytes"] + run.stack_peak_bytes <= row.ram_bytes
    assert s["kernel_bss_bytes"] == 512 and 0 < run.kernel_stack_bytes < run.stack_peak_bytes < 4096
    print(
        f"{run.path}: {run.instructions_per_inference:,.0f} instructions/inference, flash {s['flash_bytes']} B, "
        f"RAM {s['ram_bytes']} B (stack {run.stack_peak_bytes} B)"
    )


@pytest.mark.parametrize(
    ("fmt", "mode", "says"),
    [
        ("tflite", "float32", "input is float32"),
        ("tflite", "dynamic", "input is float32"),
        ("tflite", "float16", "operators are"),
    ],
)
def test_models_the_kernel_does_not_implement_are_refused(export_artifact, fmt, mode, says):
    path = export_artifact(fmt, mode).path
    with pytest.raises(ArtifactError, match=says) as info:
        read_model(path)
    assert "expected a full-integer int8 .tflite" in str(info.value)


def test_int8_with_float_io_is_refused(export_artifact):
    path = export_artifact("tflite", "int8", io="float").path
    with pytest.raises(ArtifactError, match="QUANTIZE"):
        read_model(path)


def test_an_onnx_model_is_refused(export_artifact):
    path = export_artifact("onnx", "int8").path
    with pytest.raises(ArtifactError, match="not a TFLite flatbuffer.*ONNX"):
        read_model(path)
