/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * int8 Conv1D, one input step. Golden twin: tinyrnn/core/golden/conv1d_s8.py (the spec). */
#include "tinyrnn_conv1d_s8.h"

#include "tinyrnn_dot.h"

/* Filters per pass over the window: one unit of tinyrnn_dot's rows. */
#define TINYRNN_CONV_ROWS 4

/* acc[rows] = bias + the unit's filters over the window's taps; returns the next unit's
 * weights. Called with rows a constant for whole units, so the dot's row tests fold away. */
TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_conv_unit(const tinyrnn_weight_t *w, const int8_t *window,
                                                         int32_t taps, int32_t cols, int32_t tap_stride,
                                                         int32_t rows, const int32_t *bias, int32_t *acc)
{
    for (int32_t j = 0; j < taps; ++j, bias = acc) {
        w = tinyrnn_dot_span(w, window + j * tap_stride, cols, rows, bias, acc);
    }
    return w;
}

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
    /* clamp(sat8(v + zp), min, max) == clamp(v, min - zp, max - zp) + zp: [min, max] lies in
     * the int8 range, so the bounds are within +-255 and the sum cannot overflow. */
    const int32_t zp = p->output_zero_point, lo = p->activation_min - zp, hi = p->activation_max - zp;
    for (int32_t o = 0; o < p->output_size; o += TINYRNN_CONV_ROWS) {
        const int32_t rows = p->output_size - o < TINYRNN_CONV_ROWS ? p->output_size - o : TINYRNN_CONV_ROWS;
        /* codegen guarantees |bias| + 128 * sum|w| < 2^31, so no partial sum overflows. */
        int32_t acc[TINYRNN_CONV_ROWS];
        w = rows == TINYRNN_CONV_ROWS
                ? tinyrnn_conv_unit(w, window, taps, cols, tap_stride, TINYRNN_CONV_ROWS, p->bias + o, acc)
                : tinyrnn_conv_unit(w, window, taps, cols, tap_stride, rows, p->bias + o, acc);
        for (int32_t r = 0; r < rows; ++r) {
            /* The one-multiply form wherever codegen found it exact (left >= 1). */
            const tinyrnn_requant_t *q = &p->requant[o + r];
            const int32_t v = TINYRNN_UNLIKELY(q->left == 0) ? tinyrnn_requantize_any(acc[r], q)
                                                             : tinyrnn_requantize_fast(acc[r], q);
            y[o + r] = (int8_t)(tinyrnn_clamp_s32(v, lo, hi) + zp);
        }
    }
    return 1;
}
