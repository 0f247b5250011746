"""edgemnist_preprocess.c/.h against edgemnist.images.normalize_digit: the same 784 bytes on the drawn-digit and photo
styles of tests/images (read from their files), on MNIST digits as camera frames and as they are, and on arbitrary
arrays (hypothesis: random sizes and contents, degenerate ones); every documented return code; a warning-free build
with the host compiler and arm-none-eabi-gcc; edgemnist_predict_gray against normalize + edgemnist_predict."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from toolchains import requires

from edgemnist.build import preprocess
from edgemnist.build.host import HostKernel
from edgemnist.build.targets import WARNINGS
from edgemnist.ckernel import layout, writer
from edgemnist.ckernel.model import read_model
from edgemnist.errors import ArtifactError, InputError
from edgemnist.images import read_gray
from edgemnist.normalize import normalize_digit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "images"))
import digit_styles  # noqa: E402  (tests/images: the generated drawn-digit and photo styles)

CSRC = Path(layout.__file__).with_name("csrc")  # edgemnist/ckernel/csrc/
MAX_W, MAX_H = preprocess.max_size()
BLANK = preprocess.RETURN_CODES["EDGEMNIST_PP_BLANK"]


@pytest.fixture(scope="module")
def pp():
    requires("cc")
    return preprocess.HostPreprocess()


def python(gray: np.ndarray, invert=None) -> tuple[int, np.ndarray | None]:
    try:
        return 0, normalize_digit(gray, invert=invert)
    except InputError:
        return BLANK, None


def assert_same(pp, gray: np.ndarray, invert=None) -> int:
    want_rc, want = python(gray, invert)
    rc, got = pp.normalize(gray, invert)
    assert rc == want_rc, f"{gray.shape} invert={invert}: C returned {rc}, Python {want_rc}"
    if want is not None:
        diff = np.count_nonzero(got != want)
        assert diff == 0, f"{gray.shape} invert={invert}: {diff} of 784 bytes differ"
    return rc


def test_drawn_and_photo_digits_from_files_give_pythons_bytes(pp, tmp_path):
    sets = digit_styles.make_set(tmp_path, per_digit=2)
    seen = {0: 0, BLANK: 0}
    for style, (paths, _) in sets.items():
        for path in paths:
            gray = np.clip(np.rint(read_gray(path)), 0, 255).astype(np.uint8)  # what a camera's 8-bit frame holds
            seen[assert_same(pp, gray)] += 1
            assert gray.shape == (240, 320), style  # digit_styles draws 320x240 canvases, the size firmware sees
    assert seen[0] >= 0.95 * sum(seen.values()), seen


def test_mnist_digits_as_camera_frames_and_as_they_are(pp, mnist):
    frames = preprocess.camera_frames(mnist.test_images[:150], seed=3)
    for gray in frames:
        assert assert_same(pp, gray) == 0
    for d in mnist.test_images[150:200]:  # MNIST's own digits pass through unchanged, also shifted and inverted
        assert_same(pp, np.roll(d, (5, -4), axis=(0, 1)))
        assert_same(pp, 255 - d)
        assert_same(pp, d, invert=False)
        rc, got = pp.normalize(d)
        assert rc == 0 and np.array_equal(got, d)


def test_camera_frames_at_the_maximum_size(pp, mnist):
    rng = np.random.default_rng(5)
    for i in range(4):
        gray = preprocess.camera_frame(mnist.test_images[i], MAX_W, MAX_H, 10, rng, dark_ink=bool(i % 2))
        assert assert_same(pp, gray) == 0


@st.composite
def images(draw):
    """A uint8 (h, w) array: noise, or one or two rectangles of ink on a flat or sloped background with noise,
    in either polarity; sizes from 1x1 to 90x90, often thin (1 or 2 rows or columns)."""
    h = draw(st.one_of(st.integers(1, 3), st.integers(1, 90)))
    w = draw(st.one_of(st.integers(1, 3), st.integers(1, 90)))
    kind = draw(st.sampled_from(["noise", "shapes", "shapes", "shapes", "constant"]))
    if kind == "noise":
        return draw(arrays(np.uint8, (h, w)))
    if kind == "constant":
        return np.full((h, w), draw(st.integers(0, 255)), np.uint8)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    yy, xx = np.mgrid[0:h, 0:w]
    a = draw(st.floats(0, 255)) + draw(st.floats(-1, 1)) * xx + draw(st.floats(-1, 1)) * yy
    for _ in range(draw(st.integers(1, 2))):
        r0, c0 = int(rng.integers(0, h)), int(rng.integers(0, w))
        a[r0 : r0 + int(rng.integers(1, h + 1)), c0 : c0 + int(rng.integers(1, w + 1))] += draw(
            st.floats(30, 255)
        ) * draw(st.sampled_from([-1, 1]))
    a = a + rng.normal(0, draw(st.floats(0, 6)), (h, w))
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(gray=images(), invert=st.sampled_from([None, None, True, False]))
def test_arbitrary_arrays_give_pythons_bytes_or_both_find_no_digit(pp, gray, invert):
    assert_same(pp, gray, invert)


def test_degenerate_arrays(pp):
    cases = [
        np.zeros((1, 1), np.uint8),
        np.full((1, 1), 255, np.uint8),
        np.array([[0, 255]], np.uint8),
        np.array([[0], [255], [0]], np.uint8),
        np.eye(2, dtype=np.uint8) * 255,
        np.full((MAX_H, MAX_W), 7, np.uint8),
        np.pad(np.full((1, 1), 255, np.uint8), ((MAX_H - 1, 0), (MAX_W - 1, 0))),  # one lit pixel in a corner
        np.pad(np.full((3, 30), 255, np.uint8), 40),  # a dash: wider than high
        np.tile(np.array([0, 255], np.uint8), (28, 14)),  # 28x28 stripes
        np.pad(np.full((1, MAX_W - 2), 200, np.uint8), ((10, 10), (1, 1))),  # a line as long as the maximum
    ]
    rng = np.random.default_rng(0)
    cases += [rng.integers(0, 256, (h, w)).astype(np.uint8) for h, w in [(1, MAX_W), (MAX_H, 1), (28, 28), (2, 3)]]
    for gray in cases:
        for invert in (None, True, False):
            assert_same(pp, gray, invert)


def test_every_return_code(pp):
    header = (CSRC / preprocess.HEADER_NAME).read_text()
    documented = {m[0]: int(m[1]) for m in re.findall(r"#define (EDGEMNIST_PP_\w+) \(?(-?\d+)\)?", header)}
    assert {k: documented[k] for k in preprocess.RETURN_CODES} == preprocess.RETURN_CODES
    assert documented["EDGEMNIST_PP_MAX_WIDTH"] == MAX_W == 320 and documented["EDGEMNIST_PP_MAX_HEIGHT"] == MAX_H
    codes = preprocess.RETURN_CODES
    digit = np.pad(np.full((10, 4), 255, np.uint8), 8)
    out = np.full(784, 77, np.uint8)
    buf, dst = digit.ctypes.data, out.ctypes.data
    h, w = digit.shape
    assert pp.normalize_raw(w, h, buf, -1, dst) == codes["EDGEMNIST_PP_OK"]
    bad = [(w, h, None, -1, dst), (w, h, buf, -1, None), (0, h, buf, -1, dst), (w, 0, buf, -1, dst)]
    bad += [(-3, h, buf, -1, dst), (w, -1, buf, -1, dst), (w, h, buf, 2, dst), (w, h, buf, -2, dst)]
    for args in bad:
        assert pp.normalize_raw(*args) == codes["EDGEMNIST_PP_BAD_ARGUMENT"], args
    big = np.zeros((MAX_H + 1, MAX_W + 1), np.uint8)
    for ww, hh in ((MAX_W + 1, 1), (1, MAX_H + 1), (MAX_W + 1, MAX_H + 1)):
        assert pp.normalize_raw(ww, hh, big.ctypes.data, -1, dst) == codes["EDGEMNIST_PP_TOO_LARGE"]
    out[:] = 77
    for blank in (np.zeros((30, 40), np.uint8), np.full((5, 5), 200, np.uint8), np.full((MAX_H, MAX_W), 90, np.uint8)):
        assert pp.normalize_raw(blank.shape[1], blank.shape[0], blank.ctypes.data, -1, dst) == BLANK
    assert (out == 77).all()  # an error leaves out as it was
    # A light digit on black with inversion forced: Python's "polarity ruled out" is no digit in C too.
    assert pp.normalize(digit, invert=True)[0] == BLANK
    with pytest.raises(InputError, match="inversion was forced"):
        normalize_digit(digit, invert=True)


def _compile(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize(
    "cc, flags",
    [
        ("cc", ("-O2",)),
        ("cc", ("-O3", "-DEDGEMNIST_PP_MAX_WIDTH=640", "-DEDGEMNIST_PP_MAX_HEIGHT=480")),
        ("clang", ("-O2",)),
        ("arm-none-eabi-gcc", ("-mcpu=cortex-m4", "-mthumb", "-O2", "-ffreestanding")),
        ("arm-none-eabi-gcc", ("-mcpu=cortex-m4", "-mthumb", "-Os", "-ffreestanding")),
    ],
)
def test_warning_free_on_host_and_cortex_m4_and_calls_no_library(cc, flags, tmp_path):
    nm = "arm-none-eabi-nm" if cc.startswith("arm") else "nm"
    requires(cc, nm)
    for name, text in preprocess.texts().items():
        (tmp_path / name).write_text(text)
    obj = tmp_path / "pp.o"
    cmd = [cc, *WARNINGS, *flags, "-DEDGEMNIST_PREPROCESS_ONLY", "-c", preprocess.SOURCE_NAME, "-o", str(obj)]
    proc = _compile(cmd, tmp_path)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
    calls = set(_compile([nm, "-u", str(obj)], tmp_path).stdout.split()) - {"U"}
    assert all(c.startswith("__aeabi_") for c in calls), calls  # the compiler's soft-float runtime at most
    code = re.sub(r"/\*.*?\*/", "", (tmp_path / preprocess.SOURCE_NAME).read_text(), flags=re.S)
    assert re.findall(r"#include\s*(\S+)", code) == ['"edgemnist_preprocess.h"', "<float.h>", '"edgemnist_model.h"']
    for banned in ("malloc", "memcpy", "memset", "printf", "math.h"):
        assert not re.search(banned, code), banned


@requires("cc")
def test_refuses_fast_math_and_edited_files(tmp_path):
    for name, text in preprocess.texts().items():
        (tmp_path / name).write_text(text)
    proc = _compile(
        ["cc", "-std=c99", "-ffast-math", "-DEDGEMNIST_PREPROCESS_ONLY", "-c", preprocess.SOURCE_NAME], tmp_path
    )
    assert proc.returncode != 0 and "without -ffast-math" in proc.stderr
    c, h = tmp_path / preprocess.SOURCE_NAME, tmp_path / preprocess.HEADER_NAME
    assert set(preprocess.verified_texts(c, h)) == set(preprocess.FILES)
    c.write_text(c.read_text().replace("1.4826", "1.5"))
    with pytest.raises(ArtifactError, match="not edgemnist's edgemnist_preprocess.c"):
        preprocess.HostPreprocess(c, h)


@pytest.fixture(scope="module")
def model_pair(export_artifact, tmp_path_factory):
    tflite = export_artifact("tflite", "int8").path
    out = tmp_path_factory.mktemp("pp-model")
    for name, text in writer.render(read_model(tflite), source=tflite).items():
        (out / name).write_text(text)
    return out / layout.SOURCE_NAME


@requires("cc")
def test_predict_gray_equals_normalize_then_predict(model_pair, mnist, tmp_path):
    for name, text in preprocess.texts().items():
        (tmp_path / name).write_text(text)
    pp = preprocess.HostPreprocess(
        tmp_path / preprocess.SOURCE_NAME, tmp_path / preprocess.HEADER_NAME, model_c=model_pair
    )
    kernel = HostKernel(model_pair)
    frames = preprocess.camera_frames(mnist.test_images[:100], seed=11)
    right = 0
    for i, gray in enumerate(frames):
        want = normalize_digit(gray)
        scores, digits = kernel.run(want.reshape(1, -1))
        digit, got = pp.predict_gray(gray)
        assert digit == digits[0] and np.array_equal(got, scores[0]), i
        right += digit == mnist.test_labels[i // 2]
    assert right >= 0.9 * len(frames)
    scores = np.full(10, 5, np.int8)
    blank = np.zeros((20, 20), np.uint8)
    assert pp._predict_gray(20, 20, blank.ctypes.data, scores.ctypes.data) == BLANK and (scores == 5).all()
    assert pp._predict_gray(20, 20, blank.ctypes.data, None) == preprocess.RETURN_CODES["EDGEMNIST_PP_BAD_ARGUMENT"]
    assert pp._predict_gray(MAX_W + 1, 20, blank.ctypes.data, scores.ctypes.data) == -2


@requires("cortex-m4", "cc")
def test_cortex_m4_firmware_gives_the_host_bytes(model_pair, mnist):
    from edgemnist.bench.preprocess_m4 import preprocess_report, render_markdown

    gray = preprocess.camera_frame(mnist.test_images[0], 160, 120, 3, np.random.default_rng(0))
    report = preprocess_report(model_pair, gray, image="test digit 0")
    f = report["figures"]
    assert report["differing_bytes_vs_host"] == 0 and report["return_code"] == 0
    assert report["digit"] == mnist.test_labels[0]
    assert 0 < f["normalize_instructions"] < f["predict_gray_instructions"]
    assert 0 < f["normalize_stack_bytes"] <= f["predict_gray_stack_bytes"] < 4096
    frame = preprocess_frame_bound()  # EDGEMNIST_PP_STATIC_BYTES, as the header states it, is what the build holds
    assert f["bss_bytes"] == 8 * frame + (frame + 7) // 8 + 32 * (MAX_W + MAX_H) + 8 * MAX_W + 8 * 420 + 784
    assert f["code_bytes"] > 1000
    md = render_markdown(report)
    assert "160x120" in md and f"{f['normalize_instructions']:,}" in md


def preprocess_frame_bound() -> int:
    """The border frame of the largest image, as the header computes it."""
    k = max(1, min(MAX_W, MAX_H) // 20)
    return MAX_W * MAX_H - (MAX_W - 2 * k) * (MAX_H - 2 * k)
