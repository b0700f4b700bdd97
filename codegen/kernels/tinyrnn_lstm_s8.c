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

    for (int32_t j = 0; j < n_h; ++j, bias += 2 * TINYRNN_LSTM_GATES) {
        int32_t acc[2 * TINYRNN_LSTM_GATES];
        w_x = tinyrnn_dot(w_x, x_staged, n_in, TINYRNN_LSTM_GATES, bias, acc);
        w_h = tinyrnn_dot(w_h, h_staged, n_h, TINYRNN_LSTM_GATES, bias + TINYRNN_LSTM_ACC_H(0),
                          acc + TINYRNN_LSTM_ACC_H(0));
        h[j] = TINYRNN_UNLIKELY(p->reference) ? tinyrnn_lstm_cell_reference(p, acc, &c[j])
                                              : tinyrnn_lstm_cell(p, acc, &c[j], tinyrnn_requantize_fast);
    }
}
