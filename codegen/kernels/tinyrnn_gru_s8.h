/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * int8 GRU in the LSTM's family: int8 weights and inputs, Q3.12 gate pre-activations,
 * int16 table activations. Golden twin: tinyrnn/core/golden/gru_s8.py (the spec).
 *
 * State per unit: h16, int16 Q0.15, carried between steps; h8 = round(h16 / 256)
 * (int8, scale 1/128, zero point 0) is derived from it at the end of every step and is
 * both the recurrent matmul input and the layer's output.
 *
 * Every integer in the params struct is computed by codegen in Python, which also checks
 * the ranges the kernel relies on (no accumulator can overflow int32, shifts in
 * [-31, 30], the input zero point folded into the input biases); see codegen/layout.py.
 */
#ifndef TINYRNN_GRU_S8_H
#define TINYRNN_GRU_S8_H

#include <stdint.h>

#include "tinyrnn_arch.h"
#include "tinyrnn_fixedpoint.h"

/* Gate order as in Keras and the golden twin (GATE_UPDATE, GATE_RESET, GATE_CANDIDATE). */
#define TINYRNN_GRU_UPDATE 0    /* z */
#define TINYRNN_GRU_RESET 1     /* r */
#define TINYRNN_GRU_CANDIDATE 2 /* h~; last, so reset_after = 0 can split its rows off */
#define TINYRNN_GRU_GATES 3
/* One unit's accumulators (and its bias row): gate g's input matmul, its recurrent matmul. */
#define TINYRNN_GRU_ACC_X(g) (g)
#define TINYRNN_GRU_ACC_H(g) (TINYRNN_GRU_GATES + (g))
/* The requant descriptors gate[]: gate g's input matmul, its recurrent matmul. */
#define TINYRNN_GRU_RQ_X(g) (2 * (g))
#define TINYRNN_GRU_RQ_H(g) (2 * (g) + 1)

typedef struct {
    int32_t input_size;  /* I */
    int32_t hidden_size; /* H */
    int32_t reset_after; /* 1: r applied to the recurrent matmul (Keras default); 0: to h */
    /* One block per hidden unit holding its gate rows, in the layout of this build's path
     * (tinyrnn_arch.h), so one pass over the vector feeds all of that unit's gates. */
    const tinyrnn_weight_t *w_x;  /* 3 rows per unit over x[I] */
    const tinyrnn_weight_t *w_h;  /* reset_after = 1: 3 rows per unit over h8[H];
                                   * reset_after = 0: update and reset rows (2 per unit) */
    const tinyrnn_weight_t *w_hc; /* reset_after = 0: candidate rows (1 per unit) over r*h,
                                   * read by a second pass (it needs every unit's r); else null */
    const int32_t *bias;          /* [H][6] at TINYRNN_GRU_ACC_X/H(g): input-matmul bias (input
                                   * zero point folded in), recurrent-matmul bias */
    tinyrnn_requant_t gate[2 * TINYRNN_GRU_GATES]; /* at TINYRNN_GRU_RQ_X/H(g): input,
                                                     * recurrent matmul -> Q3.12 */
    int32_t reference; /* 1 when some descriptor has left == 0 (see tinyrnn_requant_t) */
    const uint16_t *sigmoid_lut; /* TINYRNN_SIGMOID_LUT_SIZE entries, emitted by codegen */
} tinyrnn_gru_s8_params;

/* Words of work area one step needs: x and h8 (later r*h) staged (tinyrnn_dot.h). */
#define TINYRNN_GRU_WORK_WORDS(I, H) (TINYRNN_STAGE_WORDS(I) + TINYRNN_STAGE_WORDS(H))

/* One time step of one sequence: reads x[I], updates h16[H] and h8[H] in place.
 * work: TINYRNN_GRU_WORK_WORDS(I, H) words. reset_after = 0 also needs scratch16 (2H
 * int16) and scratch8 (H int8); with reset_after = 1 both are unused and may be null.
 * No argument may alias another. */
void tinyrnn_gru_s8_step(const tinyrnn_gru_s8_params *p, const int8_t *x, int16_t *h16, int8_t *h8,
                         int32_t *work, int16_t *scratch16, int8_t *scratch8);

#endif /* TINYRNN_GRU_S8_H */
