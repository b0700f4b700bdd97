/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * Fixed-point primitives shared by every integer kernel.
 * Golden twin: tinyrnn/core/golden/fixedpoint.py (the spec; results must match bit for bit).
 *
 * Everything here is free of undefined behaviour for all int32 inputs and the documented
 * shift ranges: right shifts of negative values are written as complements (the compiler
 * still emits one ASR), left shifts go through int64 or are range-checked first.
 */
#ifndef TINYRNN_FIXEDPOINT_H
#define TINYRNN_FIXEDPOINT_H

#include <stdint.h>

#include "tinyrnn_arch.h"

static inline int32_t tinyrnn_clamp_s32(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* x saturated to a signed `bits`-bit range (a constant): one SSAT where the core has it
 * (compilers rarely find SSAT themselves once the bounds are hoisted into registers). */
#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__)
/* The builtin under ACLE's __ssat, whose gcc 12 macro trips -Wsign-conversion. */
#define TINYRNN_SSAT(x, bits) ((int32_t)__builtin_arm_ssat((x), (bits)))
#else
#define TINYRNN_SSAT(x, bits) tinyrnn_clamp_s32((x), -(1 << ((bits)-1)), (1 << ((bits)-1)) - 1)
#endif

static inline int8_t tinyrnn_sat_s8(int32_t x)
{
    return (int8_t)TINYRNN_SSAT(x, 8);
}

static inline int16_t tinyrnn_sat_s16(int32_t x)
{
    return (int16_t)TINYRNN_SSAT(x, 16);
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

/* One requantization with everything codegen can precompute (tinyrnn.codegen.layout):
 * the result equals tinyrnn_requantize(acc, multiplier, shift) for every acc whose
 * magnitude is within the bound codegen checked. */
typedef struct {
    int32_t multiplier;
    int32_t left;  /* max(shift, 0) + 1 when (bound << left) fits int32; 0: only the reference
                    * computation is exact (tinyrnn_requantize_any) */
    int32_t right; /* max(-shift, 0) */
    int32_t round; /* 2^(right - 1), 0 when right == 0 */
    int32_t neg;   /* 1 when right > 0 (a negative tie rounds away from zero) */
    int32_t shift; /* as given, for the reference path */
} tinyrnn_requant_t;

/* round(a * b / 2^32), ties up, for |a| < 2^31. Cores without a long multiply (Armv6-M,
 * or any build with -DTINYRNN_MUL_HIGH_16) use four 16x16 products out of line
 * (tinyrnn_support.c): exact, and faster than libgcc's 64-bit multiply. */
#if defined(__ARM_ARCH_ISA_THUMB) && __ARM_ARCH_ISA_THUMB == 1 && !defined(TINYRNN_MUL_HIGH_16)
#define TINYRNN_MUL_HIGH_16 1
#endif
#if defined(TINYRNN_MUL_HIGH_16)
int32_t tinyrnn_mul_high_round(int32_t a, int32_t b); /* tinyrnn_support.c */
#else
/* SMMULR on DSP cores; else the 64-bit product's high word plus its low word's top bit. */
static inline int32_t tinyrnn_mul_high_round(int32_t a, int32_t b)
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    const uint64_t p = (uint64_t)((int64_t)a * b);
    return tinyrnn_s32_from_u32((uint32_t)(p >> 32) + ((uint32_t)p >> 31));
#endif
}
#endif

/* tinyrnn_requantize on a precomputed descriptor with left >= 1 (codegen checked that
 * |acc| << left < 2^31 for every reachable acc). With a2 = acc << (shift + 1) exact,
 * round(a2 * m / 2^32) is the doubling high multiply (ties up, and no INT32_MIN^2 case
 * since |a2| < 2^31); the rounding divide is floor((x + 2^(e-1) - [x < 0]) / 2^e), which
 * cannot overflow as |x| < 2^30. */
static inline int32_t tinyrnn_requantize_fast(int32_t acc, const tinyrnn_requant_t *q)
{
    const int32_t x = tinyrnn_mul_high_round(tinyrnn_s32_from_u32((uint32_t)acc << q->left), q->multiplier);
    return tinyrnn_asr_s32(x + q->round - (int32_t)(((uint32_t)x >> 31) & (uint32_t)q->neg), q->right);
}

/* Any descriptor, any acc: the fast form where codegen allowed it, else the reference
 * (tinyrnn_support.c). Only layers with a descriptor that needs the reference call it,
 * never a quantizer's model: cold, so the compiler keeps the hot loops' registers free
 * around the call sites and optimizes the reference paths for size. */
#if defined(__GNUC__)
__attribute__((cold))
#endif
int32_t tinyrnn_requantize_any(int32_t acc, const tinyrnn_requant_t *q);

/* 16x8 kernels (golden requantize_s64). Arithmetic right shift of an int64 by n in
 * [1, 62], spelled without relying on >> of negatives (implementation-defined in C99). */
static inline int64_t tinyrnn_asr_s64(int64_t x, int32_t n)
{
    return x < 0 ? ~(~x >> n) : x >> n;
}

/* sat16(round(acc * mul / 2^rshift)), TFLM's 64-bit MultiplyByQuantizedMultiplier with
 * the multiplier already rounded to Q15 (mul in [0, 2^15], rshift = 15 - shift in
 * [8, 46]): with |acc| < 2^47 the product fits int64 (codegen and validate check both). */
static inline int32_t tinyrnn_requantize_s64_sat16(int64_t acc, int32_t mul, int32_t rshift)
{
    const int64_t r = tinyrnn_asr_s64(acc * mul + ((int64_t)1 << (rshift - 1)), rshift);
    return r > INT16_MAX ? INT16_MAX : (r < INT16_MIN ? INT16_MIN : (int32_t)r);
}

/* acc + sum_k w[k] * v[k] over int8 weights and int16 values, in int64 (the 16x8
 * kernels' matmul; |acc| stays below 2^47 where codegen's bound holds). */
int64_t tinyrnn_dot_s16(const int8_t *w, const int16_t *v, int32_t n, int64_t acc);

/* The same over int16 weights (the 16x16 SimpleRNN). */
int64_t tinyrnn_dot_s16x16(const int16_t *w, const int16_t *v, int32_t n, int64_t acc);

#endif /* TINYRNN_FIXEDPOINT_H */
