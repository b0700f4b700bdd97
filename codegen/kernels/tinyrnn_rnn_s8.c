/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * int8 SimpleRNN time step. Golden twin: tinyrnn/core/golden/rnn_s8.py (the spec). */
#include "tinyrnn_rnn_s8.h"

#include "tinyrnn_activation_s16.h"
#include "tinyrnn_dot.h"

typedef int32_t (*tinyrnn_rnn_requant_fn)(int32_t acc, const tinyrnn_requant_t *q);

/* New int8 state of one unit from its two accumulators. The input part is saturated to
 * int16 first, then the sum (the LSTM's order); a 17-bit clamp of the recurrent part
 * keeps the sum in int32 without changing the saturated result. */
TINYRNN_INLINE int8_t tinyrnn_rnn_unit(const tinyrnn_rnn_s8_params *p, int32_t acc_x, int32_t acc_h,
                                       tinyrnn_rnn_requant_fn rq)
{
    const int32_t from_x = TINYRNN_SSAT(rq(acc_x, &p->x_rq), 16);
    const int32_t from_h = TINYRNN_SSAT(rq(acc_h, &p->h_rq), 17);
    const int32_t pre = TINYRNN_SSAT(from_x + from_h, 16);
    const int32_t out = p->tanh ? tinyrnn_tanh_prescaled(3 * pre, p->sigmoid_lut) : pre;
    /* |out| <= 2^15: the shifted value plus an int8 zero point fits easily. */
    const int32_t h = tinyrnn_rounding_divide_by_pot(out, p->output_shift) + p->hidden_zero_point;
    return (int8_t)tinyrnn_clamp_s32(h, p->activation_min, 127);
}

/* A layer with a descriptor only the reference computation handles (codegen sets
 * p->reference; never for a quantizer's model) runs its units out of line. */
TINYRNN_NOINLINE int8_t tinyrnn_rnn_unit_reference(const tinyrnn_rnn_s8_params *p, int32_t acc_x, int32_t acc_h)
{
    return tinyrnn_rnn_unit(p, acc_x, acc_h, tinyrnn_requantize_any);
}

void tinyrnn_rnn_s8_step(const tinyrnn_rnn_s8_params *p, const int8_t *x, int8_t *h, int32_t *work)
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

    for (int32_t j = 0; j < n_h; j += TINYRNN_RNN_BLOCK, bias += 2 * TINYRNN_RNN_BLOCK) {
        int32_t acc[2 * TINYRNN_RNN_BLOCK];
        w_x = tinyrnn_dot(w_x, x_staged, n_in, TINYRNN_RNN_BLOCK, bias, acc);
        w_h = tinyrnn_dot(w_h, h_staged, n_h, TINYRNN_RNN_BLOCK, bias + TINYRNN_RNN_BLOCK, acc + TINYRNN_RNN_BLOCK);
        const int32_t units = n_h - j < TINYRNN_RNN_BLOCK ? n_h - j : TINYRNN_RNN_BLOCK;
        for (int32_t r = 0; r < units; ++r) {
            h[j + r] = TINYRNN_UNLIKELY(p->reference)
                           ? tinyrnn_rnn_unit_reference(p, acc[r], acc[TINYRNN_RNN_BLOCK + r])
                           : tinyrnn_rnn_unit(p, acc[r], acc[TINYRNN_RNN_BLOCK + r], tinyrnn_requantize_fast);
        }
    }
}
