/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * int8 Conv1D over time, one input step at a time (streaming), with per-output-channel
 * requantization (TFLite Micro's int8 convolution math).
 * Golden twin: tinyrnn/core/golden/conv1d_s8.py (the spec).
 *
 * The layer keeps the last `span` = (K-1)*D+1 inputs in a ring buffer in the model state.
 * Each input is stored twice, at slot pos and pos + span, so the window of the newest
 * span inputs always lies contiguously at slots [pos, pos + span) after the write: the
 * taps read it without wrapping. *due counts the inputs still needed before the next
 * output: 1 after a reset with "causal" padding (the ring filled with the input zero
 * point: real 0), span with "valid", strides after each output.
 *
 * Each output step runs the recurrent kernels' dot (tinyrnn_dot.h, the build's path:
 * SMLAD on DSP cores, Helium on M55, portable C elsewhere) for 4 filters at a time over
 * the window read in place: with dilation 1 one dot of K C values, else one of C per tap.
 *
 * Every integer in the params struct is computed by codegen in Python, which also checks
 * that no accumulator can overflow int32 (codegen/conv.py, tinyrnn.core.domain).
 */
#ifndef TINYRNN_CONV1D_S8_H
#define TINYRNN_CONV1D_S8_H

#include <stdint.h>

#include "tinyrnn_arch.h"
#include "tinyrnn_fixedpoint.h"

typedef struct {
    int32_t input_size;  /* C, input channels */
    int32_t output_size; /* O, filters */
    int32_t kernel_size; /* K taps */
    int32_t dilation;    /* D steps between taps */
    int32_t span;        /* (K - 1) * D + 1 */
    int32_t strides;
    /* Per unit of 4 filters (the last one 1-4) and tap, the unit's rows over the tap's
     * columns in the path's layout; dilation 1: one tap of K C columns (codegen/conv.py). */
    const tinyrnn_weight_t *weights;
    const int32_t *bias;              /* [O] effective bias, input zero point folded in */
    const tinyrnn_requant_t *requant; /* [O] precomputed requantization */
    int32_t output_zero_point;
    int32_t activation_min; /* relu, relu6: the output zero point; otherwise -128 */
    int32_t activation_max; /* relu6: the code of 6.0; otherwise 127 */
} tinyrnn_conv1d_s8_params;

/* Push x_t[C] into ring[2 * span][C] (slot *pos); when an output is due write y[O] and
 * return 1, else return 0 (y untouched). */
int tinyrnn_conv1d_s8_step(const tinyrnn_conv1d_s8_params *p, int8_t *ring, int32_t *pos, int32_t *due,
                           const int8_t *x_t, int8_t *y);

#endif /* TINYRNN_CONV1D_S8_H */
