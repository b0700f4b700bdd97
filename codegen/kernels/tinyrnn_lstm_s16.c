/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * 16x8 LSTM time step. Golden twin: tinyrnn/core/golden/lstm_s16.py (the spec). */
#include "tinyrnn_lstm_s16.h"

#include "tinyrnn_activation_s16.h"
#include "tinyrnn_arch.h"

#if TINYRNN_PATH == TINYRNN_PATH_MVE
#include <arm_mve.h>
#endif

/* Arithmetic right shift of an int64 by n in [1, 62], spelled without relying on >> of
 * negatives (implementation-defined in C99). */
static inline int64_t tinyrnn_asr_s64(int64_t x, int32_t n)
{
    return x < 0 ? ~(~x >> n) : x >> n;
}

/* sat16(round(acc * mul / 2^rshift)), TFLM's 64-bit MultiplyByQuantizedMultiplier: with
 * |acc| < 2^47 and mul <= 2^15 the product fits int64. */
static inline int32_t tinyrnn_requantize_s64_sat16(int64_t acc, int32_t mul, int32_t rshift)
{
    const int64_t r = tinyrnn_asr_s64(acc * mul + ((int64_t)1 << (rshift - 1)), rshift);
    return r > INT16_MAX ? INT16_MAX : (r < INT16_MIN ? INT16_MIN : (int32_t)r);
}

/* acc + w . v in 64 bits (TFLM's 16x8 accumulator). Helium: 8 int8 weights widened by the
 * load against 8 int16 values per VMLALDAVA, the tail predicated. DSP: 4 weights per word,
 * SXTB16 splits them into (w0, w2), (w1, w3), PKHBT/PKHTB pair v the same way, two SMLALD;
 * the last n % 4 in C. */
static int64_t tinyrnn_dot_s16(const int8_t *w, const int16_t *v, int32_t n, int64_t acc)
{
    int32_t k = 0;
#if TINYRNN_PATH == TINYRNN_PATH_MVE
    for (; k < n; k += 8) {
        const mve_pred16_t lanes = vctp16q((uint32_t)(n - k));
        acc = vmlaldavaq_s16(acc, vldrbq_z_s16(w + k, lanes), vld1q_z_s16(v + k, lanes));
    }
#elif TINYRNN_DSP_FAMILY
    for (; k + 4 <= n; k += 4) {
        const uint32_t word = tinyrnn_read_u32(w + k);
        uint32_t v01, v23;
        memcpy(&v01, v + k, sizeof v01);
        memcpy(&v23, v + k + 2, sizeof v23);
        acc = tinyrnn_smlald(tinyrnn_sxtb16(word), tinyrnn_pack_lo16(v01, v23), acc);
        acc = tinyrnn_smlald(tinyrnn_sxtb16(tinyrnn_ror8(word)), tinyrnn_pack_hi16(v01, v23), acc);
    }
#endif
    for (; k < n; ++k) {
        acc += (int32_t)w[k] * (int32_t)v[k];
    }
    return acc;
}

/* Q3.12 pre-activation of gate g of unit j, times 3 (the table input): both matmuls
 * requantized and saturated separately, then their sum saturated (TFLM's order). */
static int32_t tinyrnn_lstm_s16_gate(const tinyrnn_lstm_s16_params *p, int32_t j, int32_t g, const int16_t *x,
                                     const int16_t *h)
{
    const int32_t n_in = p->input_size, n_h = p->hidden_size;
    const int64_t acc_x = tinyrnn_dot_s16(p->w_x + ((int64_t)j * 4 + g) * n_in, x, n_in, p->bias[j * 4 + g]);
    const int64_t acc_h = tinyrnn_dot_s16(p->w_h + ((int64_t)j * 4 + g) * n_h, h, n_h, 0);
    const int32_t from_x = tinyrnn_requantize_s64_sat16(acc_x, p->gate_mul[2 * g], p->gate_rshift[2 * g]);
    const int32_t from_h = tinyrnn_requantize_s64_sat16(acc_h, p->gate_mul[2 * g + 1], p->gate_rshift[2 * g + 1]);
    return 3 * tinyrnn_sat_s16(from_x + from_h);
}

void tinyrnn_lstm_s16_step(const tinyrnn_lstm_s16_params *p, const int16_t *x, int16_t *h, int16_t *c,
                           int16_t *work)
{
    const uint16_t *lut = p->sigmoid_lut;
    for (int32_t j = 0; j < p->hidden_size; ++j) {
        work[j] = h[j];
    }
    for (int32_t j = 0; j < p->hidden_size; ++j) {
        const int32_t i_t = tinyrnn_sigmoid_gate(tinyrnn_lstm_s16_gate(p, j, 0, x, work), lut);
        const int32_t f_t = tinyrnn_sigmoid_gate(tinyrnn_lstm_s16_gate(p, j, 1, x, work), lut);
        const int32_t g_t = tinyrnn_tanh_prescaled(tinyrnn_lstm_s16_gate(p, j, 2, x, work), lut);
        const int32_t o_t = tinyrnn_sigmoid_gate(tinyrnn_lstm_s16_gate(p, j, 3, x, work), lut);
        /* Products of two int16 values fit int32; each term saturated first (as lstm_s8). */
        const int32_t forget_term = tinyrnn_sat_s16(tinyrnn_requantize_any(f_t * c[j], &p->forget_to_cell));
        const int32_t input_term = tinyrnn_sat_s16(tinyrnn_requantize_any(i_t * g_t, &p->input_to_cell));
        const int32_t c_new = tinyrnn_clamp_s32(tinyrnn_sat_s16(forget_term + input_term), p->cell_min, p->cell_max);
        c[j] = (int16_t)c_new;
        const int32_t v = tinyrnn_act_prescale_fixed(c_new, p->tanh_cell_mul, p->tanh_cell_round, p->tanh_cell_shift);
        h[j] = tinyrnn_sat_s16(tinyrnn_requantize_any(o_t * tinyrnn_tanh_prescaled(v, lut), &p->hidden));
    }
}
