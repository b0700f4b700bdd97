/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * The out-of-line helpers several kernels call, compiled once per model however many
 * layer kinds use them (prototypes and contracts in tinyrnn_dot.h, tinyrnn_fixedpoint.h).
 * Golden twin of the requantization: tinyrnn/core/golden/fixedpoint.py (the spec).
 */
#include "tinyrnn_dot.h"
#include "tinyrnn_fixedpoint.h"

/* Stage v[n] (n >= 1) into work[TINYRNN_STAGE_WORDS(n)]. */
void tinyrnn_stage(int32_t *work, const int8_t *v, int32_t n)
{
#if TINYRNN_DSP_FAMILY
    int32_t k = 0;
    for (; k + 4 <= n; k += 4) {
        const uint32_t x = tinyrnn_read_u32(v + k);
        *work++ = tinyrnn_sxtb16(x);
        *work++ = tinyrnn_sxtb16(x >> 8);
    }
    if (k < n) {
        uint32_t x = 0;
        for (int32_t i = 0; k + i < n; ++i) {
            x |= (uint32_t)(uint8_t)v[k + i] << (8 * i);
        }
        *work++ = tinyrnn_sxtb16(x);
        *work++ = tinyrnn_sxtb16(x >> 8);
    }
#elif TINYRNN_PATH == TINYRNN_PATH_MVE
    memset(work, 0, (size_t)((n + 15) & ~15));
    memcpy(work, v, (size_t)n);
#else
    work[(n + 3) / 4 - 1] = 0;
    memcpy(work, v, (size_t)n);
#endif
}

/* The fast form where codegen allowed it, else the reference. */
int32_t tinyrnn_requantize_any(int32_t acc, const tinyrnn_requant_t *q)
{
    return q->left ? tinyrnn_requantize_fast(acc, q) : tinyrnn_requantize(acc, q->multiplier, q->shift);
}

#if defined(TINYRNN_MUL_HIGH_16)
/* a = ah 2^16 + al, b = bh 2^16 + bl with al, bl in [0, 2^16): each cross product fits
 * int32, and (a b + 2^31) / 2^32 floors to ah bh plus the cross products' high halves
 * plus the carry out of their low halves, al bl's high half and the rounding 2^15. */
int32_t tinyrnn_mul_high_round(int32_t a, int32_t b)
{
    const int32_t ah = tinyrnn_asr_s32(a, 16), bh = tinyrnn_asr_s32(b, 16);
    const uint32_t al = (uint32_t)a & 0xFFFFu, bl = (uint32_t)b & 0xFFFFu;
    const int32_t q1 = ah * (int32_t)bl, q2 = bh * (int32_t)al;
    const uint32_t low = ((uint32_t)q1 & 0xFFFFu) + ((uint32_t)q2 & 0xFFFFu) + ((al * bl) >> 16) + 0x8000u;
    return ah * bh + tinyrnn_asr_s32(q1, 16) + tinyrnn_asr_s32(q2, 16) + (int32_t)(low >> 16);
}
#endif

/* Helium: 8 int8 weights widened by the load against 8 int16 values per VMLALDAVA, the
 * tail predicated. DSP: 4 weights per word, SXTB16 splits them into (w0, w2), (w1, w3),
 * PKHBT/PKHTB pair v the same way, two SMLALD; the last n % 4 in C. */
int64_t tinyrnn_dot_s16(const int8_t *w, const int16_t *v, int32_t n, int64_t acc)
{
    int32_t k = 0;
#if TINYRNN_PATH == TINYRNN_PATH_MVE
    for (; k < n; k += 8) {
        const mve_pred16_t lanes = vctp16q((uint32_t)(n - k));
        acc = vmlaldavaq_s16(acc, vldrbq_z_s16(w + k, lanes), vld1q_z_s16(v + k, lanes));
    }
#elif TINYRNN_DSP_FAMILY
    for (; k + 4 <= n; k += 4) {
        const uint32_t word = tinyrnn_read_u32(w + k);
        uint32_t v01, v23;
        memcpy(&v01, v + k, sizeof v01);
        memcpy(&v23, v + k + 2, sizeof v23);
        acc = tinyrnn_smlald(tinyrnn_sxtb16(word), tinyrnn_pack_lo16(v01, v23), acc);
        acc = tinyrnn_smlald(tinyrnn_sxtb16(tinyrnn_ror8(word)), tinyrnn_pack_hi16(v01, v23), acc);
    }
#endif
    for (; k < n; ++k) {
        acc += (int32_t)w[k] * (int32_t)v[k];
    }
    return acc;
}

/* Helium: 8 int16 weights against 8 int16 values per VMLALDAVA, the tail predicated. DSP:
 * a word holds two of each, one SMLALD; an odd last element in C. */
int64_t tinyrnn_dot_s16x16(const int16_t *w, const int16_t *v, int32_t n, int64_t acc)
{
    int32_t k = 0;
#if TINYRNN_PATH == TINYRNN_PATH_MVE
    for (; k < n; k += 8) {
        const mve_pred16_t lanes = vctp16q((uint32_t)(n - k));
        acc = vmlaldavaq_s16(acc, vld1q_z_s16(w + k, lanes), vld1q_z_s16(v + k, lanes));
    }
#elif TINYRNN_DSP_FAMILY
    for (; k + 2 <= n; k += 2) {
        int32_t w01, v01;
        memcpy(&w01, w + k, sizeof w01);
        memcpy(&v01, v + k, sizeof v01);
        acc = tinyrnn_smlald(w01, v01, acc);
    }
#endif
    for (; k < n; ++k) {
        acc += (int32_t)w[k] * (int32_t)v[k];
    }
    return acc;
}
