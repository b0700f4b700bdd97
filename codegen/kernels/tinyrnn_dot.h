/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * The one hot loop of every layer: acc[r] += sum_k W[r][k] * v[k] for the R rows
 * (gates) of one unit, in a single pass over the input vector, with the weights in the
 * layout of this build's path (tinyrnn_arch.h; codegen/layout.py writes them).
 *
 * Each step first stages its int8 input vectors into the state's aligned work area
 * (tinyrnn_stage): zero padded to whole groups of 4 columns, and on the DSP path widened
 * to int16 pairs in SXTB16 order, (v0, v2) and (v1, v3), so the inner loop is only loads
 * and multiply-accumulates. tinyrnn_dot(w, staged, n, rows, bias, acc) sets
 * acc[r] = bias[r] + sum_k, consumes exactly one unit's weight block and returns the next.
 *
 * Bit-exact on every path: all products and sums are exact integers. The accumulators
 * cannot overflow int32 (codegen checks |bias| + 128 * sum|w| < 2^31 per row), and the
 * WIDE path's packed low field cannot spill into the high one (chunks of at most 252
 * columns keep it within +-2^22).
 */
#ifndef TINYRNN_DOT_H
#define TINYRNN_DOT_H

#include <stdint.h>
#include <string.h>

#include "tinyrnn_arch.h"

#if defined(__GNUC__)
#define TINYRNN_INLINE static inline __attribute__((always_inline))
#define TINYRNN_NOINLINE static __attribute__((noinline, unused))
#else
#define TINYRNN_INLINE static inline
#define TINYRNN_NOINLINE static inline
#endif

/* Stage v[n] (n >= 1) into work[TINYRNN_STAGE_WORDS(n)]. */
void tinyrnn_stage(int32_t *work, const int8_t *v, int32_t n);

#if TINYRNN_PATH == TINYRNN_PATH_MVE
#include <arm_mve.h>

/* 16 columns per VMLADAVA, one accumulator register per row. Rows and the staged vector
 * are zero padded to whole vectors of 16 (TINYRNN_STAGE_WORDS, layout "mve"), so no
 * lane is ever predicated. */
TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_dot(const tinyrnn_weight_t *w, const int32_t *staged, int32_t n,
                                                   int32_t rows, const int32_t *bias, int32_t *acc)
{
    const int8_t *v = (const int8_t *)staged;
    const int32_t n16 = (n + 15) & ~15;
    /* Row pointers only for rows that exist: w + r n16 past the block would be UB. */
    const int8_t *w1 = rows > 1 ? w + n16 : w, *w2 = rows > 2 ? w + 2 * n16 : w, *w3 = rows > 3 ? w + 3 * n16 : w;
    int32_t a0 = bias[0], a1 = rows > 1 ? bias[1] : 0, a2 = rows > 2 ? bias[2] : 0, a3 = rows > 3 ? bias[3] : 0;
    for (int32_t k = 0; k < n16; k += 16) {
        const int8x16_t vk = vld1q_s8(v + k);
        a0 = vmladavaq_s8(a0, vld1q_s8(w + k), vk);
        if (rows > 1) {
            a1 = vmladavaq_s8(a1, vld1q_s8(w1 + k), vk);
        }
        if (rows > 2) {
            a2 = vmladavaq_s8(a2, vld1q_s8(w2 + k), vk);
        }
        if (rows > 3) {
            a3 = vmladavaq_s8(a3, vld1q_s8(w3 + k), vk);
        }
    }
    acc[0] = a0;
    if (rows > 1) {
        acc[1] = a1;
    }
    if (rows > 2) {
        acc[2] = a2;
    }
    if (rows > 3) {
        acc[3] = a3;
    }
    return w + rows * n16;
}

#elif (TINYRNN_DSP_FAMILY && TINYRNN_ASM) || TINYRNN_PATH == TINYRNN_PATH_WIDE
/* One unit's block of 4, 3, 2 or 1 rows over `groups` groups of 4 staged columns (DSP:
 * SMLAD, WIDE: packed SMLAL, see tinyrnn_support.c): acc[r] = bias[r] + sum, the next
 * block returned. One function per row count, so none tests `rows` at run time; out of
 * line, so the inline assembly's registers never compete with the caller's. */
const tinyrnn_weight_t *tinyrnn_dot_rows4(const tinyrnn_weight_t *w, const int32_t *staged, int32_t groups,
                                          const int32_t *bias, int32_t *acc);
const tinyrnn_weight_t *tinyrnn_dot_rows3(const tinyrnn_weight_t *w, const int32_t *staged, int32_t groups,
                                          const int32_t *bias, int32_t *acc);
const tinyrnn_weight_t *tinyrnn_dot_rows2(const tinyrnn_weight_t *w, const int32_t *staged, int32_t groups,
                                          const int32_t *bias, int32_t *acc);
const tinyrnn_weight_t *tinyrnn_dot_rows1(const tinyrnn_weight_t *w, const int32_t *staged, int32_t groups,
                                          const int32_t *bias, int32_t *acc);

TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_dot(const tinyrnn_weight_t *w, const int32_t *staged, int32_t n,
                                                   int32_t rows, const int32_t *bias, int32_t *acc)
{
    const int32_t groups = (n + 3) / 4;
    if (rows == 4) {
        return tinyrnn_dot_rows4(w, staged, groups, bias, acc);
    }
    if (rows == 3) {
        return tinyrnn_dot_rows3(w, staged, groups, bias, acc);
    }
    if (rows == 2) {
        return tinyrnn_dot_rows2(w, staged, groups, bias, acc);
    }
    return tinyrnn_dot_rows1(w, staged, groups, bias, acc);
}

#elif TINYRNN_DSP_FAMILY
/* The same in C (hosts, -O0): per group and row, (w0, w2) . x02 + (w1, w3) . x13. */
TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_dot(const tinyrnn_weight_t *w, const int32_t *staged, int32_t n,
                                                   int32_t rows, const int32_t *bias, int32_t *acc)
{
    for (int32_t r = 0; r < rows; ++r) {
        acc[r] = bias[r];
    }
    for (int32_t g = (n + 3) / 4; g > 0; --g, staged += 2) {
        for (int32_t r = 0; r < rows; ++r) {
#if TINYRNN_PATH == TINYRNN_PATH_DSP
            const int32_t w02 = *w++, w13 = *w++;
#else
            const uint32_t word = (uint32_t)*w++;
            const int32_t w02 = tinyrnn_sxtb16(word), w13 = tinyrnn_sxtb16(word >> 8);
#endif
            acc[r] = tinyrnn_smlad(w02, staged[0], acc[r]);
            acc[r] = tinyrnn_smlad(w13, staged[1], acc[r]);
        }
    }
    return w;
}

#else /* TINYRNN_PATH_PLAIN */
TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_dot(const tinyrnn_weight_t *w, const int32_t *staged, int32_t n,
                                                   int32_t rows, const int32_t *bias, int32_t *acc)
{
    const int8_t *v = (const int8_t *)staged;
    int32_t a0 = bias[0], a1 = 0, a2 = 0, a3 = 0;
    /* Row pointers only for rows that exist: w + r n past the block would be UB. */
    const tinyrnn_weight_t *w1 = rows > 1 ? w + n : w, *w2 = rows > 2 ? w + 2 * n : w, *w3 = rows > 3 ? w + 3 * n : w;
    for (int32_t k = 0; k < n; ++k) {
        const int32_t vk = v[k];
        a0 += w[k] * vk;
        if (rows > 1) {
            a1 += w1[k] * vk;
        }
        if (rows > 2) {
            a2 += w2[k] * vk;
        }
        if (rows > 3) {
            a3 += w3[k] * vk;
        }
    }
    acc[0] = a0;
    if (rows > 1) {
        acc[1] = bias[1] + a1;
    }
    if (rows > 2) {
        acc[2] = bias[2] + a2;
    }
    if (rows > 3) {
        acc[3] = bias[3] + a3;
    }
    return w + rows * n;
}
#endif

#endif /* TINYRNN_DOT_H */
