/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * int8 LSTM time step. Golden twin: tinyrnn/core/golden/lstm_s8.py (the spec). */
#include "tinyrnn_lstm_s8.h"

#include "tinyrnn_activation_s16.h"
#include "tinyrnn_dot.h"

/* The requantization the cell uses: tinyrnn_requantize_fast, inlined (every descriptor
 * of the layer has left >= 1), or tinyrnn_requantize_any. */
typedef int32_t (*tinyrnn_requant_fn)(int32_t acc, const tinyrnn_requant_t *q);

/* Q3.12 pre-activation of gate g: each matmul requantized separately, the input part
 * saturated to int16 first, then the sum saturated again (TFLM's order; it matters at
 * the rails). A 17-bit clamp of the recurrent part keeps the sum in int32 without
 * changing the saturated result. Returned as the table input 3 * pre. */
TINYRNN_INLINE int32_t tinyrnn_lstm_gate(const tinyrnn_lstm_s8_params *p, const int32_t *acc, int32_t g,
                                         tinyrnn_requant_fn rq)
{
    const int32_t from_x = TINYRNN_SSAT(rq(acc[TINYRNN_LSTM_ACC_X(g)], &p->gate[TINYRNN_LSTM_RQ_X(g)]), 16);
    const int32_t from_h = TINYRNN_SSAT(rq(acc[TINYRNN_LSTM_ACC_H(g)], &p->gate[TINYRNN_LSTM_RQ_H(g)]), 17);
    return 3 * TINYRNN_SSAT(from_x + from_h, 16);
}

/* Accumulators of one unit (TINYRNN_LSTM_ACC_X/H) -> new cell value (stored in *c) and
 * new int8 hidden value. */
TINYRNN_INLINE int8_t tinyrnn_lstm_cell(const tinyrnn_lstm_s8_params *p, const int32_t *acc, int16_t *c,
                                        tinyrnn_requant_fn rq)
{
    const uint16_t *lut = p->sigmoid_lut;
    const int32_t i_t = tinyrnn_sigmoid_gate(tinyrnn_lstm_gate(p, acc, TINYRNN_LSTM_INPUT, rq), lut);
    const int32_t f_t = tinyrnn_sigmoid_gate(tinyrnn_lstm_gate(p, acc, TINYRNN_LSTM_FORGET, rq), lut);
    const int32_t g_t = tinyrnn_tanh_prescaled(tinyrnn_lstm_gate(p, acc, TINYRNN_LSTM_CELL, rq), lut);
    const int32_t o_t = tinyrnn_sigmoid_gate(tinyrnn_lstm_gate(p, acc, TINYRNN_LSTM_OUTPUT, rq), lut);

    /* Products of two int16 values fit int32 (|.| < 2^30); each term saturated first. */
    const int32_t forget_term = TINYRNN_SSAT(rq(f_t * *c, &p->forget_to_cell), 16);
    const int32_t input_term = TINYRNN_SSAT(rq(i_t * g_t, &p->input_to_cell), 16);
    int32_t c_new = TINYRNN_SSAT(forget_term + input_term, 16);
    if (p->cell_clipped) {
        c_new = tinyrnn_clamp_s32(c_new, p->cell_min, p->cell_max);
    }
    *c = (int16_t)c_new;

    const int32_t v = tinyrnn_act_prescale_fixed(c_new, p->tanh_cell_mul, p->tanh_cell_round, p->tanh_cell_shift);
    const int32_t hid = rq(o_t * tinyrnn_tanh_prescaled(v, lut), &p->hidden);
    /* sat8(clamp(hid, +-2^8) + zp): a 10-bit clamp gives the same saturated sum. */
    return (int8_t)TINYRNN_SSAT(TINYRNN_SSAT(hid, 10) + p->hidden_zero_point, 8);
}

#if TINYRNN_PATH == TINYRNN_PATH_MVE
#include "tinyrnn_mve.h"

/* Units per Helium block: the cells of four units run as the lanes of one vector. */
#define TINYRNN_LSTM_LANES 4

/* tinyrnn_lstm_gate for the block's units, from their accumulators acc[unit][8]. */
TINYRNN_INLINE int32x4_t tinyrnn_lstm_gate_mve(const tinyrnn_lstm_s8_params *p, const int32_t *acc, int32_t g,
                                               mve_pred16_t lanes)
{
    const uint32x4_t units = vidupq_n_u32(0, 8); /* 2 * TINYRNN_LSTM_GATES words apart */
    const int32x4_t ax = vldrwq_gather_shifted_offset_z_s32(acc + TINYRNN_LSTM_ACC_X(g), units, lanes);
    const int32x4_t ah = vldrwq_gather_shifted_offset_z_s32(acc + TINYRNN_LSTM_ACC_H(g), units, lanes);
    const int32x4_t from_x = tinyrnn_ssat_mve(tinyrnn_requantize_fast_mve(ax, &p->gate[TINYRNN_LSTM_RQ_X(g)]), 16);
    const int32x4_t from_h = tinyrnn_ssat_mve(tinyrnn_requantize_fast_mve(ah, &p->gate[TINYRNN_LSTM_RQ_H(g)]), 17);
    return vmulq_n_s32(tinyrnn_ssat_mve(vaddq_s32(from_x, from_h), 16), 3);
}

/* tinyrnn_lstm_cell for n <= 4 units at once: their c (in place) and new h. */
static void tinyrnn_lstm_cells_mve(const tinyrnn_lstm_s8_params *p, const int32_t *acc, int16_t *c, int8_t *h,
                                   int32_t n)
{
    const mve_pred16_t lanes = vctp32q((uint32_t)n);
    const uint16_t *lut = p->sigmoid_lut;
    const int32x4_t i_t = tinyrnn_sigmoid_gate_mve(tinyrnn_lstm_gate_mve(p, acc, TINYRNN_LSTM_INPUT, lanes), lut);
    const int32x4_t f_t = tinyrnn_sigmoid_gate_mve(tinyrnn_lstm_gate_mve(p, acc, TINYRNN_LSTM_FORGET, lanes), lut);
    const int32x4_t g_t = tinyrnn_tanh_prescaled_mve(tinyrnn_lstm_gate_mve(p, acc, TINYRNN_LSTM_CELL, lanes), lut);
    const int32x4_t o_t = tinyrnn_sigmoid_gate_mve(tinyrnn_lstm_gate_mve(p, acc, TINYRNN_LSTM_OUTPUT, lanes), lut);

    const int32x4_t c_old = vldrhq_z_s32(c, lanes);
    const int32x4_t forget_term =
        tinyrnn_ssat_mve(tinyrnn_requantize_fast_mve(vmulq_s32(f_t, c_old), &p->forget_to_cell), 16);
    const int32x4_t input_term =
        tinyrnn_ssat_mve(tinyrnn_requantize_fast_mve(vmulq_s32(i_t, g_t), &p->input_to_cell), 16);
    int32x4_t c_new = tinyrnn_ssat_mve(vaddq_s32(forget_term, input_term), 16);
    if (p->cell_clipped) {
        c_new = vmaxq_s32(vminq_s32(c_new, vdupq_n_s32(p->cell_max)), vdupq_n_s32(p->cell_min));
    }
    vstrhq_p_s32(c, c_new, lanes);

    const int32x4_t v = tinyrnn_act_prescale_mve(c_new, p->tanh_cell_mul, p->tanh_cell_round, p->tanh_cell_shift);
    const int32x4_t hid =
        tinyrnn_requantize_fast_mve(vmulq_s32(o_t, tinyrnn_tanh_prescaled_mve(v, lut)), &p->hidden);
    vstrbq_p_s32(h, tinyrnn_ssat_mve(vaddq_n_s32(tinyrnn_ssat_mve(hid, 10), p->hidden_zero_point), 8), lanes);
}
#endif

/* A layer with a descriptor only the reference computation handles (codegen sets
 * p->reference; never for a quantizer's model) runs its cells out of line. */
TINYRNN_NOINLINE int8_t tinyrnn_lstm_cell_reference(const tinyrnn_lstm_s8_params *p, const int32_t *acc, int16_t *c)
{
    return tinyrnn_lstm_cell(p, acc, c, tinyrnn_requantize_any);
}

void tinyrnn_lstm_s8_step(const tinyrnn_lstm_s8_params *p, const int8_t *x, int8_t *h, int16_t *c,
                          int32_t *work)
{
    const int32_t n_in = p->input_size;
    const int32_t n_h = p->hidden_size;
    const tinyrnn_weight_t *w_x = p->w_x;
    const tinyrnn_weight_t *w_h = p->w_h;
    const int32_t *bias = p->bias;
    /* The matmuls read staged copies, so unit j may overwrite h[j] at once. */
    int32_t *x_staged = work;
    int32_t *h_staged = work + TINYRNN_STAGE_WORDS(n_in);
    tinyrnn_stage(x_staged, x, n_in);
    tinyrnn_stage(h_staged, h, n_h);

#if TINYRNN_PATH == TINYRNN_PATH_MVE
    /* The dots of four units, then their cells as one vector each. */
    for (int32_t j0 = 0; j0 < n_h && !p->reference; j0 += TINYRNN_LSTM_LANES) {
        int32_t acc[TINYRNN_LSTM_LANES][2 * TINYRNN_LSTM_GATES];
        const int32_t n = n_h - j0 < TINYRNN_LSTM_LANES ? n_h - j0 : TINYRNN_LSTM_LANES;
        for (int32_t u = 0; u < n; ++u, bias += 2 * TINYRNN_LSTM_GATES) {
            w_x = tinyrnn_dot(w_x, x_staged, n_in, TINYRNN_LSTM_GATES, bias, acc[u]);
            w_h = tinyrnn_dot(w_h, h_staged, n_h, TINYRNN_LSTM_GATES, bias + TINYRNN_LSTM_ACC_H(0),
                              acc[u] + TINYRNN_LSTM_ACC_H(0));
        }
        tinyrnn_lstm_cells_mve(p, &acc[0][0], c + j0, h + j0, n);
    }
    if (!p->reference) {
        return;
    }
#endif
    for (int32_t j = 0; j < n_h; ++j, bias += 2 * TINYRNN_LSTM_GATES) {
        int32_t acc[2 * TINYRNN_LSTM_GATES];
        w_x = tinyrnn_dot(w_x, x_staged, n_in, TINYRNN_LSTM_GATES, bias, acc);
        w_h = tinyrnn_dot(w_h, h_staged, n_h, TINYRNN_LSTM_GATES, bias + TINYRNN_LSTM_ACC_H(0),
                          acc + TINYRNN_LSTM_ACC_H(0));
#if TINYRNN_PATH == TINYRNN_PATH_MVE
        h[j] = tinyrnn_lstm_cell_reference(p, acc, &c[j]); /* the vector blocks ran the fast form */
#else
        h[j] = TINYRNN_UNLIKELY(p->reference) ? tinyrnn_lstm_cell_reference(p, acc, &c[j])
                                              : tinyrnn_lstm_cell(p, acc, &c[j], tinyrnn_requantize_fast);
#endif
    }
}
