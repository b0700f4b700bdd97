/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * 16x16 SimpleRNN: the 16x8 SimpleRNN (tinyrnn_rnn_s16.h, its params and arithmetic) over
 * int16 weights w16_x/w16_h, for recurrences whose decisions int8 weights do not keep.
 * Golden twin: tinyrnn/core/golden/rnn_s16.py at weight_bits 16. The dot products have DSP
 * (SMLALD) and Helium (VMLALDAVA) paths; int64 accumulators within +-2^47.
 */
#ifndef TINYRNN_RNN_S16X16_H
#define TINYRNN_RNN_S16X16_H

#include "tinyrnn_rnn_s16.h"

/* One time step of one sequence, as tinyrnn_rnn_s16_step, reading p->w16_x and p->w16_h. */
void tinyrnn_rnn_s16x16_step(const tinyrnn_rnn_s16_params *p, const int16_t *x, int16_t *h, int16_t *work);

#endif /* TINYRNN_RNN_S16X16_H */
