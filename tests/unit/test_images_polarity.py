"""Polarity, background and transparency decided from the image itself (no model, no TensorFlow): hard cases
(dark ink 60 on grey paper 120-130, ink 30 on a flat grey 127, a white digit on a transparent
background), gradients, noise, and what is really blank."""

from __future__ import annotations

import numpy as np
import pytest
from toolchains import imported

Image = imported("PIL.Image")


from edgemnist.errors import InputError  # noqa: E402
from edgemnist.images import load_digit  # noqa: E402
from edgemnist.normalize import flatten_alpha, ink_is_dark, normalize_digit  # noqa: E402


def _seven(canvas=(120, 160)) -> np.ndarray:
    """A 7's ink coverage (0-1) on a canvas."""
    ink = np.zeros(canvas)
    ink[20:28, 40:120] = 1.0
    for y in range(28, 100):
        x = int(120 - (y - 28) * 0.6)
        ink[y, x - 4 : x + 4] = 1.0
    return ink


@pytest.mark.parametrize("paper,ink_level", [(120, 60), (125, 60), (130, 60), (127, 30), (128, 30), (200, 90)])
def test_dark_ink_on_grey_paper_is_dark(paper, ink_level):
    rng = np.random.default_rng(paper)
    ink = _seven()
    page = paper * (1 - ink) + ink_level * ink + rng.normal(0, 2, ink.shape)
    assert ink_is_dark(page)
    d = normalize_digit(np.clip(page, 0, 255))
    assert d.max() >= 200 and d[0].max() == 0  # a white digit on black, not "blank"
    # The same digit written light on a dark grey reads light, whatever the absolute levels.
    assert not ink_is_dark(255.0 - page)


def _box(d: np.ndarray, level: int = 40) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(d.max(1) > level), np.flatnonzero(d.max(0) > level)
    return rows[0], rows[-1], cols[0], cols[-1]


def test_gradient_background_is_not_ink():
    """Paper from grey 120 to 240 across the image: the fitted plane takes the gradient, the 7 stays alone
    (with the old border-median subtraction, the bright half of the paper was ink too)."""
    ink = _seven()
    x = np.linspace(120, 240, ink.shape[1])[None, :] * np.ones((ink.shape[0], 1))
    page = x * (1 - ink) + 20 * ink
    assert ink_is_dark(page)
    d = normalize_digit(page)
    flat = normalize_digit(200 * (1 - ink) + 20 * ink)  # the same 7 on even paper
    assert np.abs(np.subtract(_box(d), _box(flat))).max() <= 1
    assert d[0].max() == 0 and d[:, -1].max() == 0 and d[:, 0].max() == 0


@pytest.mark.parametrize("hidden", [0, 255])
def test_white_digit_on_transparent_background(tmp_path, hidden):
    """White ink, alpha = coverage, the transparent pixels black or white: the alpha carries the digit."""
    ink = _seven()
    rgba = np.zeros(ink.shape + (4,), np.uint8)
    rgba[..., :3] = hidden
    rgba[..., :3][ink > 0] = 255
    rgba[..., 3] = np.rint(ink * 255).astype(np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "white.png")
    d = load_digit(tmp_path / "white.png")
    assert d.max() >= 200 and d[0].max() == 0
    # ... and equals the same digit drawn white on an opaque black.
    Image.fromarray(np.rint(ink * 255).astype(np.uint8)).save(tmp_path / "opaque.png")
    assert np.array_equal(d, load_digit(tmp_path / "opaque.png"))


def test_transparent_margins_read_as_the_paper():
    """A picture (dark ink on light paper, in colour) with transparent margins: they become the paper's grey."""
    ink = _seven()
    gray = 230 * (1 - ink) + 20 * ink
    alpha = np.ones_like(gray)
    alpha[:, :10] = 0.0
    flat = flatten_alpha(np.where(alpha > 0, gray, 0.0), alpha)
    assert np.allclose(flat[:, :10], 230.0) and ink_is_dark(flat)


@pytest.mark.parametrize("level", [0, 1, 30, 127, 128, 200, 254, 255])
def test_uniform_images_are_blank(level, tmp_path):
    for arr in (np.full((40, 30), level, np.uint8), np.full((28, 28), float(level))):
        with pytest.raises(InputError, match=r"blank \(uniform brightness\)"):
            normalize_digit(arr)
    rgba = np.zeros((40, 30, 4), np.uint8)
    rgba[..., :3] = level  # fully transparent, any colour
    Image.fromarray(rgba, "RGBA").save(tmp_path / "clear.png")
    rgba[..., 3] = 255  # fully opaque, one colour
    Image.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    for name in ("clear.png", "opaque.png"):
        with pytest.raises(InputError, match="blank"):
            load_digit(tmp_path / name)


def test_pure_noise_is_no_digit_but_a_faint_digit_is():
    rng = np.random.default_rng(0)
    noise = 128 + rng.normal(0, 10, (200, 200))
    with pytest.raises(InputError, match="nothing stands out from the background's noise"):
        normalize_digit(noise)
    ink = _seven((200, 200))
    faint = 128 * (1 - ink) + 110 * ink  # 18 grey levels of contrast, no noise
    assert normalize_digit(faint).max() >= 200
    with_noise = 128 + rng.normal(0, 4, ink.shape) - 60 * ink  # 60 levels under sigma-4 noise
    assert normalize_digit(with_noise).max() >= 200


def test_background_plane_is_the_least_squares_one_without_blas():
    """The plane comes from ordered sums and Cramer's rule (reproducible in JavaScript); it is the least-squares
    plane all the same."""
    from edgemnist.normalize import _residual

    rng = np.random.default_rng(3)
    h, w = 90, 130
    gy, gx = np.mgrid[0:h, 0:w]
    page = 40.0 + 0.7 * gx - 0.3 * gy + rng.normal(0, 1.5, (h, w))
    r, noise = _residual(page)
    frame = np.zeros((h, w), bool)
    frame[:4], frame[-4:], frame[:, :4], frame[:, -4:] = True, True, True, True  # k = min(h, w) // 20 = 4
    design = np.column_stack([np.ones(frame.sum()), gx[frame], gy[frame]])
    coef = np.linalg.lstsq(design, page[frame], rcond=None)[0]
    expected = page - (coef[0] + coef[1] * gx + coef[2] * gy)
    assert np.abs(r - expected).max() < 0.05  # the robust passes drop a few noise outliers; same plane
    assert 1.2 < noise < 1.8
    assert not ink_is_dark(page) and np.abs(r).max() < 8  # nothing but paper: no ink either way
