/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * int8 GlobalMaxPooling1D / GlobalAveragePooling1D over time, running: one step in, the
 * pool of the steps so far out. Golden twin: tinyrnn/core/golden/global_pool1d_s8.py (the spec).
 *
 * The model state keeps acc[C] (the sum of the int8 codes, or their maximum: reset to 0,
 * or -128) and *count (reset to 0). The first TINYRNN_GLOBAL_POOL1D_MAX_COUNT steps after
 * a reset are pooled: |sum| <= 2^30, so the rounding below cannot overflow int32.
 */
#ifndef TINYRNN_GLOBAL_POOL1D_S8_H
#define TINYRNN_GLOBAL_POOL1D_S8_H

#include <stdint.h>

#define TINYRNN_GLOBAL_POOL1D_MAX_COUNT (1L << 23) /* = GlobalPool1DLayer.MAX_COUNT */

typedef struct {
    int32_t channels; /* C */
    int32_t average;  /* 1: average (TFLite Micro's rounding), 0: maximum */
} tinyrnn_global_pool1d_s8_params;

/* Add x_t[C] to the pool and write its result so far to y[C]; past MAX_COUNT steps
 * nothing changes (y untouched). */
void tinyrnn_global_pool1d_s8_step(const tinyrnn_global_pool1d_s8_params *p, int32_t *acc, int32_t *count,
                                   const int8_t *x_t, int8_t *y);

#endif /* TINYRNN_GLOBAL_POOL1D_S8_H */
