/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * int8 fully connected layer. Golden twin: tinyrnn/core/golden/dense_s8.py (the spec). */
#include "tinyrnn_dense_s8.h"

#include "tinyrnn_fixedpoint.h"

void tinyrnn_dense_s8(const tinyrnn_dense_s8_params *p, const int8_t *x, int8_t *y)
{
    const int32_t n_in = p->input_size;
    const int8_t *w = p->weights;
    for (int32_t o = 0; o < p->output_size; ++o) {
        /* codegen guarantees |bias| + 128 * sum|w| < 2^31, so this cannot overflow. */
        int32_t acc = p->bias[o];
        for (int32_t k = 0; k < n_in; ++k) {
            acc += w[k] * x[k];
        }
        w += n_in;
        const int32_t r = tinyrnn_requantize(acc, p->multiplier[o], p->shift[o]);
        y[o] = (int8_t)tinyrnn_clamp_s32(tinyrnn_add_sat_s8(r, p->output_zero_point), p->activation_min,
                                         p->activation_max);
    }
}
