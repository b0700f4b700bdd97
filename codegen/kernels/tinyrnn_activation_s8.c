/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * int8 table activations. Golden twin: tinyrnn/core/golden/activation_s8.py (the spec). */
#include "tinyrnn_activation_s8.h"

#include "tinyrnn_fixedpoint.h"

void tinyrnn_table_s8(const int8_t *table, const int8_t *x, int8_t *y, int32_t n)
{
    for (int32_t k = 0; k < n; ++k) {
        y[k] = table[x[k] + 128];
    }
}

void tinyrnn_softmax_s8(const uint16_t *exp_table, const int8_t *x, int8_t *y, int32_t n)
{
    int32_t top = x[0];
    for (int32_t k = 1; k < n; ++k) {
        top = x[k] > top ? x[k] : top;
    }
    /* S >= exp_table[0] > 0 (the largest element's entry) and S <= n 2^15 < 2^31. */
    int32_t sum = 0;
    for (int32_t k = 0; k < n; ++k) {
        sum += exp_table[top - x[k]];
    }
    /* Both operands are non-negative, so C's truncating division is the spec's floor;
     * 256 e + S / 2 <= 2^23 + 2^30 fits int32. Each y[k] is written after its x[k] is read. */
    const int32_t half = sum / 2;
    for (int32_t k = 0; k < n; ++k) {
        const int32_t e = exp_table[top - x[k]];
        y[k] = (int8_t)tinyrnn_clamp_s32((e * 256 + half) / sum - 128, -128, 127);
    }
}
