/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * int8 LSTM, bit-exact with TFLite Micro's integer LSTM (int8 x/h, int16 gates and cell).
 * Golden twin: tinyrnn/core/golden/lstm_s8.py (the spec).
 *
 * Every integer in the params struct is computed by codegen in Python, which also checks
 * the ranges the kernel relies on (no accumulator can overflow int32, shifts in
 * [-31, 30], tanh prescale in range, zero points in int8); see codegen/layout.py.
 */
#ifndef TINYRNN_LSTM_S8_H
#define TINYRNN_LSTM_S8_H

#include <stdint.h>

#include "tinyrnn_arch.h"
#include "tinyrnn_fixedpoint.h"

/* Gate order as in Keras/TFLM and the golden twin (GATE_INPUT, GATE_FORGET, GATE_CELL, GATE_OUTPUT). */
#define TINYRNN_LSTM_INPUT 0
#define TINYRNN_LSTM_FORGET 1
#define TINYRNN_LSTM_CELL 2
#define TINYRNN_LSTM_OUTPUT 3
#define TINYRNN_LSTM_GATES 4
/* One unit's accumulators (and its bias row): gate g's input matmul, its recurrent matmul. */
#define TINYRNN_LSTM_ACC_X(g) (g)
#define TINYRNN_LSTM_ACC_H(g) (TINYRNN_LSTM_GATES + (g))
/* The requant descriptors gate[]: gate g's input matmul, its recurrent matmul. */
#define TINYRNN_LSTM_RQ_X(g) (2 * (g))
#define TINYRNN_LSTM_RQ_H(g) (2 * (g) + 1)

typedef struct {
    int32_t input_size;  /* I */
    int32_t hidden_size; /* H */
    /* One block per hidden unit holding its four gate rows, in the layout of this
     * build's path (tinyrnn_arch.h), so one pass over x (or h) feeds all four gates. */
    const tinyrnn_weight_t *w_x; /* rows over x[I] */
    const tinyrnn_weight_t *w_h; /* rows over h[H] */
    const int32_t *bias;         /* [H][8] at TINYRNN_LSTM_ACC_X/H(g): input-matmul bias (input
                                  * zero point folded in), recurrent-matmul bias (hidden zp) */
    tinyrnn_requant_t gate[2 * TINYRNN_LSTM_GATES]; /* at TINYRNN_LSTM_RQ_X/H(g): input,
                                                      * recurrent matmul -> Q3.12 */
    tinyrnn_requant_t forget_to_cell; /* f (Q0.15) * c -> c */
    tinyrnn_requant_t input_to_cell;  /* i (Q0.15) * g (Q0.15) -> c */
    tinyrnn_requant_t hidden;         /* o (Q0.15) * tanh(c) (Q0.15) -> int8 h */
    int32_t hidden_zero_point;
    int32_t reference;    /* 1 when some descriptor has left == 0 (see tinyrnn_requant_t) */
    int32_t cell_clipped; /* 1 when [cell_min, cell_max] is narrower than int16 */
    int32_t cell_min;
    int32_t cell_max;
    /* tanh(c) table input 3 * c * 2^(cell_scale_power + 12) = (c * mul + round) >> shift */
    int32_t tanh_cell_mul;
    int32_t tanh_cell_round;
    int32_t tanh_cell_shift;
    const uint16_t *sigmoid_lut; /* TINYRNN_SIGMOID_LUT_SIZE entries, emitted by codegen */
} tinyrnn_lstm_s8_params;

/* Words of work area one step needs: x and h staged (tinyrnn_dot.h). */
#define TINYRNN_LSTM_WORK_WORDS(I, H) (TINYRNN_STAGE_WORDS(I) + TINYRNN_STAGE_WORDS(H))

/* One time step of one sequence: reads x[I], updates h[H] (int8) and c[H] (int16) in
 * place. work: TINYRNN_LSTM_WORK_WORDS(I, H) words, not aliasing x, h or c. */
void tinyrnn_lstm_s8_step(const tinyrnn_lstm_s8_params *p, const int8_t *x, int8_t *h, int16_t *c,
                          int32_t *work);

#endif /* TINYRNN_LSTM_S8_H */
