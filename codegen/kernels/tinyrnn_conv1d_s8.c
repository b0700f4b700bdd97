/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * int8 Conv1D, one input step. Golden twin: tinyrnn/core/golden/conv1d_s8.py (the spec). */
#include "tinyrnn_conv1d_s8.h"

#include "tinyrnn_dot.h"
#include "tinyrnn_fixedpoint.h"

/* Filters per pass over the window: one unit of tinyrnn_dot's rows. */
#define TINYRNN_CONV_ROWS 4

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
    /* The window, oldest first: slots [pos, pos + span) after the write. Dilation 1: the
     * taps are adjacent, one dot over K C values; else one dot of C values per tap. */
    const int8_t *window = ring + *pos * n_in;
    const int32_t taps = p->dilation == 1 ? 1 : p->kernel_size;
    const int32_t cols = p->kernel_size / taps * n_in;
    const int32_t tap_stride = p->dilation * n_in;
    const tinyrnn_weight_t *w = p->weights;
    for (int32_t o = 0; o < p->output_size; o += TINYRNN_CONV_ROWS) {
        const int32_t rows = p->output_size - o < TINYRNN_CONV_ROWS ? p->output_size - o : TINYRNN_CONV_ROWS;
        /* codegen guarantees |bias| + 128 * sum|w| < 2^31, so no partial sum overflows. */
        int32_t acc[TINYRNN_CONV_ROWS];
        const int32_t *bias = p->bias + o;
        for (int32_t j = 0; j < taps; ++j, bias = acc) {
            w = tinyrnn_dot_span(w, window + j * tap_stride, cols, rows, bias, acc);
        }
        for (int32_t r = 0; r < rows; ++r) {
            const int32_t q = tinyrnn_requantize(acc[r], p->multiplier[o + r], p->shift[o + r]);
            y[o + r] = (int8_t)tinyrnn_clamp_s32(tinyrnn_add_sat_s8(q, p->output_zero_point), p->activation_min,
                                                 p->activation_max);
        }
    }
    return 1;
}
