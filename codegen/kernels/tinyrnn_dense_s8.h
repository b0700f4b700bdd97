/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * int8 fully connected layer with per-output-channel requantization.
 * Golden twin: tinyrnn/core/golden/dense_s8.py (the spec).
 */
#ifndef TINYRNN_DENSE_S8_H
#define TINYRNN_DENSE_S8_H

#include <stdint.h>

#include "tinyrnn_fixedpoint.h"

typedef struct {
    int32_t input_size;        /* I */
    int32_t output_size;       /* O */
    const int8_t *weights;     /* [O][I] */
    const int32_t *bias;       /* [O] effective bias, input zero point folded in */
    const int32_t *multiplier; /* [O] */
    const int32_t *shift;      /* [O], in [-31, 30] */
    int32_t output_zero_point; /* 0 for int16 outputs (tinyrnn_dense_s8_s16) */
    int32_t activation_min;    /* relu: the output zero point; otherwise -128 (int16 outputs: -32768) */
    int32_t activation_max;    /* relu6: the code of 6.0; otherwise 127 (int16 outputs: 32767) */
} tinyrnn_dense_s8_params;

/* Output channel o before its zero point and clamp: requantize(W[o] x + bias[o]), with
 * w the row W[o]. Shared by the int8- and int16-output kernels. */
static inline int32_t tinyrnn_dense_s8_channel(const tinyrnn_dense_s8_params *p, const int8_t *w, const int8_t *x,
                                               int32_t o)
{
    /* codegen guarantees |bias| + 128 * sum|w| < 2^31, so this cannot overflow. */
    int32_t acc = p->bias[o];
    for (int32_t k = 0; k < p->input_size; ++k) {
        acc += w[k] * x[k];
    }
    return tinyrnn_requantize(acc, p->multiplier[o], p->shift[o]);
}

/* y[O] = clamp(requantize(W x + bias) + zp); x and y must not alias. */
void tinyrnn_dense_s8(const tinyrnn_dense_s8_params *p, const int8_t *x, int8_t *y);

#endif /* TINYRNN_DENSE_S8_H */
