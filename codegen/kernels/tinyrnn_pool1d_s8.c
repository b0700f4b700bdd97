/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * int8 1-D max/average pooling, one input step. Golden twin: tinyrnn/core/golden/pool1d_s8.py. */
#include "tinyrnn_pool1d_s8.h"

int tinyrnn_pool1d_s8_step(const tinyrnn_pool1d_s8_params *p, int8_t *ring, int32_t *pos, int32_t *due,
                           const int8_t *x_t, int8_t *y)
{
    const int32_t n = p->channels;
    int8_t *slot = ring + *pos * n;
    for (int32_t c = 0; c < n; ++c) {
        slot[c] = x_t[c];
    }
    *pos = *pos + 1 == p->pool_size ? 0 : *pos + 1;
    *due -= 1;
    if (*due > 0) {
        return 0;
    }
    *due = p->strides;
    for (int32_t c = 0; c < n; ++c) {
        int32_t acc = p->average ? 0 : -128;
        for (int32_t j = 0; j < p->pool_size; ++j) {
            const int32_t v = ring[j * n + c];
            acc = p->average ? acc + v : (v > acc ? v : acc);
        }
        if (p->average) {
            /* Round half away from zero; C division truncates toward zero. */
            const int32_t half = p->pool_size / 2;
            acc = acc > 0 ? (acc + half) / p->pool_size : (acc - half) / p->pool_size;
        }
        y[c] = (int8_t)acc;
    }
    return 1;
}
