"""Grayscale arrays -> MNIST-style 28x28 uint8 digits (pure numpy: no Pillow).

MNIST's recipe: a white digit on black, its bounding box scaled (keeping the aspect ratio, anti-aliased) to
fit a 20x20 box, then placed in a 28x28 field so that its centre of mass is at the centre. Photos and
canvas drawings are usually dark ink on a light background: whether the ink is darker or lighter than the
background is decided from the image's own contrast (``normalize_digit``), and dark ink is inverted, unless
``invert`` forces (True) or forbids (False) it. Transparency is composited so that the digit shows
(``flatten_alpha``). The page's ``edgemnist.js`` repeats these steps operation for operation.
"""

from __future__ import annotations

import math

import numpy as np

from edgemnist import spec
from edgemnist.errors import InputError

#: The digit's bounding box is scaled to fit this box (MNIST: 20x20 inside 28x28).
BOX = 20
#: Pixels brighter than this fraction of the brightest (after background removal) define the bounding box.
INK_FRACTION = 0.2


#: Opaque pixels whose grey levels spread less than this (standard deviation) carry no digit in their colour.
ALPHA_CONTRAST = 12.0


def flatten_alpha(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite a grey image with transparency (alpha in [0, 1]) over a background that shows the digit.

    When the colour of the visible pixels carries no contrast (a canvas app's strokes: one ink colour, the
    shape in the alpha), the transparent part becomes the opposite of the ink: black behind white ink, white
    behind dark ink. Otherwise (a picture of paper with transparent margins) it becomes the picture's own
    typical colour, the median of its opaque pixels, so it reads as more paper.
    """
    if alpha.min() >= 1.0:
        return gray
    weight = _osum(alpha)
    if weight <= 0.0:  # fully transparent: nothing to see
        return np.zeros_like(gray)
    mean = _osum(gray * alpha) / weight
    d = gray - mean
    spread = math.sqrt(_osum(alpha * (d * d)) / weight)
    if spread < ALPHA_CONTRAST:
        background = 0.0 if mean > 127.5 else 255.0
    else:
        opaque = gray[alpha >= 0.5]
        background = float(np.median(opaque if opaque.size else gray[alpha > 0]))
    return gray * alpha + background * (1.0 - alpha)


def normalize_digit(gray: np.ndarray, *, invert: bool | None = None) -> np.ndarray:
    """A 2-D grayscale array (0-255, any size) -> MNIST-style uint8 (28, 28), white digit on black.

    ``invert``: None decides from the image itself (the ink is what deviates most from the background, darker
    or lighter; dark ink is inverted), True always inverts (dark ink on light paper), False never does.

    The background is a plane fitted to the image's border (robust to ink touching it), so paper under uneven
    light reads as flat; what stands out from it by less than three times the border's noise is background.
    A 28x28 image that (after the inversion decision) already is an MNIST digit -- black background,
    centred by mass -- is returned unchanged (rounded to uint8), so MNIST's own images predict exactly as the
    arrays do. Everything else is cropped, scaled into the 20x20 box and centred.
    """
    a = np.asarray(gray)
    if a.ndim != 2 or a.size == 0 or a.dtype.kind not in "uif" or not np.isfinite(a).all():
        raise InputError(f"expected a non-empty 2-D grayscale array of finite values; got {a.dtype} {a.shape}")
    a = a.astype(np.float64)
    forced = invert
    r, noise = _residual(a)
    if invert is None:
        invert = _dark_side_wins(r, noise)
    if invert:
        a, r = 255.0 - a, -r
    if a.shape == spec.IMAGE_SHAPE and _is_mnist_like(a):
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)  # already an MNIST digit: leave it exactly as it is
    threshold = max(BLANK_LEVELS, NOISE_SIGMAS * noise)  # ink stands out by > 6 sigma: never noise alone
    a = np.clip(r - NOISE_SIGMAS * noise, 0.0, None)  # light ink on black, in grey levels above the background
    peak = a.max()
    if peak <= threshold:  # nothing stands out from the background by more than its noise
        if forced is not None and (-r - NOISE_SIGMAS * noise).max() > threshold:
            # The image does have a digit, in the polarity the caller ruled out.
            if invert:
                what = "a light digit on a dark background, and inversion was forced (invert=True)"
            else:
                what = "a dark digit on a light background, and inversion was forbidden (invert=False)"
            raise InputError(
                f"no digit found: the image shows {what}; leave the choice to the image (invert=None, the default)"
            )
        if NOISE_SIGMAS * noise > BLANK_LEVELS:
            raise InputError(
                f"no digit found: nothing stands out from the background's noise (sigma {noise:.1f} grey levels)"
            )
        raise InputError("no digit found: the image is blank (uniform brightness)")
    a *= 255.0 / peak
    rows = np.flatnonzero((a > INK_FRACTION * 255.0).any(axis=1))
    cols = np.flatnonzero((a > INK_FRACTION * 255.0).any(axis=0))
    a = a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    box = _fit(a, BOX)
    return _place_by_mass(box, spec.IMAGE_SHAPE[0])


#: Ink must stand out from the background by more than this many grey levels (0-255), else the image is blank.
BLANK_LEVELS = 8.0
#: What deviates from the background by less than this many noise sigmas is background (noise, JPEG ringing).
NOISE_SIGMAS = 3.0


def ink_is_dark(gray: np.ndarray) -> bool:
    """Is the digit darker than its background? Decided by contrast, not by an absolute grey level: the
    pixels deviating from the fitted background by more than its noise are summed on each side, and the
    side with more deviation is the ink. A uniform image has none (False)."""
    return _dark_side_wins(*_residual(np.asarray(gray, dtype=np.float64)))


def _dark_side_wins(r: np.ndarray, noise: float) -> bool:
    t = NOISE_SIGMAS * noise
    return _osum(np.clip(-r - t, 0.0, None)) > _osum(np.clip(r - t, 0.0, None))


def _residual(a: np.ndarray) -> tuple[np.ndarray, float]:
    """``a`` minus its background, and the background's noise (robust sigma of the border's residual).

    The background is the plane ``c0 + c1 u + c2 v`` (u, v: centred coordinates scaled to [-1, 1]) fitted to a
    frame ~5 % thick around the image by least squares, twice more without the pixels that sit far from it (ink
    touching the border). Paper under a lamp, a shadow across a photo, vignetting's linear part: all flat after
    this.

    Reproducible bit for bit in JavaScript (the web page repeats this) and in C (the C kernel's companion
    ``ckernel/csrc/edgemnist_preprocess.c``): only elementwise float64 operations,
    ``np.median``, left-to-right sums (``_osum``) and the 3x3 normal equations solved by Cramer's rule in
    Python floats, each written in the order a port must follow -- no BLAS/LAPACK, no pairwise sums.
    """
    h, w = a.shape
    k = max(1, min(h, w) // 20)
    mask = np.zeros(a.shape, dtype=bool)
    mask[:k], mask[-k:], mask[:, :k], mask[:, -k:] = True, True, True, True
    ys, xs = np.nonzero(mask)  # row-major order
    z = a[ys, xs]
    cy, cx, scale = (h - 1) / 2.0, (w - 1) / 2.0, max(h, w) / 2.0
    u = (xs - cx) / scale
    v = (ys - cy) / scale
    keep = np.ones(z.size, dtype=bool)
    c0, c1, c2 = float(np.median(z)), 0.0, 0.0
    sigma = 0.0
    for _ in range(3):
        if int(keep.sum()) >= 3:
            uk, vk, zk = u[keep], v[keep], z[keep]
            su, sv = _osum(uk), _osum(vk)
            solved = _solve3(
                float(uk.size),
                su,
                sv,
                _osum(uk * uk),
                _osum(uk * vk),
                _osum(vk * vk),
                _osum(zk),
                _osum(uk * zk),
                _osum(vk * zk),
            )
            if solved is not None:
                c0, c1, c2 = solved
        res = z - ((c0 + c1 * u) + c2 * v)
        sigma = 1.4826 * float(np.median(np.abs(res[keep])))
        keep = np.abs(res) <= max(3.0 * sigma, 2.0)
    gy, gx = np.mgrid[0:h, 0:w]
    background = (c0 + c1 * ((gx - cx) / scale)) + c2 * ((gy - cy) / scale)
    return a - background, sigma


def _osum(x: np.ndarray) -> float:
    """The left-to-right sum of ``x`` (flattened, row-major). numpy's ``.sum()`` adds pairwise, a JavaScript
    loop left to right; this gives the same bits as the loop."""
    return float(np.cumsum(x, dtype=np.float64)[-1]) if x.size else 0.0


def _solve3(n, su, sv, suu, suv, svv, sz, suz, svz):
    """(c0, c1, c2) solving the normal equations of z ~ c0 + c1 u + c2 v by Cramer's rule (Python floats, a
    fixed order of operations), or None when they are singular (all kept pixels on one line)."""

    def det(a1, a2, a3, b1, b2, b3, d1, d2, d3):  # columns (a, b, d) of a symmetric 3x3 system
        return a1 * (b2 * d3 - b3 * d2) - b1 * (a2 * d3 - a3 * d2) + d1 * (a2 * b3 - a3 * b2)

    d = det(n, su, sv, su, suu, suv, sv, suv, svv)
    if not abs(d) > 1e-12 * max(1.0, n) ** 3:
        return None
    return (
        det(sz, suz, svz, su, suu, suv, sv, suv, svv) / d,
        det(n, su, sv, sz, suz, svz, sv, suv, svv) / d,
        det(n, su, sv, su, suu, suv, sz, suz, svz) / d,
    )


def _is_mnist_like(a: np.ndarray) -> bool:
    """A 28x28 white-on-black digit as MNIST stores it: black background (the border's median is 0), some
    ink, and its centre of mass within 1.5 px of the centre (MNIST's own digits are all within 1 px). Such an
    image is passed through unchanged: re-cropping and re-centring it only moves it away from MNIST."""
    if _border_median(a) > 0.5 or a.min() < -0.5 or a.max() > 255.5:
        return False
    w = np.clip(a, 0.0, None)
    total = _osum(w)
    if w.max() <= 8.0 or total <= 0.0:
        return False
    h, wd = w.shape
    rows = np.cumsum(w, axis=1)[:, -1]  # each row left to right, each column top to bottom (as a JS loop)
    cols = np.cumsum(w, axis=0)[-1, :]
    cy = _osum(rows * np.arange(h)) / total
    cx = _osum(cols * np.arange(wd)) / total
    centre = (np.array(a.shape) - 1) / 2.0
    return bool(abs(cy - centre[0]) <= 1.5 and abs(cx - centre[1]) <= 1.5)


def _border_median(a: np.ndarray) -> float:
    h, w = a.shape
    k = max(1, min(h, w) // 20)  # a frame ~5 % thick
    frame = np.concatenate([a[:k].ravel(), a[-k:].ravel(), a[:, :k].ravel(), a[:, -k:].ravel()])
    return float(np.median(frame))


def _fit(a: np.ndarray, box: int) -> np.ndarray:
    """Scale so the longer side is ``box`` pixels, keeping the aspect ratio, by exact area averaging.

    Each output pixel is the mean of the input area it covers (partly covered input pixels count by the
    covered fraction): anti-aliased when shrinking, and the same result in any language that repeats the
    float64 operations in this order -- rows first, then columns, taps summed left to right -- which
    ``edgemnist/web/static/edgemnist.js`` and ``edgemnist/ckernel/csrc/edgemnist_preprocess.c`` do, so the browser
    page and the firmware give the same 28x28 bytes as this code.
    """
    h, w = a.shape
    scale = box / max(h, w)
    width, height = max(1, round(w * scale)), max(1, round(h * scale))
    if (width, height) == (w, h):
        return a
    a = _resample_axis(a, width)  # along each row: w -> width
    a = _resample_axis(a.T, height).T  # along each column: h -> height
    return np.clip(a, 0.0, 255.0)


def _area_taps(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer weights of exact area averaging from n samples to m: output j covers [j*n, (j+1)*n) and input i
    covers [i*m, (i+1)*m) on a line of n*m units; the weight is their overlap (each output's weights sum to n).
    Returns (index, weight), both (m, taps), padded with weight 0."""
    rows = []
    for j in range(m):
        lo, hi = j * n, (j + 1) * n
        first, last = lo // m, (hi - 1) // m
        rows.append([(i, min(hi, (i + 1) * m) - max(lo, i * m)) for i in range(first, last + 1)])
    taps = max(len(r) for r in rows)
    index = np.zeros((m, taps), dtype=np.intp)
    weight = np.zeros((m, taps), dtype=np.float64)
    for j, r in enumerate(rows):
        for k, (i, wt) in enumerate(r):
            index[j, k], weight[j, k] = i, wt
    return index, weight


def _resample_axis(a: np.ndarray, m: int) -> np.ndarray:
    """Area-average every row of ``a`` from its length n to m: out = (sum over taps of weight * a) / n, the
    taps added in order from the left (elementwise float64 only, so the result is reproducible exactly)."""
    n = a.shape[1]
    index, weight = _area_taps(n, m)
    acc = np.zeros((a.shape[0], m), dtype=np.float64)
    for k in range(index.shape[1]):
        acc += weight[:, k] * a[:, index[:, k]]  # a padded tap adds 0.0: the sum is unchanged
    return acc / float(n)


def _round_half_even(x: float) -> int:
    return int(round(x))  # Python rounds halves to even; the JS port does the same explicitly


def _place_by_mass(box: np.ndarray, side: int) -> np.ndarray:
    """Paste ``box`` into a side x side black field with its centre of mass at the field's centre.

    Sums run left to right in float64 (row sums, then their total and moments), so the JS port agrees exactly."""
    h, w = box.shape
    row_sums = np.cumsum(box, axis=1)[:, -1]  # each row left to right, each column top to bottom (as a JS loop)
    col_sums = np.cumsum(box, axis=0)[-1, :]
    total = _osum(row_sums)
    cy = _osum(row_sums * np.arange(h)) / total
    cx = _osum(col_sums * np.arange(w)) / total
    centre = (side - 1) / 2.0
    top = min(max(_round_half_even(centre - cy), 0), side - h)
    left = min(max(_round_half_even(centre - cx), 0), side - w)
    out = np.zeros((side, side), dtype=np.float64)
    out[top : top + h, left : left + w] = box
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
