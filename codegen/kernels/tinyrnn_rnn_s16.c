/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * 16x8 SimpleRNN time step. Golden twin: tinyrnn/core/golden/rnn_s16.py (the spec). */
#include "tinyrnn_rnn_s16.h"

#include "tinyrnn_activation_s16.h"

void tinyrnn_rnn_s16_step(const tinyrnn_rnn_s16_params *p, const int16_t *x, int16_t *h, int16_t *work)
{
    const int32_t n_in = p->input_size, n_h = p->hidden_size;
    for (int32_t j = 0; j < n_h; ++j) {
        work[j] = h[j];
    }
    for (int32_t j = 0; j < n_h; ++j) {
        const int64_t acc_x = p->w_x ? tinyrnn_dot_s16(p->w_x + j * n_in, x, n_in, p->bias[j])
                                     : tinyrnn_dot_s16x16(p->w16_x + j * n_in, x, n_in, p->bias[j]);
        const int64_t acc_h = p->w_h ? tinyrnn_dot_s16(p->w_h + j * n_h, work, n_h, 0)
                                     : tinyrnn_dot_s16x16(p->w16_h + j * n_h, work, n_h, 0);
        const int32_t from_x = tinyrnn_requantize_s64_sat16(acc_x, p->mul[0], p->rshift[0]);
        const int32_t from_h = tinyrnn_requantize_s64_sat16(acc_h, p->mul[1], p->rshift[1]);
        /* The 16x8 LSTM's gate pre-activation (tinyrnn_lstm_s16_gate), written out: a shared
         * inline helper cost the LSTM 128-896 instructions per step (gcc 12, M4/M0). */
        const int32_t pre = tinyrnn_sat_s16(from_x + from_h);
        /* Q3.12 times 3 is the table's input (as the LSTM's gates). */
        h[j] = (int16_t)(p->tanh ? tinyrnn_tanh_prescaled(3 * pre, p->sigmoid_lut) : (pre > 0 ? pre : 0));
    }
}
