"""A literal Python transcription of the TFLM / gemmlowp integer arithmetic the C kernel implements, used as an
independent oracle on random models (tests/ckernel/test_random_models.py). Python ints, no shortcuts: C division
truncates toward zero, so it is spelled out; >> on Python ints is arithmetic, as the C relies on."""

from __future__ import annotations

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def wrap32(x: int) -> int:
    return (x + (1 << 31)) % (1 << 32) - (1 << 31)


def c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def srdhm(a: int, b: int) -> int:  # gemmlowp::SaturatingRoundingDoublingHighMul<int32>
    overflow = a == b == INT32_MIN
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return INT32_MAX if overflow else wrap32(c_div(ab + nudge, 1 << 31))


def rdbpot(x: int, exponent: int) -> int:  # gemmlowp::RoundingDivideByPOT
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def mbqm(x: int, m: int, shift: int) -> int:  # tflite::MultiplyByQuantizedMultiplier (double rounding)
    left = shift if shift > 0 else 0
    right = 0 if shift > 0 else -shift
    return rdbpot(srdhm(wrap32(x * (1 << left)), m), right)


def sat_mul_pot(x: int, exponent: int) -> int:  # SaturatingRoundingMultiplyByPOT<exponent>, int32
    if exponent == 0:
        return x
    if exponent < 0:
        return rdbpot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return x * (1 << exponent)


def rescale(x: int, src_bits: int, dst_bits: int) -> int:
    return sat_mul_pot(x, src_bits - dst_bits)


def exp_quarter(a: int) -> int:  # exp_on_interval_between_negative_one_quarter_and_0_excl
    constant_term, one_third = 1895147668, 715827883
    x = wrap32(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = sat_mul_pot(x4, -2)
    t = sat_mul_pot(wrap32(srdhm(wrap32(x4_over_4 + x3), one_third) + x2), -1)
    return wrap32(constant_term + srdhm(constant_term, wrap32(x + t)))


def exp_on_negative_values(a: int, integer_bits: int = 5) -> int:
    frac = 31 - integer_bits
    one_quarter = 1 << (frac - 2)
    mask = one_quarter - 1
    a_mod = wrap32((a & mask) - one_quarter)
    result = exp_quarter(rescale(a_mod, integer_bits, 0))
    remainder = wrap32(a_mod - a)
    for exponent, multiplier in (
        (-2, 1672461947),
        (-1, 1302514674),
        (0, 790015084),
        (1, 290630308),
        (2, 39332535),
        (3, 720401),
        (4, 242),
    ):
        if integer_bits > exponent and remainder & (1 << (frac + exponent)):
            result = srdhm(result, multiplier)
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):  # not reached for Q5.26
        result = 0
    return INT32_MAX if a == 0 else result


def one_over_one_plus_x(a: int) -> int:
    s = a + INT32_MAX
    half_denominator = c_div(s + (1 if s >= 0 else -1), 2)
    x = wrap32(1515870810 + srdhm(half_denominator, -1010580540))
    for _ in range(3):
        one_minus = wrap32((1 << 29) - srdhm(half_denominator, x))
        x = wrap32(x + rescale(srdhm(x, one_minus), 4, 2))
    return rescale(x, 1, 0)


def clz32(x: int) -> int:
    return 32 - (x & 0xFFFFFFFF).bit_length()


def softmax(logits: list[int], mult: int, left_shift: int, diff_min: int) -> list[int]:
    max_in_row = max([-128, *logits])
    sum_of_exps = 0
    for v in logits:
        diff = v - max_in_row
        if diff >= diff_min:
            rescaled = srdhm(wrap32(diff * (1 << left_shift)), mult)  # ...GreaterThanOne
            sum_of_exps = wrap32(sum_of_exps + rescale(exp_on_negative_values(rescaled), 0, 12))
    headroom_plus_one = clz32(sum_of_exps)
    num_bits_over_unit = 12 - headroom_plus_one
    shifted_sum_minus_one = wrap32(((sum_of_exps & 0xFFFFFFFF) << headroom_plus_one) - (1 << 31))
    shifted_scale = one_over_one_plus_x(shifted_sum_minus_one)
    exponent = num_bits_over_unit + 31 - 8
    out = []
    for v in logits:
        diff = v - max_in_row
        if diff >= diff_min:
            e = exp_on_negative_values(srdhm(wrap32(diff * (1 << left_shift)), mult))
            unsat = rdbpot(srdhm(shifted_scale, e), exponent)
            out.append(max(-128, min(127, unsat - 128)))
        else:
            out.append(-128)
    return out


def dense(x: list[int], x_zp: int, w, bias, mults, shifts, y_zp: int, act_min: int, act_max: int) -> list[int]:
    out = []
    for o in range(len(w)):
        acc = sum(int(w[o][i]) * (x[i] - x_zp) for i in range(len(x))) + int(bias[o])
        y = mbqm(wrap32(acc), mults[o], shifts[o]) + y_zp
        out.append(max(act_min, min(act_max, y)))
    return out
