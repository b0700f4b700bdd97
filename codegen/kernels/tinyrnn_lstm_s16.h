/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * 16x8 LSTM: int16 x/h (zero points 0), int8 weights, int64 biases, int16 gates and cell,
 * bit-exact with TFLite Micro's integer LSTM with int16 activations (CMSIS-NN
 * arm_lstm_unidirectional_s16). Golden twin: tinyrnn/core/golden/lstm_s16.py (the spec).
 * The dot products have DSP (SMLALD) and Helium (VMLALDAVA) paths. Every integer in the
 * params struct is computed in Python; the matmul accumulators are int64 and must stay within +-2^47.
 */
#ifndef TINYRNN_LSTM_S16_H
#define TINYRNN_LSTM_S16_H

#include <stdint.h>

#include "tinyrnn_fixedpoint.h"

#define TINYRNN_LSTM_S16_GATES 4 /* order: input, forget, cell, output */

typedef struct {
    int32_t input_size;  /* I */
    int32_t hidden_size; /* H */
    const int8_t *w_x;   /* [H][4][I]: the four gate rows of each unit over x */
    const int8_t *w_h;   /* [H][4][H]: the same over h */
    const int64_t *bias; /* [H][4] input-matmul biases (the recurrent matmul has none) */
    /* gate g: [2g] input matmul, [2g+1] recurrent matmul -> Q3.12, as
     * (acc * gate_mul + 2^(gate_rshift - 1)) >> gate_rshift; gate_mul is the Q31 multiplier
     * rounded to Q15, gate_rshift = 15 - shift in [8, 46] */
    int32_t gate_mul[2 * TINYRNN_LSTM_S16_GATES];
    int32_t gate_rshift[2 * TINYRNN_LSTM_S16_GATES];
    tinyrnn_requant_t forget_to_cell; /* f (Q0.15) * c -> c */
    tinyrnn_requant_t input_to_cell;  /* i (Q0.15) * g (Q0.15) -> c */
    tinyrnn_requant_t hidden;         /* o (Q0.15) * tanh(c) (Q0.15) -> int16 h */
    int32_t cell_min;                 /* cell clip, [-32768, 32767] when unclipped */
    int32_t cell_max;
    /* tanh(c) table input 3 * c * 2^(cell_scale_power + 12) = (c * mul + round) >> shift */
    int32_t tanh_cell_mul;
    int32_t tanh_cell_round;
    int32_t tanh_cell_shift;
    const uint16_t *sigmoid_lut; /* TINYRNN_SIGMOID_LUT_SIZE entries, emitted by codegen */
} tinyrnn_lstm_s16_params;

/* One time step of one sequence: reads x[I], updates h[H] and c[H] (int16) in place.
 * work: H int16 values (the previous h, read by every unit), not aliasing x, h or c. */
void tinyrnn_lstm_s16_step(const tinyrnn_lstm_s16_params *p, const int16_t *x, int16_t *h, int16_t *c,
                           int16_t *work);

#endif /* TINYRNN_LSTM_S16_H */
