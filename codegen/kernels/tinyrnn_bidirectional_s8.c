/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * See tinyrnn_bidirectional_s8.h; golden twin tinyrnn/core/golden/bidirectional_s8.py. */
#include "tinyrnn_bidirectional_s8.h"

void tinyrnn_bidirectional_s8(const tinyrnn_bidirectional_s8_params *p, const int8_t *f, const int8_t *b, int8_t *y)
{
    const int32_t n = p->size;
    for (int32_t k = 0; k < n; ++k) {
        const int32_t df = (int32_t)f[k] - p->forward_zero_point;
        const int32_t db = (int32_t)b[k] - p->backward_zero_point;
        int32_t acc;
        if (p->mode == TINYRNN_BIDIR_CONCAT) {
            y[k] = f[k];
            y[n + k] = b[k];
            continue;
        }
        if (p->mode == TINYRNN_BIDIR_MUL) {
            acc = df * db; /* |.| <= 255 * 255 */
        } else {
            /* |d| < 2^8: the shifted value stays below 2^28, no overflow. */
            acc = tinyrnn_requantize(df * (1 << p->left_shift), p->multiplier[TINYRNN_BIDIR_RQ_FORWARD],
                                     p->shift[TINYRNN_BIDIR_RQ_FORWARD]) +
                  tinyrnn_requantize(db * (1 << p->left_shift), p->multiplier[TINYRNN_BIDIR_RQ_BACKWARD],
                                     p->shift[TINYRNN_BIDIR_RQ_BACKWARD]);
        }
        acc = tinyrnn_requantize(acc, p->multiplier[TINYRNN_BIDIR_RQ_OUTPUT], p->shift[TINYRNN_BIDIR_RQ_OUTPUT]);
        y[k] = tinyrnn_sat_s8(acc + p->output_zero_point);
    }
}
