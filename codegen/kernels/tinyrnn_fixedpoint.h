/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * Fixed-point primitives shared by every integer kernel.
 * Golden twin: tinyrnn/golden/fixedpoint.py (the spec; results must match bit for bit).
 *
 * Everything here is free of undefined behaviour for all int32 inputs and the documented
 * shift ranges: right shifts of negative values are written as complements (the compiler
 * still emits one ASR), left shifts go through int64 or are range-checked first.
 */
#ifndef TINYRNN_FIXEDPOINT_H
#define TINYRNN_FIXEDPOINT_H

#include <stdint.h>

static inline int32_t tinyrnn_clamp_s32(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

static inline int8_t tinyrnn_sat_s8(int32_t x)
{
    return (int8_t)tinyrnn_clamp_s32(x, INT8_MIN, INT8_MAX);
}

static inline int16_t tinyrnn_sat_s16(int32_t x)
{
    return (int16_t)tinyrnn_clamp_s32(x, INT16_MIN, INT16_MAX);
}

/* sat16(a + b) for any int32 a and an int16 b. Clamping a to +-2^16 first cannot change
 * the saturated result (beyond that the sum saturates whatever b is) and keeps the sum
 * from overflowing int32. */
static inline int16_t tinyrnn_add_sat_s16(int32_t a, int32_t b)
{
    return tinyrnn_sat_s16(tinyrnn_clamp_s32(a, -(1 << 16), 1 << 16) + b);
}

/* sat8(a + b) for any int32 a and an int8 b, same reasoning with +-2^8. */
static inline int8_t tinyrnn_add_sat_s8(int32_t a, int32_t b)
{
    return tinyrnn_sat_s8(tinyrnn_clamp_s32(a, -(1 << 8), 1 << 8) + b);
}

/* Arithmetic (flooring) right shift by n in [0, 31]; C leaves >> of negatives to the
 * implementation, ~(~x >> n) is the same floor without relying on it. */
static inline int32_t tinyrnn_asr_s32(int32_t x, int32_t n)
{
    return x < 0 ? ~(~x >> n) : x >> n;
}

/* Low 16 bits of x as int16 (two's complement wrap), spelled portably: the golden
 * model's astype(int16) wraps, and so must we where TFLM's C code does. */
static inline int16_t tinyrnn_wrap_s16(int32_t x)
{
    const int32_t low = (int32_t)((uint32_t)x & 0xFFFFu);
    return (int16_t)(low > INT16_MAX ? low - 65536 : low);
}

/* gemmlowp SaturatingRoundingDoublingHighMul: round(a*b / 2^31), ties away from zero.
 * int64 division truncates toward zero, which is what the nudge is designed for. */
static inline int32_t tinyrnn_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? (int64_t)1 << 30 : 1 - ((int64_t)1 << 30);
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent rounded half away from zero,
 * exponent in [0, 31]. */
static inline int32_t tinyrnn_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return tinyrnn_asr_s32(x, exponent) + (remainder > threshold ? 1 : 0);
}

/* x * 2^n saturated to int32, n in [0, 30]. The golden model computes the shift in
 * int64 and relies on the quantizer to keep it in range; saturating instead gives the
 * same final (16- or 8-bit saturated) result whenever |multiplier| >= 2^30 or 0, which
 * codegen checks before it accepts a positive shift that could overflow. */
static inline int32_t tinyrnn_sat_left_shift_s32(int32_t x, int32_t n)
{
    const int64_t v = (int64_t)x * ((int64_t)1 << n);
    return v > INT32_MAX ? INT32_MAX : (v < INT32_MIN ? INT32_MIN : (int32_t)v);
}

/* MultiplyByQuantizedMultiplier (double rounding): acc * multiplier * 2^shift / 2^31.
 * shift in [-31, 30]; > 0 shifts left before the multiply, < 0 right after it. */
static inline int32_t tinyrnn_requantize(int32_t acc, int32_t multiplier, int32_t shift)
{
    if (shift > 0) {
        return tinyrnn_doubling_high_mul(tinyrnn_sat_left_shift_s32(acc, shift), multiplier);
    }
    return tinyrnn_rounding_divide_by_pot(tinyrnn_doubling_high_mul(acc, multiplier), -shift);
}

#endif /* TINYRNN_FIXEDPOINT_H */
