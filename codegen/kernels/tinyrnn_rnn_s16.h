/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * 16x8 SimpleRNN, h = act(W x + U h + b): int16 x/h (zero points 0), int8 weights (or
 * int16: the 16x16 SimpleRNN, for recurrences int8 weights cannot keep), int64 bias, each matmul requantized by TFLM's 64-bit rule to an int16 pre-activation and the
 * two summed with saturation (the 16x8 LSTM's gate). tanh: pre-activation Q3.12, state
 * Q0.15 from the int16 table; relu: the state is max(pre, 0).
 * Golden twin: tinyrnn/core/golden/rnn_s16.py (the spec). The dot products have DSP
 * (SMLALD) and Helium (VMLALDAVA) paths. Every integer in the params struct is computed
 * in Python; the matmul accumulators are int64 and must stay within +-2^47.
 */
#ifndef TINYRNN_RNN_S16_H
#define TINYRNN_RNN_S16_H

#include <stdint.h>

#include "tinyrnn_activation_s16.h"
#include "tinyrnn_fixedpoint.h"

typedef struct {
    int32_t input_size;  /* I */
    int32_t hidden_size; /* H */
    int32_t tanh;        /* 1: tanh, 0: relu */
    const int8_t *w_x;    /* [H][I] unit rows over x (tinyrnn_rnn_s16_step) */
    const int8_t *w_h;    /* [H][H] unit rows over h */
    const int16_t *w16_x; /* the same rows as int16 (tinyrnn_rnn_s16x16_step; the other pair is NULL) */
    const int16_t *w16_h;
    const int64_t *bias; /* [H] input-matmul biases (the recurrent matmul has none) */
    /* input [0] and recurrent [1] matmul -> pre-activation, as
     * (acc * mul + 2^(rshift - 1)) >> rshift; mul is the Q31 multiplier rounded to Q15,
     * rshift = 15 - shift in [8, 46] */
    int32_t mul[2];
    int32_t rshift[2];
    const uint16_t *sigmoid_lut; /* TINYRNN_SIGMOID_LUT_SIZE entries, emitted by codegen */
} tinyrnn_rnn_s16_params;

/* One time step of one sequence: reads x[I], updates h[H] (int16) in place.
 * work: H int16 values (the previous h, read by every unit), not aliasing x or h. */
void tinyrnn_rnn_s16_step(const tinyrnn_rnn_s16_params *p, const int16_t *x, int16_t *h, int16_t *work);

/* One unit's new h from its input matmul's pre-activation part and its recurrent matmul's
 * accumulator (both weight widths' kernels; the order keeps one int64 live across the dots). */
static inline int16_t tinyrnn_rnn_s16_unit(const tinyrnn_rnn_s16_params *p, int32_t from_x, int64_t acc_h)
{
    const int32_t from_h = tinyrnn_requantize_s64_sat16(acc_h, p->mul[1], p->rshift[1]);
    /* The 16x8 LSTM's gate pre-activation (tinyrnn_lstm_s16_gate), written out: a shared
     * inline helper cost the LSTM 128-896 instructions per step (gcc 12, M4/M0). */
    const int32_t pre = tinyrnn_sat_s16(from_x + from_h);
    /* Q3.12 times 3 is the table's input (as the LSTM's gates). */
    return (int16_t)(p->tanh ? tinyrnn_tanh_prescaled(3 * pre, p->sigmoid_lut) : (pre > 0 ? pre : 0));
}

#endif /* TINYRNN_RNN_S16_H */
