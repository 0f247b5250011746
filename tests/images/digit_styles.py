"""Digit images that are not MNIST, generated (never committed): fonts, pen strokes, paper, light and noise.

Each style is a function ``(digit, rng) -> PIL.Image`` drawing one digit the way a user's file would show it.
``make_set(tmp_path, per_digit)`` writes every style as files (PNG, or JPEG for the JPEG style) and returns
``{style: (paths, labels)}``. Everything is seeded: the same call draws the same pixels.

Used by tests/images/test_digit_styles.py. Run on its own, it measures the accuracy per style of artifacts
(how the test's floors were chosen)::

    PYTHONPATH=. python tests/images/digit_styles.py export/model.int8.tflite export/model.int8.onnx [--seeds 0,1,2]
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

# --------------------------------------------------------------------------- glyphs

#: TrueType fonts tried (DejaVu and Liberation on Debian; whichever exist are used).
FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
)


def fonts(size: int) -> list:
    """The fonts available here at ``size`` px: the TrueType files that exist, else Pillow's own default
    (a scalable font on Pillow >= 10.1, the old bitmap font before)."""
    out = [ImageFont.truetype(f, size) for f in FONT_FILES if Path(f).is_file()]
    try:
        out.append(ImageFont.load_default(size=size))
    except TypeError:  # Pillow < 10.1: bitmap only, 11 px
        out.append(ImageFont.load_default())
    return out


def _ellipse(cx, cy, rx, ry, start=0.0, end=2 * math.pi, n=28):
    return [(cx + rx * math.sin(t), cy - ry * math.cos(t)) for t in np.linspace(start, end, n)]


#: Pen strokes per digit, in a unit box (x right, y down): a list of polylines, drawn the way people write.
STROKES = {
    0: [_ellipse(0.5, 0.5, 0.3, 0.45)],
    1: [[(0.58, 0.05), (0.42, 0.95)]],
    2: [[(0.18, 0.25), (0.32, 0.08), (0.58, 0.04), (0.78, 0.18), (0.74, 0.42), (0.18, 0.94), (0.86, 0.92)]],
    3: [
        [
            (0.2, 0.12),
            (0.5, 0.03),
            (0.76, 0.15),
            (0.72, 0.36),
            (0.42, 0.48),
            (0.76, 0.6),
            (0.8, 0.8),
            (0.52, 0.96),
            (0.18, 0.86),
        ]
    ],
    4: [[(0.28, 0.05), (0.2, 0.58), (0.84, 0.56)], [(0.7, 0.05), (0.66, 0.96)]],
    5: [[(0.8, 0.06), (0.32, 0.06), (0.26, 0.45), (0.56, 0.38), (0.78, 0.55), (0.76, 0.8), (0.5, 0.95), (0.2, 0.86)]],
    6: [
        [
            (0.72, 0.04),
            (0.4, 0.3),
            (0.24, 0.66),
            (0.34, 0.92),
            (0.64, 0.92),
            (0.76, 0.72),
            (0.62, 0.54),
            (0.34, 0.58),
            (0.26, 0.7),
        ]
    ],
    7: [[(0.14, 0.08), (0.86, 0.08), (0.42, 0.96)]],
    8: [
        [
            (0.5 + 0.26 * math.sin(2 * t) * (1.1 if t > math.pi else 0.9), 0.5 - 0.46 * math.cos(t))
            for t in np.linspace(0, 2 * math.pi, 40)
        ]
    ],
    9: [_ellipse(0.48, 0.3, 0.25, 0.24, 0.0, 2 * math.pi)[::-1] + [(0.73, 0.3), (0.66, 0.96)]],
}


def glyph_font(digit: int, rng: np.random.Generator, size: int = 96) -> np.ndarray:
    """A digit in one of the fonts, white on black, float32 (H, W) in [0, 1] (cropped loosely)."""
    font = fonts(size)[int(rng.integers(len(fonts(size))))]
    canvas = Image.new("L", (size * 2, size * 2), 0)
    ImageDraw.Draw(canvas).text((size // 2, size // 3), str(digit), fill=255, font=font)
    if rng.random() < 0.5:  # a slight slant, as handwriting and italics have
        canvas = canvas.transform(
            canvas.size,
            Image.Transform.AFFINE,
            (1, float(rng.uniform(0.1, 0.25)), -size * 0.15, 0, 1, 0),
            resample=Image.Resampling.BILINEAR,
        )
    return np.asarray(canvas, dtype=np.float32) / 255.0


def glyph_pen(digit: int, rng: np.random.Generator, size: int = 160) -> np.ndarray:
    """A digit as pen strokes: jittered polylines, a slant and a stroke width like a pen's."""
    canvas = Image.new("L", (size * 2, size * 2), 0)
    draw = ImageDraw.Draw(canvas)
    slant = rng.uniform(-0.08, 0.25)
    sx, sy = rng.uniform(0.75, 1.0) * size, size * rng.uniform(0.95, 1.1)
    ox, oy = size * 0.5, size * 0.45
    width = int(rng.integers(max(3, size // 14), max(4, size // 8)))
    for line in STROKES[digit]:
        pts = np.asarray(line) + rng.normal(0.0, 0.015, (len(line), 2))
        xy = [(ox + sx * (x + slant * (1 - y)), oy + sy * y) for x, y in pts]
        draw.line(xy, fill=255, width=width, joint="curve")
        for x, y in (xy[0], xy[-1]):  # round pen ends
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    return np.asarray(canvas.filter(ImageFilter.GaussianBlur(1.0)), dtype=np.float32) / 255.0


def _place(glyph: np.ndarray, rng: np.random.Generator, canvas=(240, 320)) -> np.ndarray:
    """Crop the glyph to its ink and put it somewhere on a larger canvas (a photo is not centred)."""
    rows, cols = np.flatnonzero(glyph.max(1) > 0.05), np.flatnonzero(glyph.max(0) > 0.05)
    g = glyph[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    target = int(rng.integers(canvas[0] // 3, int(canvas[0] * 0.7)))
    scale = target / g.shape[0]
    size = (max(1, round(g.shape[1] * scale)), target)
    g = np.asarray(Image.fromarray(g).resize(size, Image.Resampling.BILINEAR), dtype=np.float32)
    out = np.zeros(canvas, np.float32)
    r = int(rng.integers(0, canvas[0] - g.shape[0] + 1))
    c = int(rng.integers(0, canvas[1] - g.shape[1] + 1))
    out[r : r + g.shape[0], c : c + g.shape[1]] = np.clip(g, 0, 1)
    return out


def _compose(ink: np.ndarray, paper: np.ndarray | float, colour: float) -> np.ndarray:
    """Paint ``ink`` coverage (0-1) in grey level ``colour`` over ``paper``; uint8."""
    return np.clip(np.rint(paper * (1 - ink) + colour * ink), 0, 255).astype(np.uint8)


def _gradient(shape, rng, lo, hi) -> np.ndarray:
    h, w = shape
    angle = rng.uniform(0, 2 * math.pi)
    y, x = np.mgrid[0:h, 0:w]
    t = (x - w / 2) * math.cos(angle) + (y - h / 2) * math.sin(angle)
    t = (t - t.min()) / (t.max() - t.min())
    return lo + (hi - lo) * t


# --------------------------------------------------------------------------- styles


def font_on_white(d, rng):
    return Image.fromarray(_compose(_place(glyph_font(d, rng), rng), 255.0, 0.0))


def font_light_on_dark(d, rng):
    return Image.fromarray(_compose(_place(glyph_font(d, rng), rng), float(rng.uniform(0, 60)), 250.0))


def pen_on_white(d, rng):
    return Image.fromarray(
        _compose(_place(glyph_pen(d, rng), rng), float(rng.uniform(225, 255)), float(rng.uniform(0, 50)))
    )


def pen_chalk_on_board(d, rng):
    """Light strokes on a dark, uneven board."""
    ink = _place(glyph_pen(d, rng), rng)
    board = rng.uniform(20, 70) + rng.normal(0, 4, ink.shape)
    return Image.fromarray(_compose(ink, board, float(rng.uniform(200, 245))))


def grey_paper(d, rng):
    """Dark ink (~60) on grey paper (120-130), a little sensor noise."""
    ink = _place(glyph_pen(d, rng) if rng.random() < 0.5 else glyph_font(d, rng), rng)
    paper = rng.uniform(120, 130) + rng.normal(0, 2, ink.shape)
    return Image.fromarray(_compose(ink, paper, float(rng.uniform(50, 70))))


def flat_grey_127(d, rng):
    """Ink 30 on a flat grey 127."""
    return Image.fromarray(_compose(_place(glyph_pen(d, rng), rng), 127.0, 30.0))


def gradient_paper(d, rng):
    """A photo of paper under a lamp: the background runs from dim to bright across the image."""
    ink = _place(glyph_pen(d, rng) if rng.random() < 0.5 else glyph_font(d, rng), rng)
    paper = _gradient(ink.shape, rng, rng.uniform(90, 140), rng.uniform(210, 250))
    return Image.fromarray(_compose(ink, paper, float(rng.uniform(10, 60))))


def noisy(d, rng):
    """Heavy sensor noise (sigma 12-18 grey levels) on light paper, either polarity."""
    ink = _place(glyph_pen(d, rng), rng)
    light = rng.random() < 0.5
    paper = (rng.uniform(190, 230) if light else rng.uniform(25, 60)) + rng.normal(0, rng.uniform(12, 18), ink.shape)
    return Image.fromarray(_compose(ink, paper, float(rng.uniform(20, 50) if light else rng.uniform(200, 240))))


def jpeg(d, rng):
    """A phone-quality JPEG (quality 20-60) of pen or font ink on off-white paper, in colour."""
    ink = _place(glyph_pen(d, rng) if rng.random() < 0.5 else glyph_font(d, rng), rng)
    gray = _compose(ink, float(rng.uniform(200, 240)) + rng.normal(0, 3, ink.shape), float(rng.uniform(20, 70)))
    rgb = np.stack([gray, np.clip(gray.astype(int) - 8, 0, 255), np.clip(gray.astype(int) - 20, 0, 255)], -1)
    buf = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8), "RGB").save(buf, "JPEG", quality=int(rng.integers(20, 61)))
    buf.seek(0)
    return Image.open(buf)


def rgba_white_on_transparent(d, rng):
    """A white digit on a fully transparent background (the transparent pixels' colour is black or white)."""
    ink = _place(glyph_pen(d, rng) if rng.random() < 0.5 else glyph_font(d, rng), rng)
    rgba = np.zeros(ink.shape + (4,), np.uint8)
    rgba[..., :3] = 255 if rng.random() < 0.5 else 0
    rgba[..., :3][ink > 0] = 255
    rgba[..., 3] = np.rint(ink * 255)
    return Image.fromarray(rgba, "RGBA")


def rgba_dark_on_transparent(d, rng):
    """A canvas app's export: coloured (dark) strokes, alpha = coverage, transparent elsewhere."""
    ink = _place(glyph_pen(d, rng), rng)
    rgba = np.zeros(ink.shape + (4,), np.uint8)
    rgba[..., :3] = (int(rng.integers(0, 60)), int(rng.integers(0, 60)), int(rng.integers(60, 160)))
    rgba[..., 3] = np.rint(ink * 255)
    return Image.fromarray(rgba, "RGBA")


def rgba_on_opaque_paper(d, rng):
    """An RGBA file whose alpha is opaque everywhere: the colour carries the digit (dark on light)."""
    ink = _place(glyph_font(d, rng), rng)
    gray = _compose(ink, float(rng.uniform(200, 250)), float(rng.uniform(0, 60)))
    rgba = np.dstack([gray, gray, gray, np.full_like(gray, 255)])
    return Image.fromarray(rgba, "RGBA")


STYLES = {
    f.__name__: f
    for f in (
        font_on_white,
        font_light_on_dark,
        pen_on_white,
        pen_chalk_on_board,
        grey_paper,
        flat_grey_127,
        gradient_paper,
        noisy,
        jpeg,
        rgba_white_on_transparent,
        rgba_dark_on_transparent,
        rgba_on_opaque_paper,
    )
}


def make_set(folder: Path, per_digit: int = 3, seed: int = 0, styles=None) -> dict[str, tuple[list[Path], np.ndarray]]:
    """Write ``per_digit`` images of each digit for every style; ``{style: (paths, labels)}``."""
    out = {}
    for k, (name, draw) in enumerate(sorted(STYLES.items())):
        if styles is not None and name not in styles:
            continue
        rng = np.random.default_rng([seed, k])
        paths, labels = [], []
        for i in range(per_digit * 10):
            d = i % 10
            img = draw(d, rng)
            path = folder / f"{name}-{i:03d}-{d}.{'jpg' if img.format == 'JPEG' else 'png'}"
            if img.format == "JPEG":
                path.write_bytes(img.fp.getvalue())
            else:
                img.save(path)
            paths.append(path)
            labels.append(d)
        out[name] = (paths, np.array(labels))
    return out


def main(argv=None) -> int:
    import argparse
    import tempfile

    from edgemnist.errors import InputError
    from edgemnist.images import load_digit
    from edgemnist.predictor import Predictor

    parser = argparse.ArgumentParser(description="accuracy per digit style")
    parser.add_argument("models", nargs="+")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--per-digit", type=int, default=10)
    args = parser.parse_args(argv)
    predictors = {m: Predictor.load(m) for m in args.models}
    for seed in (int(s) for s in args.seeds.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            for style, (paths, labels) in make_set(Path(tmp), args.per_digit, seed).items():
                digits, refused = [], 0
                for p in paths:
                    try:
                        digits.append(load_digit(p))
                    except InputError:
                        refused += 1
                        digits.append(np.zeros((28, 28), np.uint8))
                accs = "  ".join(
                    f"{Path(m).name} {np.mean(pr.predict(np.stack(digits)).labels == labels):.2f}"
                    for m, pr in predictors.items()
                )
                print(f"seed {seed}  {style:27s} n={len(paths)}  refused={refused}  {accs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
