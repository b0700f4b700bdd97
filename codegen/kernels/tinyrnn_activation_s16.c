/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * int16 sigmoid/tanh over a vector. Golden twin: tinyrnn/core/golden/activation_s16.py. */
#include "tinyrnn_activation_s16.h"

void tinyrnn_activation_s16(const int16_t *in, int16_t *out, int32_t n, int32_t left_shift,
                            tinyrnn_activation_s16_type type, const uint16_t *lut)
{
    /* The type test sits outside the loops so each loop body stays branch-light. */
    if (type == TINYRNN_ACT_SIGMOID) {
        for (int32_t k = 0; k < n; ++k) {
            out[k] = tinyrnn_sigmoid_s16_one(in[k], left_shift, lut);
        }
    } else {
        for (int32_t k = 0; k < n; ++k) {
            out[k] = tinyrnn_tanh_s16_one(in[k], left_shift, lut);
        }
    }
}
