/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * int8 fully connected layer, int16 outputs. Golden twin: tinyrnn/core/golden/dense_s8_s16.py. */
#include "tinyrnn_dense_s8_s16.h"

void tinyrnn_dense_s8_s16(const tinyrnn_dense_s8_s16_params *p, const int8_t *x, int16_t *y)
{
    for (int32_t o = 0; o < p->output_size; ++o) {
        const int32_t r = tinyrnn_dense_s8_channel(p, p->weights + o * p->input_size, x, o);
        y[o] = (int16_t)tinyrnn_clamp_s32(r, p->activation_min, p->activation_max);
    }
}
