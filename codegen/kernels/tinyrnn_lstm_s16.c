/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * 16x8 LSTM time step. Golden twin: tinyrnn/core/golden/lstm_s16.py (the spec). */
#include "tinyrnn_lstm_s16.h"

#include "tinyrnn_activation_s16.h"

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
