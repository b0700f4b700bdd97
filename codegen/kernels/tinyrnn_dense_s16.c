/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * 16x8 fully connected layer. Golden twin: tinyrnn/core/golden/dense_s16.py (the spec). */
#include "tinyrnn_dense_s16.h"

#include "tinyrnn_fixedpoint.h"

void tinyrnn_dense_s16(const tinyrnn_dense_s16_params *p, const int16_t *x, int16_t *y)
{
    const int8_t *row = p->weights;
    for (int32_t o = 0; o < p->output_size; ++o) {
        const int64_t acc = tinyrnn_dot_s16(row, x, p->input_size, p->bias[o]);
        const int32_t v = tinyrnn_requantize_s64_sat16(acc, p->multiplier[o], p->rshift[o]);
        y[o] = (int16_t)tinyrnn_clamp_s32(v, p->activation_min, p->activation_max);
        row += p->input_size;
    }
}
