/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * int8 Bidirectional merge: one step's forward and backward outputs (each H int8 values,
 * from the LSTM/GRU/SimpleRNN kernels run over the window and over it reversed) into the
 * layer's output. Golden twin: tinyrnn/core/golden/bidirectional_s8.py (the spec).
 *
 * Every integer in the params struct is computed by codegen in Python, which also checks
 * that no requantization leaves int32 (tinyrnn.core.domain.check_merge).
 */
#ifndef TINYRNN_BIDIRECTIONAL_S8_H
#define TINYRNN_BIDIRECTIONAL_S8_H

#include <stdint.h>

#include "tinyrnn_fixedpoint.h"

/* Merge modes; Keras's "ave" is TINYRNN_BIDIR_SUM with the 1/2 in the output multiplier. */
#define TINYRNN_BIDIR_CONCAT 0
#define TINYRNN_BIDIR_SUM 1
#define TINYRNN_BIDIR_MUL 2
/* Requantization indices, as golden RQ_FORWARD, RQ_BACKWARD, RQ_OUTPUT. */
#define TINYRNN_BIDIR_RQ_FORWARD 0
#define TINYRNN_BIDIR_RQ_BACKWARD 1
#define TINYRNN_BIDIR_RQ_OUTPUT 2

typedef struct {
    int32_t size;       /* H: units per direction */
    int32_t mode;       /* TINYRNN_BIDIR_CONCAT, _SUM or _MUL */
    int32_t left_shift; /* sum: the inputs' shift before their requantization (golden LEFT_SHIFT) */
    int32_t forward_zero_point;
    int32_t backward_zero_point;
    int32_t output_zero_point;
    int32_t multiplier[3]; /* [forward, backward, output] */
    int32_t shift[3];
} tinyrnn_bidirectional_s8_params;

/* f[H], b[H] -> y[2H] (concat) or y[H]; y must not alias f or b. */
void tinyrnn_bidirectional_s8(const tinyrnn_bidirectional_s8_params *p, const int8_t *f, const int8_t *b, int8_t *y);

#endif /* TINYRNN_BIDIRECTIONAL_S8_H */
