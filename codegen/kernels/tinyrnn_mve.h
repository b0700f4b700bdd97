/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * Helium (MVE) forms of the scalar fixed-point and activation functions, four int32
 * lanes at a time, each lane bit-exact with its scalar twin in tinyrnn_fixedpoint.h and
 * tinyrnn_activation_s16.h (and so with the golden model). Only MVE builds include it.
 */
#ifndef TINYRNN_MVE_H
#define TINYRNN_MVE_H

#include <arm_mve.h>

#include "tinyrnn_activation_s16.h"
#include "tinyrnn_fixedpoint.h"

/* Each lane saturated to a signed `bits`-bit range (a constant): a saturating shift to the
 * top of the word and back, no constant vectors. */
#define tinyrnn_ssat_mve(x, bits) vshrq_n_s32(vqshlq_n_s32((x), 32 - (bits)), 32 - (bits))

/* tinyrnn_requantize_fast per lane: VRMULH is SMMULR's round(a * b / 2^32), ties up; a
 * negative VSHL count is the flooring right shift. */
static inline int32x4_t tinyrnn_requantize_fast_mve(int32x4_t acc, const tinyrnn_requant_t *q)
{
    const int32x4_t x = vrmulhq_s32(vshlq_r_s32(acc, q->left), vdupq_n_s32(q->multiplier));
    const int32x4_t sign = vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_s32(x), 31));
    const int32x4_t nudged = vsubq_s32(vaddq_n_s32(x, q->round), vmulq_n_s32(sign, q->neg));
    return vshlq_r_s32(nudged, -q->right);
}

/* tinyrnn_act_prescale_fixed per lane. */
static inline int32x4_t tinyrnn_act_prescale_mve(int32x4_t c, int32_t mul, int32_t round, int32_t shift)
{
    return vshlq_r_s32(vaddq_n_s32(vmulq_n_s32(c, mul), round), -shift);
}

/* The table interpolation of tinyrnn_act_interpolate at a = |v| (index uh = a >> ix <
 * 255, which the callers guarantee or mask; frac = a - uh 2^ix, which for a masked lane
 * is some value its caller replaces): (lut[uh] 2^ix + 2^(out-1) + frac (lut[uh+1] -
 * lut[uh])) >> out, all positive (the table rises). */
static inline int32x4_t tinyrnn_interpolate_mve(int32x4_t a, uint32x4_t uh, int32_t ix, int32_t out,
                                                const uint16_t *lut)
{
    const int32x4_t ua = vreinterpretq_s32_u32(vldrhq_gather_shifted_offset_u32(lut, uh));
    const int32x4_t ub = vreinterpretq_s32_u32(vldrhq_gather_shifted_offset_u32(lut + 1, uh));
    const int32x4_t frac = vsubq_s32(a, vshlq_r_s32(vreinterpretq_s32_u32(uh), ix));
    const int32x4_t r = vaddq_s32(vshlq_r_s32(ua, ix), vmulq_s32(frac, vsubq_s32(ub, ua)));
    return vshlq_r_s32(vaddq_n_s32(r, 1 << (out - 1)), -out);
}

/* tinyrnn_sigmoid_gate per lane (|v| < 255 * 2^9: no end test). */
#if defined(__GNUC__)
__attribute__((noinline)) /* three calls per block, one copy (the LSTM's code budget) */
#endif
static int32x4_t tinyrnn_sigmoid_gate_mve(int32x4_t v, const uint16_t *lut)
{
    const int32x4_t a = vabsq_s32(v);
    const int32x4_t s = tinyrnn_interpolate_mve(a, vshrq_n_u32(vreinterpretq_u32_s32(a), 9), 9, 10, lut);
    return vpselq_s32(s, vnegq_s32(vsubq_n_s32(s, 1 << 15)), vcmpgeq_n_s32(v, 0));
}

/* tinyrnn_tanh_prescaled per lane: past the table end s is 0xFFFF (the index is clamped
 * so the gather stays inside the table; the lane's value is replaced). */
#if defined(__GNUC__)
__attribute__((noinline)) /* twice per block, one copy: the LSTM layer's code stays within 3 KB */
#endif
static int32x4_t tinyrnn_tanh_prescaled_mve(int32x4_t v, const uint16_t *lut)
{
    const int32x4_t a = vabsq_s32(v);
    const uint32x4_t uh = vshrq_n_u32(vreinterpretq_u32_s32(a), 8);
    const uint32x4_t last = vdupq_n_u32(TINYRNN_SIGMOID_LUT_SIZE - 2);
    const int32x4_t inside = tinyrnn_interpolate_mve(a, vminq_u32(uh, last), 8, 8, lut);
    const int32x4_t s = vpselq_s32(vdupq_n_s32(0xFFFF), inside, vcmphiq_u32(uh, last));
    const int32x4_t positive = vsubq_n_s32(s, 1 << 15);
    return vpselq_s32(positive, vnegq_s32(positive), vcmpgeq_n_s32(v, 0));
}

#endif /* TINYRNN_MVE_H */
