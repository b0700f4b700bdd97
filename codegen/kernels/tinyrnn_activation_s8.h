/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * int8 activations of a hidden Dense layer, from tables codegen emits as const data.
 * Golden twin: tinyrnn/core/golden/activation_s8.py (the spec).
 */
#ifndef TINYRNN_ACTIVATION_S8_H
#define TINYRNN_ACTIVATION_S8_H

#include <stdint.h>

/* Largest n tinyrnn_softmax_s8 accepts: the sum of n exp values (each <= 2^15) fits int32. */
#define TINYRNN_SOFTMAX_MAX_SIZE 65535

/* Sigmoid, tanh: y[k] = table[x[k] + 128] for k < n; x and y may be the same buffer. */
void tinyrnn_table_s8(const int8_t *table, const int8_t *x, int8_t *y, int32_t n);

/* Softmax of x[n] (1 <= n <= TINYRNN_SOFTMAX_MAX_SIZE), output scale 1/256, zero point -128:
 * e_k = exp_table[max - x[k]] (exp_table[0] > 0, entries <= 2^15), S = sum e_k,
 * y[k] = clamp((256 e_k + S / 2) / S - 128, -128, 127). x and y may be the same buffer. */
void tinyrnn_softmax_s8(const uint16_t *exp_table, const int8_t *x, int8_t *y, int32_t n);

#endif /* TINYRNN_ACTIVATION_S8_H */
