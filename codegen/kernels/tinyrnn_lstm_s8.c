/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * int8 LSTM time step. Golden twin: tinyrnn/golden/lstm_s8.py (the spec). */
#include "tinyrnn_lstm_s8.h"

#include "tinyrnn_activation_s16.h"
#include "tinyrnn_fixedpoint.h"

/* acc[g] += dot(w + g*n, v) for the four gate rows of one unit, in a single pass over v
 * so each input element is loaded once for all four gates. The DSP/MVE paths will
 * replace this loop; everything around it stays. */
static inline void tinyrnn_lstm_dot4(const int8_t *w, const int8_t *v, int32_t n, int32_t acc[4])
{
    const int8_t *w0 = w;
    const int8_t *w1 = w + n;
    const int8_t *w2 = w + 2 * n;
    const int8_t *w3 = w + 3 * n;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (int32_t k = 0; k < n; ++k) {
        const int32_t vk = v[k];
        a0 += w0[k] * vk;
        a1 += w1[k] * vk;
        a2 += w2[k] * vk;
        a3 += w3[k] * vk;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* Q3.12 pre-activation: each matmul requantized separately, the input part saturated
 * to int16 first, then the sum saturated again (TFLM's order; it matters at the rails). */
static inline int32_t tinyrnn_lstm_preact(const tinyrnn_lstm_s8_params *p, int32_t g, int32_t acc_x,
                                          int32_t acc_h)
{
    const int16_t from_x = tinyrnn_sat_s16(tinyrnn_requantize(acc_x, p->gate_x_multiplier[g], p->gate_x_shift[g]));
    const int32_t from_h = tinyrnn_requantize(acc_h, p->gate_h_multiplier[g], p->gate_h_shift[g]);
    return tinyrnn_add_sat_s16(from_h, from_x);
}

/* Gates of one unit -> new cell value (stored in *c) and new int8 hidden value. */
static inline int8_t tinyrnn_lstm_cell(const tinyrnn_lstm_s8_params *p, const int32_t pre[4], int16_t *c)
{
    const uint16_t *lut = p->sigmoid_lut;
    const int32_t i_t = tinyrnn_sigmoid_s16_one(pre[0], 0, lut);
    const int32_t f_t = tinyrnn_sigmoid_s16_one(pre[1], 0, lut);
    const int32_t g_t = tinyrnn_tanh_s16_one(pre[2], 0, lut);
    const int32_t o_t = tinyrnn_sigmoid_s16_one(pre[3], 0, lut);

    /* Products of two int16 values fit int32; each term is saturated before the sum. */
    const int16_t forget_term =
        tinyrnn_sat_s16(tinyrnn_requantize(f_t * *c, p->forget_to_cell_multiplier, p->forget_to_cell_shift));
    const int16_t input_term =
        tinyrnn_sat_s16(tinyrnn_requantize(i_t * g_t, p->input_to_cell_multiplier, p->input_to_cell_shift));
    const int32_t c_new = tinyrnn_clamp_s32(tinyrnn_sat_s16(forget_term + input_term), p->cell_min, p->cell_max);
    *c = (int16_t)c_new;

    const int32_t tanh_c = tinyrnn_tanh_s16_one(c_new, p->tanh_cell_left_shift, lut);
    return tinyrnn_add_sat_s8(tinyrnn_requantize(o_t * tanh_c, p->hidden_multiplier, p->hidden_shift),
                              p->hidden_zero_point);
}

void tinyrnn_lstm_s8_step(const tinyrnn_lstm_s8_params *p, const int8_t *x, int8_t *h, int16_t *c,
                          int16_t *scratch)
{
    const int32_t n_in = p->input_size;
    const int32_t n_h = p->hidden_size;
    const int8_t *w_x = p->w_x;
    const int8_t *w_h = p->w_h;
    const int32_t *b_x = p->bias_x;
    const int32_t *b_h = p->bias_h;

    for (int32_t j = 0; j < n_h; ++j) {
        int32_t acc_x[4] = {b_x[0], b_x[1], b_x[2], b_x[3]};
        int32_t acc_h[4] = {b_h[0], b_h[1], b_h[2], b_h[3]};
        tinyrnn_lstm_dot4(w_x, x, n_in, acc_x);
        tinyrnn_lstm_dot4(w_h, h, n_h, acc_h);
        w_x += TINYRNN_LSTM_GATES * n_in;
        w_h += TINYRNN_LSTM_GATES * n_h;
        b_x += TINYRNN_LSTM_GATES;
        b_h += TINYRNN_LSTM_GATES;

        int32_t pre[4];
        for (int32_t g = 0; g < TINYRNN_LSTM_GATES; ++g) {
            pre[g] = tinyrnn_lstm_preact(p, g, acc_x[g], acc_h[g]);
        }
        /* The old h is still needed by units j+1.., so the new value waits in scratch. */
        scratch[j] = tinyrnn_lstm_cell(p, pre, &c[j]);
    }
    for (int32_t j = 0; j < n_h; ++j) {
        h[j] = (int8_t)scratch[j];
    }
}
