/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * 16x8 SimpleRNN time step. Golden twin: tinyrnn/core/golden/rnn_s16.py (the spec). */
#include "tinyrnn_rnn_s16.h"

void tinyrnn_rnn_s16_step(const tinyrnn_rnn_s16_params *p, const int16_t *x, int16_t *h, int16_t *work)
{
    const int32_t n_in = p->input_size, n_h = p->hidden_size;
    for (int32_t j = 0; j < n_h; ++j) {
        work[j] = h[j];
    }
    const int8_t *w_x = p->w_x, *w_h = p->w_h;
    for (int32_t j = 0; j < n_h; ++j, w_x += n_in, w_h += n_h) {
        const int32_t from_x = tinyrnn_requantize_s64_sat16(tinyrnn_dot_s16(w_x, x, n_in, p->bias[j]), p->mul[0],
                                                            p->rshift[0]);
        h[j] = tinyrnn_rnn_s16_unit(p, from_x, tinyrnn_dot_s16(w_h, work, n_h, 0));
    }
}
