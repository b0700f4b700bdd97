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

#include "tinyrnn_fixedpoint.h"

typedef struct {
    int32_t input_size;  /* I */
    int32_t hidden_size; /* H */
    int32_t tanh;        /* 1: tanh, 0: relu */
    const int8_t *w_x;   /* [H][I] unit rows over x (NULL: w16_x) */
    const int8_t *w_h;   /* [H][H] unit rows over h (NULL: w16_h) */
    const int16_t *w16_x; /* the same rows as int16 (the 16x16 SimpleRNN), read when w_x is NULL */
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

#endif /* TINYRNN_RNN_S16_H */
