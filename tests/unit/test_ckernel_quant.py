"""edgemnist.ckernel, the fast tier: TFLM's quantization arithmetic, the weight layout, refusal of wrong files.
No TensorFlow, no trained model, no compiler."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from edgemnist.ckernel import quant
from edgemnist.ckernel.layout import INT8_GROUPED4
from edgemnist.ckernel.model import parse_model, read_model
from edgemnist.errors import ArtifactError, EdgemnistError


def test_round_half_away_is_std_round_not_pythons():
    assert [quant.round_half_away(x) for x in (0.5, 1.5, 2.5, -0.5, -1.5, -2.5)] == [1, 2, 3, -1, -2, -3]
    assert [round(x) for x in (0.5, 2.5, -2.5)] == [0, 2, -2]  # the trap the module avoids
    assert quant.round_half_away(0.49999999999999994) == 0  # floor(x + 0.5) would say 1
    assert quant.round_half_away(-1.4999999999999998) == -1


@pytest.mark.parametrize(
    ("m", "expected"),
    [
        (0.0, (0, 0)),
        (0.5, (1 << 30, 0)),
        (1.0, (1 << 30, 1)),
        (0.75, (3 << 29, 0)),
        (0.25, (1 << 30, -1)),
        (1e-12, (0, 0)),  # shift < -31: flushed to zero as TFLM does
        (1 - 2**-40, (1 << 30, 1)),  # q rounds up to 2^31: halved, shift + 1
    ],
)
def test_quantize_multiplier_matches_tflm_cases(m, expected):
    assert quant.quantize_multiplier(m) == expected


def test_quantize_multiplier_reconstructs_the_double():
    rng = random.Random(0)
    for _ in range(2000):
        m = math.ldexp(rng.random() + 0.5, rng.randint(-20, 10))
        q, shift = quant.quantize_multiplier(m)
        assert (1 << 30) <= q < (1 << 31)
        assert abs(q * 2.0 ** (shift - 31) - m) <= m * 2**-31


def test_softmax_params_for_beta_one():
    # A softmax input scale of 1/4: beta * scale * 2^26 = 2^24 -> multiplier 2^30, left shift 25.
    m, shift, diff_min = quant.softmax_params(1.0, 0.25)
    assert (m, shift) == (1 << 30, 25)
    assert diff_min == -math.floor(31 * 2**26 / 2**25) == -62


def test_srdhm_single_shift_equals_gemmlowps_division():
    """The C's em_srdhm replaces gemmlowp's (ab + nudge) / 2^31 by (ab + 2^30) >> 31: equal for every product."""

    def gemmlowp(a, b):
        ab = a * b
        v = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
        return abs(v) // (1 << 31) * (1 if v >= 0 else -1)

    rng = random.Random(1)
    edge = [-(1 << 31), -(1 << 30) - 1, -(1 << 30), -1, 0, 1, (1 << 30), (1 << 31) - 1]
    pairs = [(a, b) for a in edge for b in edge if not a == b == -(1 << 31)]
    pairs += [(rng.randint(-(1 << 31), (1 << 31) - 1), rng.randint(-(1 << 31), (1 << 31) - 1)) for _ in range(20000)]
    pairs += [(rng.randint(-40000000, 40000000), rng.randint(1 << 30, (1 << 31) - 1)) for _ in range(20000)]
    assert all(gemmlowp(a, b) == (a * b + (1 << 30)) >> 31 for a, b in pairs)


@pytest.mark.parametrize("rows", [10, 12, 512, 5])
def test_weight_layout_round_trips(rows):
    w = np.random.default_rng(rows).integers(-128, 128, (rows, 32), dtype=np.int8)
    packed = INT8_GROUPED4.pack(w)
    assert packed.size == -(-rows // 4) * 4 * 32
    assert np.array_equal(INT8_GROUPED4.unpack(packed, rows, 32), w)
    # The documented index: w[o][i] at ((o/4) * (N/4) + i/4) * 16 + (o%4) * 4 + i%4.
    o, i = rows - 1, 29
    assert packed[((o // 4) * 8 + i // 4) * 16 + (o % 4) * 4 + i % 4] == w[o, i]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "PNG"),
        (b'{"format": "tflite"}' + bytes(16), "JSON"),
        (bytes(8), "not a TFLite flatbuffer"),
        (b"\x1c\x00\x00\x00TFL3" + bytes(8), "malformed"),
    ],
)
def test_wrong_files_are_refused_with_what_was_expected(tmp_path, data, says):
    path = tmp_path / "model.tflite"
    path.write_bytes(data)
    with pytest.raises(ArtifactError, match=says) as info:
        read_model(path)
    assert isinstance(info.value, EdgemnistError) and isinstance(info.value, ValueError)
    if says in ("PNG", "JSON"):
        assert "expected a full-integer int8 .tflite" in str(info.value)


def test_missing_file_is_an_artifact_error(tmp_path):
    with pytest.raises(ArtifactError, match="cannot read it"):
        read_model(tmp_path / "absent.tflite")


def test_parse_model_refuses_truncated_flatbuffers():
    with pytest.raises(ArtifactError):
        parse_model(b"\x10\x00\x00\x00TFL3" + bytes(200), "x.tflite")
