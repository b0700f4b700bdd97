/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * int8 global max/average pooling over time, one step. Golden twin: tinyrnn/core/golden/global_pool1d_s8.py. */
#include "tinyrnn_global_pool1d_s8.h"

void tinyrnn_global_pool1d_s8_step(const tinyrnn_global_pool1d_s8_params *p, int32_t *acc, int32_t *count,
                                   const int8_t *x_t, int8_t *y)
{
    if (*count >= TINYRNN_GLOBAL_POOL1D_MAX_COUNT) {
        return;
    }
    *count += 1;
    const int32_t n = *count;
    const int32_t half = n / 2;
    for (int32_t c = 0; c < p->channels; ++c) {
        const int32_t v = x_t[c];
        if (p->average) {
            acc[c] += v;
            /* Round half away from zero; C division truncates toward zero. */
            y[c] = (int8_t)(acc[c] > 0 ? (acc[c] + half) / n : (acc[c] - half) / n);
        } else {
            acc[c] = v > acc[c] ? v : acc[c];
            y[c] = (int8_t)acc[c];
        }
    }
}
