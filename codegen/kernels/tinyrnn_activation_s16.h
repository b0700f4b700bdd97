/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * int16 sigmoid and tanh by table + linear interpolation, TFLite Micro's integer LSTM
 * definition. Golden twin: tinyrnn/golden/activation_s16.py (the spec).
 *
 * The 256-entry uint16 table sigmoid(i/24) in Q0.16 is never typed in here: codegen
 * emits it from tinyrnn.golden.lut into the model's generated weights file and the
 * caller passes a pointer to it. Input Q3.12 scaled by 2^left_shift, output Q0.15.
 * The single-value functions are static inline so the fused LSTM loop pays no call.
 */
#ifndef TINYRNN_ACTIVATION_S16_H
#define TINYRNN_ACTIVATION_S16_H

#include <stdint.h>

#include "tinyrnn_fixedpoint.h"

#define TINYRNN_SIGMOID_LUT_SIZE 256
#define TINYRNN_ACT_LEFT_SHIFT_MIN (-31)
#define TINYRNN_ACT_LEFT_SHIFT_MAX 14

typedef enum {
    TINYRNN_ACT_SIGMOID = 0,
    TINYRNN_ACT_TANH = 1
} tinyrnn_activation_s16_type;

/* x * 3 * 2^left_shift, with a rounding right shift when left_shift < 0. The factor 3
 * makes the table index |3x| (table step 1/24 = 1/(3*8)). For int16 x and left_shift in
 * [-31, 14] nothing overflows int32 and the result is never INT32_MIN. */
static inline int32_t tinyrnn_act_prescale(int32_t x, int32_t left_shift)
{
    if (left_shift >= 0) {
        return x * (3 << left_shift);
    }
    return tinyrnn_asr_s32(x * 3 + (1 << (-left_shift - 1)), -left_shift);
}

/* Interpolated table value scaled by 2^index_shift, or `saturated` past the table end. */
static inline int32_t tinyrnn_act_interpolate(int32_t abs_x, int32_t index_shift, int32_t saturated,
                                              const uint16_t *lut)
{
    const int32_t uh = abs_x >> index_shift;
    if (uh >= TINYRNN_SIGMOID_LUT_SIZE - 1) {
        return saturated;
    }
    const int32_t frac = abs_x & ((1 << index_shift) - 1);
    const int32_t ua = lut[uh];
    const int32_t ub = lut[uh + 1];
    return (ua << index_shift) + frac * (ub - ua);
}

/* sigmoid: Q3.12 (x 2^left_shift) -> Q0.15 in [0, 32767]; negative inputs by symmetry
 * 1 - sigmoid(|x|), with TFLM's exact rounding offsets. */
static inline int16_t tinyrnn_sigmoid_s16_one(int32_t x, int32_t left_shift, const uint16_t *lut)
{
    const int32_t v = tinyrnn_act_prescale(x, left_shift);
    int32_t r = tinyrnn_act_interpolate(v >= 0 ? v : -v, 9, 0x7FFF << 10, lut);
    r = v >= 0 ? r + (1 << 9) : (1 << 25) - r + (1 << 9) - 1;
    return tinyrnn_wrap_s16(tinyrnn_asr_s32(r, 10));
}

/* tanh(x) = 2 sigmoid(2x) - 1 on the same table with one index bit less:
 * Q3.12 (x 2^left_shift) -> Q0.15 in [-32768, 32767]. */
static inline int16_t tinyrnn_tanh_s16_one(int32_t x, int32_t left_shift, const uint16_t *lut)
{
    const int32_t v = tinyrnn_act_prescale(x, left_shift);
    int32_t r = tinyrnn_act_interpolate(v >= 0 ? v : -v, 8, 0xFFFF << 8, lut);
    r = v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
    return tinyrnn_wrap_s16(tinyrnn_asr_s32(r, 8));
}

/* Vector form (the public kernel): out[k] = act(in[k]) for k < n; in and out may alias.
 * left_shift in [TINYRNN_ACT_LEFT_SHIFT_MIN, TINYRNN_ACT_LEFT_SHIFT_MAX]. */
void tinyrnn_activation_s16(const int16_t *in, int16_t *out, int32_t n, int32_t left_shift,
                            tinyrnn_activation_s16_type type, const uint16_t *lut);

#endif /* TINYRNN_ACTIVATION_S16_H */
