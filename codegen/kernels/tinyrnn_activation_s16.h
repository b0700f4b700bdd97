/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * int16 sigmoid and tanh by table + linear interpolation, TFLite Micro's integer LSTM
 * definition. Golden twin: tinyrnn/core/golden/activation_s16.py (the spec).
 *
 * The 256-entry uint16 table sigmoid(i/24) in Q0.16 is never typed in here: codegen
 * emits it from tinyrnn.core.golden.lut into the model's generated weights file and the
 * caller passes a pointer to it. Input Q3.12 scaled by 2^left_shift, output Q0.15.
 * The single-value functions are static inline so the fused LSTM loop pays no call.
 */
#ifndef TINYRNN_ACTIVATION_S16_H
#define TINYRNN_ACTIVATION_S16_H

#include <stdint.h>

#include "tinyrnn_fixedpoint.h"

#define TINYRNN_SIGMOID_LUT_SIZE 256

/* The LSTM's tanh(c) table input 3 * c * 2^s, s = cell_scale_power + 12 in [-31, 14], with
 * codegen's (mul, round, shift) = layout.tanh_prescale(s): (c * mul + round) >> shift, a
 * rounding right shift when s < 0. For int16 c nothing overflows int32. */
static inline int32_t tinyrnn_act_prescale_fixed(int32_t c, int32_t mul, int32_t round, int32_t shift)
{
    return tinyrnn_asr_s32(c * mul + round, shift);
}

/* Both functions interpolate the table at a = |v| (v = the prescaled input), index
 * bits above `ix`, and round once: s = (r + 2^(out-1)) >> out with
 * r = lut[u] * 2^ix + frac * (lut[u+1] - lut[u]), or `saturated` past the table end
 * (sigmoid: ix 9, out 10; tanh: ix 8, out 8). TFLM's negative branch,
 * (2^(16+ix) - r + 2^(out-1) - 1) >> out, equals 2^15 - s for every integer r, so both
 * signs share s. */
static inline int32_t tinyrnn_act_interpolate(int32_t v, int32_t ix, int32_t out, int32_t saturated,
                                              const uint16_t *lut)
{
    const int32_t a = v >= 0 ? v : -v;
    const int32_t uh = a >> ix;
    if (uh >= TINYRNN_SIGMOID_LUT_SIZE - 1) {
        return saturated;
    }
    const int32_t ua = lut[uh];
    const int32_t ub = lut[uh + 1];
    return ((ua << ix) + (1 << (out - 1)) + (a & ((1 << ix) - 1)) * (ub - ua)) >> out;
}

/* sigmoid of an already prescaled input v = 3 * (Q3.12 gate), |v| < 255 * 2^9 (no saturated
 * int16 gate times 3 reaches the table end, so there is no end test): Q0.15 in [0, 32767];
 * negative inputs by symmetry 1 - sigmoid(|v|), with TFLM's exact rounding. */
static inline int32_t tinyrnn_sigmoid_gate(int32_t v, const uint16_t *lut)
{
    const int32_t a = v >= 0 ? v : -v;
    const int32_t ua = lut[a >> 9];
    const int32_t ub = lut[(a >> 9) + 1];
    const int32_t s = ((ua << 9) + (1 << 9) + (a & 511) * (ub - ua)) >> 10;
    return v >= 0 ? s : (1 << 15) - s;
}

/* tanh(x) = 2 sigmoid(2x) - 1 of an already prescaled input v: Q0.15 in [-32767, 32767]. */
static inline int32_t tinyrnn_tanh_prescaled(int32_t v, const uint16_t *lut)
{
    const int32_t s = tinyrnn_act_interpolate(v, 8, 8, 0xFFFF, lut);
    return v >= 0 ? s - (1 << 15) : (1 << 15) - s;
}

#endif /* TINYRNN_ACTIVATION_S16_H */
