/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * int8 SimpleRNN, h = act(W x + U h + b), in the LSTM's family: int8 weights and state,
 * each matmul requantized to an int16 pre-activation, tanh by the int16 table.
 * Golden twin: tinyrnn/core/golden/rnn_s8.py (the spec).
 *
 * Units are processed four at a time as the four rows of one tinyrnn_dot block (the
 * LSTM's four gates), so the DSP/MVE inner loops are shared; a hidden size that is not a
 * multiple of 4 pads the last block with zero rows whose results are dropped.
 *
 * Every integer in the params struct is computed by codegen in Python, which also checks
 * the ranges the kernel relies on (no accumulator can overflow int32, shifts in
 * [-31, 30], zero points in int8); see codegen/rnn.py.
 */
#ifndef TINYRNN_RNN_S8_H
#define TINYRNN_RNN_S8_H

#include <stdint.h>

#include "tinyrnn_arch.h"
#include "tinyrnn_fixedpoint.h"

#define TINYRNN_RNN_BLOCK 4 /* units per weight block */

typedef struct {
    int32_t input_size;  /* I */
    int32_t hidden_size; /* H */
    int32_t tanh;        /* 1: tanh (pre-activation Q3.12), 0: relu */
    const tinyrnn_weight_t *w_x; /* ceil(H/4) blocks of 4 unit rows over x[I], path layout */
    const tinyrnn_weight_t *w_h; /* the same over h[H] */
    const int32_t *bias;         /* [ceil(H/4)][8]: input-matmul bias of the block's 4 units
                                  * (input zero point folded in), then recurrent (hidden zp) */
    tinyrnn_requant_t x_rq;      /* input matmul -> int16 pre-activation */
    tinyrnn_requant_t h_rq;      /* recurrent matmul -> int16 pre-activation */
    int32_t reference;    /* 1 when a descriptor has left == 0 (see tinyrnn_requant_t) */
    int32_t output_shift; /* activation output -> int8 state: rounding right shift */
    int32_t hidden_zero_point;
    int32_t activation_min; /* relu: the hidden zero point; tanh: -128 */
    const uint16_t *sigmoid_lut; /* TINYRNN_SIGMOID_LUT_SIZE entries, emitted by codegen */
} tinyrnn_rnn_s8_params;

/* Words of work area one step needs: x and h staged (tinyrnn_dot.h). */
#define TINYRNN_RNN_WORK_WORDS(I, H) (TINYRNN_STAGE_WORDS(I) + TINYRNN_STAGE_WORDS(H))

/* One time step of one sequence: reads x[I], updates h[H] in place.
 * work: TINYRNN_RNN_WORK_WORDS(I, H) words, not aliasing x or h. */
void tinyrnn_rnn_s8_step(const tinyrnn_rnn_s8_params *p, const int8_t *x, int8_t *h, int32_t *work);

#endif /* TINYRNN_RNN_S8_H */
