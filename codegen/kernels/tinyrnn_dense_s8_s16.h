/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * int8 fully connected layer with int16 outputs: a model's last layer giving int16 logits
 * (zero point 0), so classes an int8 grid would tie stay apart.
 * Golden twin: tinyrnn/core/golden/dense_s8_s16.py (the spec).
 */
#ifndef TINYRNN_DENSE_S8_S16_H
#define TINYRNN_DENSE_S8_S16_H

#include <stdint.h>

#include "tinyrnn_dense_s8.h"

/* tinyrnn_dense_s8's params, with output_zero_point 0 and the int16 activation range. */
typedef tinyrnn_dense_s8_params tinyrnn_dense_s8_s16_params;

/* y[O] = clamp(sat16(requantize(W x + bias))); x and y must not alias. */
void tinyrnn_dense_s8_s16(const tinyrnn_dense_s8_s16_params *p, const int8_t *x, int16_t *y);

#endif /* TINYRNN_DENSE_S8_S16_H */
