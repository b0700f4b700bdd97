/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * int8 fully connected layer. Golden twin: tinyrnn/core/golden/dense_s8.py (the spec). */
#include "tinyrnn_dense_s8.h"

void tinyrnn_dense_s8(const tinyrnn_dense_s8_params *p, const int8_t *x, int8_t *y)
{
    for (int32_t o = 0; o < p->output_size; ++o) {
        const int32_t r = tinyrnn_dense_s8_channel(p, p->weights + o * p->input_size, x, o);
        y[o] = (int8_t)tinyrnn_clamp_s32(tinyrnn_add_sat_s8(r, p->output_zero_point), p->activation_min,
                                         p->activation_max);
    }
}
