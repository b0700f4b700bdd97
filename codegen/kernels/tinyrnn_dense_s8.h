/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * int8 fully connected layer with per-output-channel requantization.
 * Golden twin: tinyrnn/core/golden/dense_s8.py (the spec).
 */
#ifndef TINYRNN_DENSE_S8_H
#define TINYRNN_DENSE_S8_H

#include <stdint.h>

typedef struct {
    int32_t input_size;        /* I */
    int32_t output_size;       /* O */
    const int8_t *weights;     /* [O][I] */
    const int32_t *bias;       /* [O] effective bias, input zero point folded in */
    const int32_t *multiplier; /* [O] */
    const int32_t *shift;      /* [O], in [-31, 30] */
    int32_t output_zero_point;
    int32_t activation_min; /* relu: the output zero point; otherwise -128 */
    int32_t activation_max; /* 127 */
} tinyrnn_dense_s8_params;

/* y[O] = clamp(requantize(W x + bias) + zp); x and y must not alias. */
void tinyrnn_dense_s8(const tinyrnn_dense_s8_params *p, const int8_t *x, int8_t *y);

#endif /* TINYRNN_DENSE_S8_H */
