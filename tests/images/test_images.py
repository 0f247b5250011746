"""Image files -> MNIST-style digits: real MNIST test digits rendered as PNG/JPEG the way apps produce them."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from toolchains import imported

from edgemnist.errors import InputError, MissingDependencyError
from edgemnist.images import load_digit, load_digits
from edgemnist.normalize import normalize_digit

Image = imported("PIL.Image")

N = 60


def render(
    digit: np.ndarray,
    *,
    dark_on_light: bool,
    size: int = 140,
    canvas=(300, 200),
    at=(20, 30),
    background: int | None = None,
) -> np.ndarray:
    """An MNIST digit enlarged to ``size`` px and drawn at ``at`` on a non-square canvas, like a photo or a
    canvas drawing: dark ink on light paper, or light on dark."""
    big = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR))
    if dark_on_light:
        bg = 235 if background is None else background
        out = np.full(canvas, bg, np.uint8)
        r, c = at
        out[r : r + size, c : c + size] = np.minimum(out[r : r + size, c : c + size], 255 - big)
    else:
        bg = 10 if background is None else background
        out = np.full(canvas, bg, np.uint8)
        r, c = at
        out[r : r + size, c : c + size] = np.maximum(out[r : r + size, c : c + size], big)
    return out


@pytest.fixture(scope="module")
def predictor(export_artifact):
    from edgemnist.predictor import Predictor

    return Predictor.load(export_artifact("tflite", "int8", "int8").path)


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.test_images[:N], mnist.test_labels[:N]


def _centre_of_mass(d: np.ndarray) -> tuple[float, float]:
    w = d.astype(np.float64)
    return (w.sum(1) @ np.arange(28)) / w.sum(), (w.sum(0) @ np.arange(28)) / w.sum()


def test_mnist_digits_pass_through_unchanged(mnist, predictor, tmp_path):
    """A 28x28 MNIST digit is already normalized: re-cropping and re-centring it would only cost accuracy."""
    images = mnist.test_images[:500]
    out = np.stack([normalize_digit(d) for d in images])
    assert out.dtype == np.uint8 and np.array_equal(out, images)
    assert np.array_equal(np.stack([normalize_digit(d / 1.0) for d in images[:20]]), images[:20])  # floats too
    # Written as PNG files (white on black, and black on white) they predict exactly like the arrays.
    paths = []
    for i, d in enumerate(images[:100]):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(d if i % 2 else 255 - d).save(paths[-1])
    from_files = load_digits(paths)
    assert np.array_equal(from_files, images[:100])
    assert np.array_equal(predictor.predict(from_files).labels, predictor.predict(images[:100]).labels)


def test_small_or_off_centre_digits_are_normalized(digits):
    images, _ = digits
    shifted = np.roll(images, (4, -5), axis=(1, 2))  # 28x28 but off-centre: not MNIST-like, re-centred
    small = images[:, ::2, ::2]  # 14x14
    for batch in (shifted, small):
        out = np.stack([normalize_digit(d) for d in batch])
        assert out.dtype == np.uint8 and out.shape == (N, 28, 28)
        for d in out:
            rows, cols = np.flatnonzero(d.any(1)), np.flatnonzero(d.any(0))
            assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 22  # fits the 20x20 box (+ antialiasing)
            cy, cx = _centre_of_mass(d)
            assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0
            assert d.max() >= (225 if batch is shifted else 150) and d[0].max() == 0 and d[:, 0].max() == 0


@pytest.mark.parametrize("suffix,mode", [(".png", "L"), (".jpg", "L"), (".png", "RGB"), (".jpg", "RGB")])
@pytest.mark.parametrize("dark_on_light", [True, False], ids=["dark-on-light", "light-on-dark"])
def test_files_off_centre_on_any_background(suffix, mode, dark_on_light, digits, predictor, tmp_path):
    images, labels = digits
    rng = np.random.default_rng(1)
    paths = []
    for i, d in enumerate(images):
        at = (int(rng.integers(0, 150)), int(rng.integers(0, 55)))
        img = Image.fromarray(render(d, dark_on_light=dark_on_light, at=at)).convert(mode)
        paths.append(tmp_path / f"{i}{suffix}")
        img.save(paths[-1], **({"quality": 85} if suffix == ".jpg" else {}))
    out = load_digits(paths)
    assert out.shape == (N, 28, 28) and out.dtype == np.uint8
    assert np.mean(predictor.predict(out).labels == labels) >= 0.93
    # Auto-inversion chose what forcing the right answer gives.
    assert np.array_equal(load_digit(paths[0], invert=dark_on_light), out[0])


def test_invert_can_be_forced_or_forbidden(digits, tmp_path):
    d = digits[0][0]
    path = tmp_path / "ink.png"
    Image.fromarray(render(d, dark_on_light=True)).save(path)
    auto = load_digit(path)
    assert np.array_equal(load_digit(path, invert=True), auto)
    with pytest.raises(
        InputError,
        match=r"ink\.png: no digit found: the image shows a dark digit on a light "
        r"background, and inversion was forbidden",
    ):
        load_digit(path, invert=False)
    dark = tmp_path / "chalk.png"
    Image.fromarray(render(d, dark_on_light=False)).save(dark)
    assert np.array_equal(load_digit(dark), load_digit(dark, invert=False))
    with pytest.raises(InputError, match="light digit on a dark background, and inversion was forced"):
        load_digit(dark, invert=True)


def test_transparent_canvas_drawing(digits, predictor, tmp_path):
    """A canvas app's PNG: black strokes, transparent background."""
    d, label = digits[0][3], digits[1][3]
    big = np.asarray(Image.fromarray(d).resize((200, 200), Image.Resampling.BILINEAR))
    rgba = np.zeros((256, 256, 4), np.uint8)
    rgba[28:228, 40:240, 3] = big  # alpha = ink; colour stays black
    path = tmp_path / "canvas.png"
    Image.fromarray(rgba, "RGBA").save(path)
    assert predictor.predict(load_digit(path)).labels[0] == label


def test_sixteen_bit_and_palette_images(digits, predictor, tmp_path):
    d, label = digits[0][5], digits[1][5]
    page = render(d, dark_on_light=True)
    Image.fromarray(page.astype(np.uint16) * 257).save(tmp_path / "deep.png")
    Image.fromarray(page).convert("P").save(tmp_path / "palette.gif")
    for name in ("deep.png", "palette.gif"):
        assert predictor.predict(load_digit(tmp_path / name)).labels[0] == label, name


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"hello, this is text\n" * 10,
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4,
    ],
    ids=["empty", "text", "png-header", "jpeg-junk"],
)
def test_bad_files_name_the_file(content, tmp_path):
    path = tmp_path / "digit.png"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        load_digit(path)
    assert str(path) in str(info.value)


def test_truncated_missing_and_blank(digits, tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(render(digits[0][0], dark_on_light=True)).save(good)
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match="cut.png"):
        load_digit(cut)
    with pytest.raises(InputError, match="no such image file"):
        load_digit(tmp_path / "missing.png")
    blank = tmp_path / "blank.jpg"
    Image.new("L", (64, 48), 240).save(blank)
    with pytest.raises(InputError, match="blank.jpg.*no digit"):
        load_digit(blank)
    with pytest.raises(InputError, match="not a file"):
        load_digit(tmp_path)


def test_decompression_bomb_limit_stays_on(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("L", (400, 400), 0).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # 160,000 px is > 2x the limit: a "bomb"
    with pytest.raises(InputError, match="big.png.*too many pixels"):
        load_digit(path)


def test_normalize_digit_rejects_bad_arrays():
    for bad in (np.zeros((28,)), np.zeros((0, 5)), np.full((28, 28), np.nan), np.zeros((28, 28), complex)):
        with pytest.raises(InputError):
            normalize_digit(bad)
    for invert in (None, True, False):  # truly uniform: blank, whatever the inversion
        with pytest.raises(InputError, match=r"blank \(uniform brightness\)"):
            normalize_digit(np.zeros((28, 28), np.uint8), invert=invert)


def test_missing_pillow_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(
        MissingDependencyError, match=r"install the 'images' extra: pip install 'edgemnist-[^']+\.whl\[images\]'"
    ):
        load_digit(tmp_path / "x.png")
