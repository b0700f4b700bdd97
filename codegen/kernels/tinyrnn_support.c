/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * The kernels' out-of-line helpers, compiled once per model however many layer kinds
 * call them (prototypes and contracts in tinyrnn_dot.h and tinyrnn_fixedpoint.h).
 * Golden twins: tinyrnn/core/golden/fixedpoint.py (requantization); the dot products
 * and staging are exact integer sums, checked through every layer's bit-exact tests.
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

#if TINYRNN_DSP_FAMILY && TINYRNN_ASM
/* One unit's block: per group, LDRD the two staged input words (x02, x13), LDM the rows'
 * weights into r4-r6, r8 (ascending; r7 may be the frame pointer), two SMLAD per row.
 * DSP: two int16-pair words per row. DSP8: one word of 4 int8 per row, split by SXTB16
 * into the same two pairs. */
#define TINYRNN_SMLAD2(a, wa, wb) "smlad %[" a "], " wa ", %[x], %[" a "]\n\tsmlad %[" a "], " wb ", %[t], %[" a "]\n\t"
#define TINYRNN_LDM(regs) "ldmia %[w]!, {" regs "}\n\t"
#define TINYRNN_SPLIT(r, tmp) "sxtb16 " tmp ", " r "\n\tsxtb16 " r ", " r ", ror #8\n\t"
#if TINYRNN_PATH == TINYRNN_PATH_DSP
#define TINYRNN_ROWS2(a, b) TINYRNN_LDM("r4, r5, r6, r8") TINYRNN_SMLAD2(a, "r4", "r5") TINYRNN_SMLAD2(b, "r6", "r8")
#define TINYRNN_ROW1(a) TINYRNN_LDM("r4, r5") TINYRNN_SMLAD2(a, "r4", "r5")
#else
#define TINYRNN_ROWS2(a, b)                                                                                     \
    TINYRNN_LDM("r4, r5") TINYRNN_SPLIT("r4", "r6") TINYRNN_SPLIT("r5", "r8") TINYRNN_SMLAD2(a, "r6", "r4")     \
        TINYRNN_SMLAD2(b, "r8", "r5")
#define TINYRNN_ROW1(a) "ldr r4, [%[w]], #4\n\t" TINYRNN_SPLIT("r4", "r6") TINYRNN_SMLAD2(a, "r6", "r4")
#endif
#define TINYRNN_DSP_LOOP(body) "1:\n\tldrd %[x], %[t], [%[v]], #8\n\t" body "subs %[n], %[n], #1\n\tbne 1b\n\t"
#define TINYRNN_DSP_IO [w] "+r"(w), [v] "+r"(v), [n] "+r"(n), [x] "=&r"(x), [t] "=&r"(t)
#define TINYRNN_DSP_CLOBBERS "r4", "r5", "r6", "r8", "cc", "memory"

const tinyrnn_weight_t *tinyrnn_dot_rows4(const tinyrnn_weight_t *w, const int32_t *v, int32_t n,
                                          const int32_t *bias, int32_t *acc)
{
    int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3], x, t;
    __asm__ volatile(TINYRNN_DSP_LOOP(TINYRNN_ROWS2("a0", "a1") TINYRNN_ROWS2("a2", "a3"))
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), TINYRNN_DSP_IO
                     :
                     : TINYRNN_DSP_CLOBBERS);
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    return w;
}

const tinyrnn_weight_t *tinyrnn_dot_rows3(const tinyrnn_weight_t *w, const int32_t *v, int32_t n,
                                          const int32_t *bias, int32_t *acc)
{
    int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], x, t;
    __asm__ volatile(TINYRNN_DSP_LOOP(TINYRNN_ROWS2("a0", "a1") TINYRNN_ROW1("a2"))
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), TINYRNN_DSP_IO
                     :
                     : TINYRNN_DSP_CLOBBERS);
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    return w;
}

const tinyrnn_weight_t *tinyrnn_dot_rows2(const tinyrnn_weight_t *w, const int32_t *v, int32_t n,
                                          const int32_t *bias, int32_t *acc)
{
    int32_t a0 = bias[0], a1 = bias[1], x, t;
    __asm__ volatile(TINYRNN_DSP_LOOP(TINYRNN_ROWS2("a0", "a1"))
                     : [a0] "+r"(a0), [a1] "+r"(a1), TINYRNN_DSP_IO
                     :
                     : TINYRNN_DSP_CLOBBERS);
    acc[0] = a0;
    acc[1] = a1;
    return w;
}

const tinyrnn_weight_t *tinyrnn_dot_rows1(const tinyrnn_weight_t *w, const int32_t *v, int32_t n,
                                          const int32_t *bias, int32_t *acc)
{
    int32_t a0 = bias[0], x, t;
    __asm__ volatile(TINYRNN_DSP_LOOP(TINYRNN_ROW1("a0"))
                     : [a0] "+r"(a0), TINYRNN_DSP_IO
                     :
                     : TINYRNN_DSP_CLOBBERS);
    acc[0] = a0;
    return w;
}

#elif TINYRNN_PATH == TINYRNN_PATH_WIDE
/* Packed words w_a + w_b * 2^23 accumulate sum(w_a v) + 2^23 sum(w_b v) in 64 bits. Started
 * at 2^22, the low field stays in [0, 2^23) for up to 255 columns (|w v| <= 2^14), so
 * chunks of 63 groups are split exactly: low = (lo & (2^23 - 1)) - 2^22, high = the
 * 64-bit sum >> 23 (the low field's bias never reaches bit 23). */
#define TINYRNN_WIDE_CHUNK 63 /* groups of 4 columns */
#define TINYRNN_WIDE_BIAS (1u << 22)

TINYRNN_INLINE int32_t tinyrnn_wide_low(uint32_t lo)
{
    return (int32_t)(lo & 0x7FFFFFu) - (int32_t)TINYRNN_WIDE_BIAS;
}

TINYRNN_INLINE int32_t tinyrnn_wide_high(uint32_t lo, uint32_t hi)
{
    return tinyrnn_s32_from_u32(hi << 9 | lo >> 23);
}

#if TINYRNN_ASM
#define TINYRNN_WIDE_LD "ldrsb %[x], [%[v]], #1\n\t"
#define TINYRNN_WIDE_MAC(i, r) "smlal %[l" #i "], %[h" #i "], " r ", %[x]\n\t"
#define TINYRNN_WIDE_TWO(ra, rb) TINYRNN_WIDE_LD TINYRNN_WIDE_MAC(0, ra) TINYRNN_WIDE_MAC(1, rb)
#define TINYRNN_WIDE_ONE(ra) TINYRNN_WIDE_LD TINYRNN_WIDE_MAC(0, ra)
#define TINYRNN_WIDE_LDM "ldmia %[w]!, {r4, r5, r6, r8}\n\t"
#define TINYRNN_WIDE_LOOP "subs %[n], %[n], #1\n\tbne 1b\n\t"
#endif

/* Rows 3-4 of one unit (two words per column). */
TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_wide_pairs(const tinyrnn_weight_t *w, const int8_t *v, int32_t groups,
                                                          int32_t rows, const int32_t *bias, int32_t *acc)
{
    int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = rows > 3 ? bias[3] : 0;
    for (; groups > 0; groups -= TINYRNN_WIDE_CHUNK) {
        int32_t n = groups < TINYRNN_WIDE_CHUNK ? groups : TINYRNN_WIDE_CHUNK;
        uint32_t l0 = TINYRNN_WIDE_BIAS, h0 = 0, l1 = TINYRNN_WIDE_BIAS, h1 = 0;
#if TINYRNN_ASM
        int32_t x;
        __asm__ volatile("1:\n\t" TINYRNN_WIDE_LDM TINYRNN_WIDE_TWO("r4", "r5") TINYRNN_WIDE_TWO("r6", "r8")
                         TINYRNN_WIDE_LDM TINYRNN_WIDE_TWO("r4", "r5") TINYRNN_WIDE_TWO("r6", "r8") TINYRNN_WIDE_LOOP
                         : [l0] "+r"(l0), [h0] "+r"(h0), [l1] "+r"(l1), [h1] "+r"(h1), [w] "+r"(w), [v] "+r"(v),
                           [n] "+r"(n), [x] "=&r"(x)
                         :
                         : "r4", "r5", "r6", "r8", "cc", "memory");
#else
        for (int32_t k = 4 * n; k > 0; --k, w += 2) {
            const int64_t vk = *v++;
            const uint64_t s0 = ((uint64_t)h0 << 32 | l0) + (uint64_t)(w[0] * vk);
            const uint64_t s1 = ((uint64_t)h1 << 32 | l1) + (uint64_t)(w[1] * vk);
            l0 = (uint32_t)s0;
            h0 = (uint32_t)(s0 >> 32);
            l1 = (uint32_t)s1;
            h1 = (uint32_t)(s1 >> 32);
        }
#endif
        a0 += tinyrnn_wide_low(l0);
        a1 += tinyrnn_wide_high(l0, h0);
        a2 += tinyrnn_wide_low(l1);
        a3 += tinyrnn_wide_high(l1, h1);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    if (rows > 3) {
        acc[3] = a3;
    }
    return w;
}

/* Rows 1-2 of one unit (one word per column). */
TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_wide_single(const tinyrnn_weight_t *w, const int8_t *v, int32_t groups,
                                                           int32_t rows, const int32_t *bias, int32_t *acc)
{
    int32_t a0 = bias[0], a1 = rows > 1 ? bias[1] : 0;
    for (; groups > 0; groups -= TINYRNN_WIDE_CHUNK) {
        int32_t n = groups < TINYRNN_WIDE_CHUNK ? groups : TINYRNN_WIDE_CHUNK;
        uint32_t l0 = TINYRNN_WIDE_BIAS, h0 = 0;
#if TINYRNN_ASM
        int32_t x;
        __asm__ volatile("1:\n\t" TINYRNN_WIDE_LDM TINYRNN_WIDE_ONE("r4") TINYRNN_WIDE_ONE("r5") TINYRNN_WIDE_ONE("r6")
                         TINYRNN_WIDE_ONE("r8") TINYRNN_WIDE_LOOP
                         : [l0] "+r"(l0), [h0] "+r"(h0), [w] "+r"(w), [v] "+r"(v), [n] "+r"(n), [x] "=&r"(x)
                         :
                         : "r4", "r5", "r6", "r8", "cc", "memory");
#else
        for (int32_t k = 4 * n; k > 0; --k, ++w) {
            const uint64_t s0 = ((uint64_t)h0 << 32 | l0) + (uint64_t)(w[0] * (int64_t)*v++);
            l0 = (uint32_t)s0;
            h0 = (uint32_t)(s0 >> 32);
        }
#endif
        a0 += tinyrnn_wide_low(l0);
        a1 += tinyrnn_wide_high(l0, h0);
    }
    acc[0] = a0;
    if (rows > 1) {
        acc[1] = a1;
    }
    return w;
}

/* Each row count gets its own copy of the loop with `rows` a constant. */
const tinyrnn_weight_t *tinyrnn_dot_rows4(const tinyrnn_weight_t *w, const int32_t *staged, int32_t groups,
                                          const int32_t *bias, int32_t *acc)
{
    return tinyrnn_wide_pairs(w, (const int8_t *)staged, groups, 4, bias, acc);
}

const tinyrnn_weight_t *tinyrnn_dot_rows3(const tinyrnn_weight_t *w, const int32_t *staged, int32_t groups,
                                          const int32_t *bias, int32_t *acc)
{
    return tinyrnn_wide_pairs(w, (const int8_t *)staged, groups, 3, bias, acc);
}

const tinyrnn_weight_t *tinyrnn_dot_rows2(const tinyrnn_weight_t *w, const int32_t *staged, int32_t groups,
                                          const int32_t *bias, int32_t *acc)
{
    return tinyrnn_wide_single(w, (const int8_t *)staged, groups, 2, bias, acc);
}

const tinyrnn_weight_t *tinyrnn_dot_rows1(const tinyrnn_weight_t *w, const int32_t *staged, int32_t groups,
                                          const int32_t *bias, int32_t *acc)
{
    return tinyrnn_wide_single(w, (const int8_t *)staged, groups, 1, bias, acc);
}
#endif
