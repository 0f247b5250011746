"""TFLM's quantization arithmetic in Python, exactly (tensorflow/lite/kernels/internal/quantization_util.cc).

TFLM computes these once at ``Prepare`` from the float32 scales stored in the model; the generated C holds the
results as constants, so the device does no floating point at all.

The rounding trap: ``QuantizeMultiplier`` uses ``TfLiteRound`` = ``std::round`` (halves away from zero), while
Python's ``round`` rounds halves to even. ``round_half_away`` reproduces ``std::round`` exactly for doubles.
"""

from __future__ import annotations

import math

INT32_MAX = (1 << 31) - 1


def round_half_away(x: float) -> int:
    """``std::round(x)`` for a double: halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    f = math.floor(x)
    diff = x - f  # exact: x and floor(x) are doubles of the same binade or closer
    if x >= 0:
        return int(f) + 1 if diff >= 0.5 else int(f)
    return int(f) + 1 if diff > 0.5 else int(f)


def quantize_multiplier(m: float) -> tuple[int, int]:
    """(quantized_multiplier, shift) as ``tflite::QuantizeMultiplier`` (double rounding build), for a double ``m``."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed > (1 << 31):
        raise ValueError(f"QuantizeMultiplier({m!r}): {q_fixed} exceeds 2^31")
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if q_fixed > INT32_MAX:
        raise ValueError(f"QuantizeMultiplier({m!r}): {q_fixed} exceeds int32")
    if shift < -31:
        shift, q_fixed = 0, 0
    return int(q_fixed), int(shift)


def per_channel_multipliers(input_scale: float, weight_scales, output_scale: float) -> tuple[list[int], list[int]]:
    """TFLM ``CalculateOpDataFullyConnected`` (per-channel): multiplier and shift for each output channel, from
    ``double(input_scale) * double(filter_scale[c]) / double(output_scale)`` (float32 values widened)."""
    mults, shifts = [], []
    for s in weight_scales:
        m, sh = quantize_multiplier(float(input_scale) * float(s) / float(output_scale))
        mults.append(m)
        shifts.append(sh)
    return mults, shifts


SCALED_DIFF_INTEGER_BITS = 5  # Q5.26 input of exp_on_negative_values
ACCUMULATION_INTEGER_BITS = 12  # Q12.19 sum of exps


def preprocess_softmax_scaling(
    beta: float, input_scale: float, input_integer_bits: int = SCALED_DIFF_INTEGER_BITS
) -> tuple[int, int]:
    """``tflite::PreprocessSoftmaxScaling`` (double rounding build): (input_multiplier, input_left_shift)."""
    real = min(beta * input_scale * (1 << (31 - input_integer_bits)), float((1 << 31) - 1))
    if not real > 1.0:
        raise ValueError(f"softmax multiplier {real!r} is not greater than one")
    m, shift = quantize_multiplier(real)
    if shift < 0:
        raise ValueError(f"softmax left shift {shift} is negative")
    return m, shift


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    """``tflite::CalculateInputRadius``: floor(((1 << bits) - 1) * 2^(total - bits) / 2^left_shift) as a double."""
    value = (
        1.0
        * ((1 << input_integer_bits) - 1)
        * (1 << (total_signed_bits - input_integer_bits))
        / (1 << input_left_shift)
    )
    return int(math.floor(value))


def softmax_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) as TFLM's ``CalculateSoftmaxParams`` for int8 -> int8."""
    m, shift = preprocess_softmax_scaling(float(beta), float(input_scale))
    # TFLM: op_data->diff_min = -1.0 * CalculateInputRadius(...), stored in an int.
    return m, shift, -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, shift)
