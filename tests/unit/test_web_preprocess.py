"""The preprocessing's float64 arithmetic, in the order edgemnist.js repeats it (fast tier)."""

from __future__ import annotations

import numpy as np

from edgemnist import normalize


def _fit_loops(a: np.ndarray, box: int) -> np.ndarray:
    """normalize._fit written as the plain loops of edgemnist.js (fit/resampleRows): one float64 at a time."""
    h, w = a.shape
    scale = box / max(h, w)
    width, height = max(1, round(w * scale)), max(1, round(h * scale))
    if (width, height) == (w, h):
        return a

    def rows(x, n, m):
        out = np.zeros((x.shape[0], m))
        for j in range(m):
            lo, hi = j * n, (j + 1) * n
            for r in range(x.shape[0]):
                acc = 0.0
                for i in range(lo // m, (hi - 1) // m + 1):
                    acc += float(min(hi, (i + 1) * m) - max(lo, i * m)) * float(x[r, i])
                out[r, j] = acc / n
        return out

    t = rows(a, w, width)
    t = rows(t.T.copy(), h, height).T
    return np.clip(t, 0.0, 255.0)


def test_area_taps_cover_each_output_exactly():
    for n, m in [(280, 20), (20, 20), (14, 20), (3, 20), (1000, 7), (21, 20), (19, 20)]:
        index, weight = normalize._area_taps(n, m)
        assert np.array_equal(weight.sum(axis=1), np.full(m, float(n)))  # each output averages n/m inputs
        assert index.min() >= 0 and index.max() < n


def test_numpy_resampler_equals_the_plain_loops_bit_for_bit():
    """The vectorized numpy code and the one-value-at-a-time loops (what the JS does) give identical float64s."""
    rng = np.random.default_rng(0)
    for h, w in [(137, 64), (20, 9), (14, 14), (5, 3), (300, 280), (1, 40), (23, 19)]:
        a = rng.uniform(0, 255, (h, w)) * (rng.random((h, w)) < 0.3)
        assert np.array_equal(normalize._fit(a, normalize.BOX), _fit_loops(a, normalize.BOX))


def test_normalized_digit_fits_and_is_centred():
    rng = np.random.default_rng(1)
    for h, w in [(280, 280), (90, 40), (12, 30)]:
        a = np.zeros((h, w))
        a[h // 4 : 3 * h // 4, w // 3 : 2 * w // 3] = rng.uniform(100, 255, (3 * h // 4 - h // 4, 2 * w // 3 - w // 3))
        d = normalize.normalize_digit(a)
        rows, cols = np.flatnonzero(d.any(1)), np.flatnonzero(d.any(0))
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= normalize.BOX
