/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * int8 Conv1D, one input step. Golden twin: tinyrnn/core/golden/conv1d_s8.py (the spec). */
#include "tinyrnn_conv1d_s8.h"

#include "tinyrnn_fixedpoint.h"

int tinyrnn_conv1d_s8_step(const tinyrnn_conv1d_s8_params *p, int8_t *ring, int32_t *pos, int32_t *due,
                           const int8_t *x_t, int8_t *y)
{
    const int32_t n_in = p->input_size;
    int8_t *first = ring + *pos * n_in;
    int8_t *second = first + p->span * n_in;
    for (int32_t c = 0; c < n_in; ++c) {
        first[c] = x_t[c];
        second[c] = x_t[c];
    }
    *pos = *pos + 1 == p->span ? 0 : *pos + 1;
    *due -= 1;
    if (*due > 0) {
        return 0;
    }
    *due = p->strides;
    /* The window, oldest first: slots [pos, pos + span) after the write. */
    const int8_t *window = ring + *pos * n_in;
    const int32_t tap_stride = p->dilation * n_in;
    const int8_t *w = p->weights;
    for (int32_t o = 0; o < p->output_size; ++o) {
        /* codegen guarantees |bias| + 128 * sum|w| < 2^31, so this cannot overflow. */
        int32_t acc = p->bias[o];
        const int8_t *x = window;
        for (int32_t j = 0; j < p->kernel_size; ++j) {
            for (int32_t c = 0; c < n_in; ++c) {
                acc += w[c] * x[c];
            }
            w += n_in;
            x += tap_stride;
        }
        const int32_t r = tinyrnn_requantize(acc, p->multiplier[o], p->shift[o]);
        y[o] = (int8_t)tinyrnn_clamp_s32(tinyrnn_add_sat_s8(r, p->output_zero_point), p->activation_min,
                                         p->activation_max);
    }
    return 1;
}
