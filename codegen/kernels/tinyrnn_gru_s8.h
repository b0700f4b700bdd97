/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * int8 GRU in the LSTM's family: int8 weights and inputs, Q3.12 gate pre-activations,
 * int16 table activations. Golden twin: tinyrnn/golden/gru_s8.py (the spec).
 *
 * State per unit: h16, int16 Q0.15, carried between steps; h8 = round(h16 / 256)
 * (int8, scale 1/128, zero point 0) is derived from it at the end of every step and is
 * both the recurrent matmul input and the layer's output.
 *
 * Every integer in the params struct is computed by codegen in Python, which also checks
 * the ranges the kernel relies on (no accumulator can overflow int32, shifts in
 * [-31, 30], the input zero point folded into bias_x).
 */
#ifndef TINYRNN_GRU_S8_H
#define TINYRNN_GRU_S8_H

#include <stdint.h>

#define TINYRNN_GRU_GATES 3 /* order: update (z), reset (r), candidate (h~), as in Keras */

typedef struct {
    int32_t input_size;  /* I */
    int32_t hidden_size; /* H */
    int32_t reset_after; /* 1: r applied to the recurrent matmul (Keras default); 0: to h */
    /* Unit-major weights: the gate rows of hidden unit j are contiguous, so one sequential
     * pass over flash feeds all accumulators of that unit. */
    const int8_t *w_x; /* [H][3][I] */
    /* reset_after = 1: [H][3][H].
     * reset_after = 0: [H][2][H] (update, reset rows), then [H][H] (candidate rows), read
     * by the second pass over r*h (which needs every unit's r first). */
    const int8_t *w_h;
    const int32_t *bias_x; /* [H][3] input-matmul bias, input zero point folded in */
    const int32_t *bias_h; /* [H][3] recurrent-matmul bias */
    int32_t gate_x_multiplier[TINYRNN_GRU_GATES]; /* input matmul -> Q3.12 */
    int32_t gate_x_shift[TINYRNN_GRU_GATES];
    int32_t gate_h_multiplier[TINYRNN_GRU_GATES]; /* recurrent matmul -> Q3.12 */
    int32_t gate_h_shift[TINYRNN_GRU_GATES];
    const uint16_t *sigmoid_lut; /* TINYRNN_SIGMOID_LUT_SIZE entries, emitted by codegen */
} tinyrnn_gru_s8_params;

/* One time step of one sequence: reads x[I], updates h16[H] and h8[H] in place.
 * reset_after = 0 needs a workspace: scratch16 holds 2H int16 and scratch8 H int8;
 * with reset_after = 1 both are unused and may be null. No argument may alias another. */
void tinyrnn_gru_s8_step(const tinyrnn_gru_s8_params *p, const int8_t *x, int16_t *h16, int8_t *h8,
                         int16_t *scratch16, int8_t *scratch8);

#endif /* TINYRNN_GRU_S8_H */
