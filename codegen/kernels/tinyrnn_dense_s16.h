/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * 16x8 fully connected layer: int16 x/y (zero points 0), int8 weights, int64 biases,
 * per-output-channel requantization, bit-exact with TFLite Micro's FULLY_CONNECTED with
 * int16 activations. Golden twin: tinyrnn/core/golden/dense_s16.py (the spec). Portable C.
 */
#ifndef TINYRNN_DENSE_S16_H
#define TINYRNN_DENSE_S16_H

#include <stdint.h>

typedef struct {
    int32_t input_size;        /* I */
    int32_t output_size;       /* O */
    const int8_t *weights;     /* [O][I] */
    const int64_t *bias;       /* [O] */
    const int32_t *multiplier; /* [O] the Q31 multiplier rounded to Q15, in [0, 2^15] */
    const int32_t *rshift;     /* [O] 15 - shift, in [8, 46] */
    int32_t activation_min;    /* relu: 0; otherwise -32768 */
    int32_t activation_max;    /* relu6: the code of 6.0; otherwise 32767 */
} tinyrnn_dense_s16_params;

/* y[O] = clamp(sat16(requantize_s64(W x + bias))); x and y must not alias. */
void tinyrnn_dense_s16(const tinyrnn_dense_s16_params *p, const int16_t *x, int16_t *y);

#endif /* TINYRNN_DENSE_S16_H */
