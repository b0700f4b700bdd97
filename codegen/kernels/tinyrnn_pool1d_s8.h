/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * int8 MaxPooling1D / AveragePooling1D over time, padding "valid", one input step at a
 * time (streaming). Golden twin: tinyrnn/core/golden/pool1d_s8.py (the spec).
 *
 * The layer keeps the last pool_size inputs in a ring buffer in the model state (their
 * order does not matter to a maximum or a sum). *due counts the inputs still needed
 * before the next output: pool_size after a reset, strides after each output.
 */
#ifndef TINYRNN_POOL1D_S8_H
#define TINYRNN_POOL1D_S8_H

#include <stdint.h>

typedef struct {
    int32_t channels;  /* C */
    int32_t pool_size; /* P <= 4096: a sum of P int8 values fits int32 */
    int32_t strides;
    int32_t average; /* 1: average (TFLite Micro's rounding), 0: maximum */
} tinyrnn_pool1d_s8_params;

/* Push x_t[C] into ring[P][C] (slot *pos); when an output is due write y[C] and return 1,
 * else return 0 (y untouched). */
int tinyrnn_pool1d_s8_step(const tinyrnn_pool1d_s8_params *p, int8_t *ring, int32_t *pos, int32_t *due,
                           const int8_t *x_t, int8_t *y);

#endif /* TINYRNN_POOL1D_S8_H */
