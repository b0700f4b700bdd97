/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * int8 LSTM, bit-exact with TFLite Micro's integer LSTM (int8 x/h, int16 gates and cell).
 * Golden twin: tinyrnn/golden/lstm_s8.py (the spec).
 *
 * Every integer in the params struct is computed by codegen in Python, which also checks
 * the ranges the kernel relies on (no accumulator can overflow int32, shifts in
 * [-31, 30], tanh_cell_left_shift in [-31, 14], zero points in int8).
 */
#ifndef TINYRNN_LSTM_S8_H
#define TINYRNN_LSTM_S8_H

#include <stdint.h>

#define TINYRNN_LSTM_GATES 4 /* order: input, forget, cell, output */

typedef struct {
    int32_t input_size;  /* I */
    int32_t hidden_size; /* H */
    /* Unit-major weights: the four gate rows of hidden unit j are contiguous, so one
     * sequential pass over flash feeds all four accumulators of that unit. */
    const int8_t *w_x;     /* [H][4][I] */
    const int8_t *w_h;     /* [H][4][H] */
    const int32_t *bias_x; /* [H][4] input-matmul bias, input zero point folded in */
    const int32_t *bias_h; /* [H][4] recurrent-matmul bias, hidden zero point folded in */
    int32_t gate_x_multiplier[TINYRNN_LSTM_GATES]; /* input matmul -> Q3.12 */
    int32_t gate_x_shift[TINYRNN_LSTM_GATES];
    int32_t gate_h_multiplier[TINYRNN_LSTM_GATES]; /* recurrent matmul -> Q3.12 */
    int32_t gate_h_shift[TINYRNN_LSTM_GATES];
    int32_t forget_to_cell_multiplier; /* f (Q0.15) * c -> c */
    int32_t forget_to_cell_shift;
    int32_t input_to_cell_multiplier; /* i (Q0.15) * g (Q0.15) -> c */
    int32_t input_to_cell_shift;
    int32_t hidden_multiplier; /* o (Q0.15) * tanh(c) (Q0.15) -> int8 h */
    int32_t hidden_shift;
    int32_t hidden_zero_point;
    int32_t cell_min; /* cell clip as a range; [-32768, 32767] when unclipped */
    int32_t cell_max;
    int32_t tanh_cell_left_shift; /* cell_scale_power + 12: cell state -> Q3.12 */
    const uint16_t *sigmoid_lut;  /* TINYRNN_SIGMOID_LUT_SIZE entries, emitted by codegen */
} tinyrnn_lstm_s8_params;

/* One time step of one sequence: reads x[I], updates h[H] (int8) and c[H] (int16) in
 * place. scratch holds H int16 (the new h until every unit has read the old one);
 * it must not alias x, h or c. */
void tinyrnn_lstm_s8_step(const tinyrnn_lstm_s8_params *p, const int8_t *x, int8_t *h, int16_t *c,
                          int16_t *scratch);

#endif /* TINYRNN_LSTM_S8_H */
