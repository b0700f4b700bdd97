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
 * tinyrnn_dot_span does the same reading int8 values in place (the conv window), copying
 * at most a last partial group.
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

/* 16 columns per VMLADAVA, one accumulator register per row. Rows are zero padded to
 * whole vectors of 16 (layout "mve"), and so is a staged vector (TINYRNN_STAGE_WORDS):
 * staged reads are never predicated. exact: v is not padded (a conv window in its ring),
 * the last vector's lanes past n are predicated off, read as 0 and never touched. */
TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_dot_mve(const tinyrnn_weight_t *w, const int8_t *v, int32_t n,
                                                       int32_t rows, const int32_t *bias, int32_t *acc, int exact)
{
    const int32_t n16 = (n + 15) & ~15;
    /* Row pointers only for rows that exist: w + r n16 past the block would be UB. */
    const int8_t *w1 = rows > 1 ? w + n16 : w, *w2 = rows > 2 ? w + 2 * n16 : w, *w3 = rows > 3 ? w + 3 * n16 : w;
    int32_t a0 = bias[0], a1 = rows > 1 ? bias[1] : 0, a2 = rows > 2 ? bias[2] : 0, a3 = rows > 3 ? bias[3] : 0;
    for (int32_t k = 0; k < n16; k += 16) {
        const int8x16_t vk = exact ? vldrbq_z_s8(v + k, vctp8q((uint32_t)(n - k))) : vld1q_s8(v + k);
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

TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_dot(const tinyrnn_weight_t *w, const int32_t *staged, int32_t n,
                                                   int32_t rows, const int32_t *bias, int32_t *acc)
{
    return tinyrnn_dot_mve(w, (const int8_t *)staged, n, rows, bias, acc, 0);
}

TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_dot_bytes(const tinyrnn_weight_t *w, const int8_t *v, int32_t n,
                                                         int32_t rows, const int32_t *bias, int32_t *acc)
{
    return tinyrnn_dot_mve(w, v, n, rows, bias, acc, 1);
}

#elif TINYRNN_DSP_FAMILY && TINYRNN_ASM
/* These out-of-line helpers (and WIDE's below) stay static here rather than in
 * tinyrnn_support.c: each row count serves one layer kind (LSTM 4, GRU 3, 2, 1), so no
 * model links two copies, and in the caller's file GCC allocates registers knowing what
 * they clobber (extern, tinyrnn bench measured up to +52 B of GRU code and +0.3% GRU
 * instructions on the M7).
 *
 * One unit's block: per group, the two input pair words (x02, x13), LDM the rows'
 * weights into r4-r6, r8 (ascending; r7 may be the frame pointer), two SMLAD per row.
 * DSP: two int16-pair words per row. DSP8: one word of 4 int8 per row, split by SXTB16
 * into the same two pairs. Out of line, so the asm's registers never compete with the
 * caller's. */
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
/* Each group's inputs as the int16 pairs (v0, v2) in x and (v1, v3) in t: loaded as staged,
 * or split from four int8 read straight (LDR takes any alignment; a conv window). */
#define TINYRNN_LOAD_STAGED "ldrd %[x], %[t], [%[v]], #8\n\t"
#define TINYRNN_LOAD_BYTES "ldr %[x], [%[v]], #4\n\tsxtb16 %[t], %[x], ror #8\n\tsxtb16 %[x], %[x]\n\t"
#define TINYRNN_DSP_LOOP(load, body) "1:\n\t" load body "subs %[n], %[n], #1\n\tbne 1b\n\t"
#define TINYRNN_DSP_IO [w] "+r"(w), [v] "+r"(v), [n] "+r"(n), [x] "=&r"(x), [t] "=&r"(t)
#define TINYRNN_DSP_CLOBBERS "r4", "r5", "r6", "r8", "cc", "memory"
#define TINYRNN_DSP_HEAD(name, vtype)                                                                           \
    TINYRNN_NOINLINE const tinyrnn_weight_t *name(const tinyrnn_weight_t *w, const vtype *v, int32_t n,         \
                                                  const int32_t *bias, int32_t *acc)

/* name4 .. name1: acc[r] = bias[r] + the unit's rows over n groups, each loaded by `load`. */
#define TINYRNN_DSP_DOTS(name, vtype, load)                                                                     \
    TINYRNN_DSP_HEAD(name##4, vtype)                                                                            \
    {                                                                                                           \
        int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3], x, t;                                   \
        __asm__ volatile(TINYRNN_DSP_LOOP(load, TINYRNN_ROWS2("a0", "a1") TINYRNN_ROWS2("a2", "a3"))            \
                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), TINYRNN_DSP_IO            \
                         :                                                                                      \
                         : TINYRNN_DSP_CLOBBERS);                                                               \
        acc[0] = a0;                                                                                            \
        acc[1] = a1;                                                                                            \
        acc[2] = a2;                                                                                            \
        acc[3] = a3;                                                                                            \
        return w;                                                                                               \
    }                                                                                                           \
    TINYRNN_DSP_HEAD(name##3, vtype)                                                                            \
    {                                                                                                           \
        int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], x, t;                                                 \
        __asm__ volatile(TINYRNN_DSP_LOOP(load, TINYRNN_ROWS2("a0", "a1") TINYRNN_ROW1("a2"))                   \
                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), TINYRNN_DSP_IO                           \
                         :                                                                                      \
                         : TINYRNN_DSP_CLOBBERS);                                                               \
        acc[0] = a0;                                                                                            \
        acc[1] = a1;                                                                                            \
        acc[2] = a2;                                                                                            \
        return w;                                                                                               \
    }                                                                                                           \
    TINYRNN_DSP_HEAD(name##2, vtype)                                                                            \
    {                                                                                                           \
        int32_t a0 = bias[0], a1 = bias[1], x, t;                                                               \
        __asm__ volatile(TINYRNN_DSP_LOOP(load, TINYRNN_ROWS2("a0", "a1"))                                      \
                         : [a0] "+r"(a0), [a1] "+r"(a1), TINYRNN_DSP_IO                                          \
                         :                                                                                      \
                         : TINYRNN_DSP_CLOBBERS);                                                               \
        acc[0] = a0;                                                                                            \
        acc[1] = a1;                                                                                            \
        return w;                                                                                               \
    }                                                                                                           \
    TINYRNN_DSP_HEAD(name##1, vtype)                                                                            \
    {                                                                                                           \
        int32_t a0 = bias[0], x, t;                                                                             \
        __asm__ volatile(TINYRNN_DSP_LOOP(load, TINYRNN_ROW1("a0"))                                             \
                         : [a0] "+r"(a0), TINYRNN_DSP_IO                                                        \
                         :                                                                                      \
                         : TINYRNN_DSP_CLOBBERS);                                                               \
        acc[0] = a0;                                                                                            \
        return w;                                                                                               \
    }

TINYRNN_DSP_DOTS(tinyrnn_dot_dsp, int32_t, TINYRNN_LOAD_STAGED)
TINYRNN_DSP_DOTS(tinyrnn_dot_raw, int8_t, TINYRNN_LOAD_BYTES)

/* The helper of `rows` rows (1..4) from family `name`, over `groups` groups of v. */
#define TINYRNN_DSP_CALL(name, v, groups)                                                                      \
    (rows == 4   ? name##4(w, v, groups, bias, acc)                                                            \
     : rows == 3 ? name##3(w, v, groups, bias, acc)                                                            \
     : rows == 2 ? name##2(w, v, groups, bias, acc)                                                            \
                 : name##1(w, v, groups, bias, acc))

TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_dot(const tinyrnn_weight_t *w, const int32_t *staged, int32_t n,
                                                   int32_t rows, const int32_t *bias, int32_t *acc)
{
    return TINYRNN_DSP_CALL(tinyrnn_dot_dsp, staged, (n + 3) / 4);
}

TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_dot_bytes(const tinyrnn_weight_t *w, const int8_t *v, int32_t n,
                                                         int32_t rows, const int32_t *bias, int32_t *acc)
{
    return TINYRNN_DSP_CALL(tinyrnn_dot_raw, v, n / 4);
}

#elif TINYRNN_DSP_FAMILY
/* The same in C (hosts, -O0): per group and row, (w0, w2) . x02 + (w1, w3) . x13, the
 * group's x02, x13 staged, or split from four int8 of raw. */
TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_dot_dsp(const tinyrnn_weight_t *w, const int32_t *staged,
                                                       const int8_t *raw, int32_t groups, int32_t rows,
                                                       const int32_t *bias, int32_t *acc)
{
    for (int32_t r = 0; r < rows; ++r) {
        acc[r] = bias[r];
    }
    for (; groups > 0; --groups) {
        int32_t x02, x13;
        if (raw) {
            const uint32_t x = tinyrnn_read_u32(raw);
            x02 = tinyrnn_sxtb16(x);
            x13 = tinyrnn_sxtb16(x >> 8);
            raw += 4;
        } else {
            x02 = staged[0];
            x13 = staged[1];
            staged += 2;
        }
        for (int32_t r = 0; r < rows; ++r) {
#if TINYRNN_PATH == TINYRNN_PATH_DSP
            const int32_t w02 = *w++, w13 = *w++;
#else
            const uint32_t word = (uint32_t)*w++;
            const int32_t w02 = tinyrnn_sxtb16(word), w13 = tinyrnn_sxtb16(word >> 8);
#endif
            acc[r] = tinyrnn_smlad(w02, x02, acc[r]);
            acc[r] = tinyrnn_smlad(w13, x13, acc[r]);
        }
    }
    return w;
}

TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_dot(const tinyrnn_weight_t *w, const int32_t *staged, int32_t n,
                                                   int32_t rows, const int32_t *bias, int32_t *acc)
{
    return tinyrnn_dot_dsp(w, staged, NULL, (n + 3) / 4, rows, bias, acc);
}

TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_dot_bytes(const tinyrnn_weight_t *w, const int8_t *v, int32_t n,
                                                         int32_t rows, const int32_t *bias, int32_t *acc)
{
    return tinyrnn_dot_dsp(w, NULL, v, n / 4, rows, bias, acc);
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

/* Rows 3-4 of one unit (two words per column): acc[r] = bias[r] + sum. */
TINYRNN_NOINLINE const tinyrnn_weight_t *tinyrnn_wide_rows4(const tinyrnn_weight_t *w, const int8_t *v, int32_t groups,
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
TINYRNN_NOINLINE const tinyrnn_weight_t *tinyrnn_wide_rows2(const tinyrnn_weight_t *w, const int8_t *v, int32_t groups,
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

TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_dot_bytes(const tinyrnn_weight_t *w, const int8_t *v, int32_t n,
                                                         int32_t rows, const int32_t *bias, int32_t *acc)
{
    if (rows > 2) {
        return tinyrnn_wide_rows4(w, v, (n + 3) / 4, rows, bias, acc);
    }
    return tinyrnn_wide_rows2(w, v, (n + 3) / 4, rows, bias, acc);
}

#else /* TINYRNN_PATH_PLAIN */
#if TINYRNN_ASM_V6M
/* The loop's accumulators are r8-r11; GCC -Os never allocates high registers on Thumb-1,
 * so the assembly saves and restores them itself and keeps a's pointer on the stack. */
#define TINYRNN_V6M_SAVE(r) "mov %[x], " r "\n\tpush {%[x]}\n\t"
#define TINYRNN_V6M_LOAD(r, off) "ldr %[x], [%[a], #" off "]\n\tmov " r ", %[x]\n\t"
#define TINYRNN_V6M_MAC(e, r) "ldrsb %[a], [" e ", %[k]]\n\tmuls %[a], %[x], %[a]\n\tadd " r ", %[a]\n\t"
#define TINYRNN_V6M_STORE(r, off) "mov %[a], " r "\n\tstr %[a], [%[x], #" off "]\n\t"
#define TINYRNN_V6M_RESTORE(r) "pop {%[a]}\n\tmov " r ", %[a]\n\t"

/* a[r] += sum over k < 0 of e_r[k] * x_end[k], k from -n (n >= 1), four rows. Armv6-M's
 * LDRSB takes a register offset only and MULS low registers, so the index runs up to 0
 * against the end pointers (r0-r7: five bases, the index, x and a product) and ADD
 * accumulates in high registers: 15 instructions per column of 4 rows, where compiled C
 * spills (~6.7 per MAC). Unified syntax, declared: GCC reads Thumb-1 inline assembly as
 * divided unless built with -masm-syntax-unified, and switches back to unified after it. */
TINYRNN_NOINLINE void tinyrnn_dot4_v6m(const int8_t *x_end, const int8_t *e0, const int8_t *e1, const int8_t *e2,
                                       const int8_t *e3, int32_t n, int32_t *a)
{
    int32_t k = -n, x;
    __asm__ volatile(".syntax unified\n\t" TINYRNN_V6M_SAVE("r8") TINYRNN_V6M_SAVE("r9") TINYRNN_V6M_SAVE("r10") TINYRNN_V6M_SAVE("r11")
                     TINYRNN_V6M_LOAD("r8", "0") TINYRNN_V6M_LOAD("r9", "4") TINYRNN_V6M_LOAD("r10", "8")
                     TINYRNN_V6M_LOAD("r11", "12") "push {%[a]}\n"
                     "1:\n\t"
                     "ldrsb %[x], [%[e], %[k]]\n\t" TINYRNN_V6M_MAC("%[e0]", "r8") TINYRNN_V6M_MAC("%[e1]", "r9")
                     TINYRNN_V6M_MAC("%[e2]", "r10") TINYRNN_V6M_MAC("%[e3]", "r11")
                     "adds %[k], #1\n\tbne 1b\n\t"
                     "pop {%[x]}\n\t" TINYRNN_V6M_STORE("r8", "0") TINYRNN_V6M_STORE("r9", "4")
                     TINYRNN_V6M_STORE("r10", "8") TINYRNN_V6M_STORE("r11", "12") TINYRNN_V6M_RESTORE("r11")
                     TINYRNN_V6M_RESTORE("r10") TINYRNN_V6M_RESTORE("r9") TINYRNN_V6M_RESTORE("r8")
                     : [a] "+l"(a), [k] "+l"(k), [x] "=&l"(x)
                     : [e] "l"(x_end), [e0] "l"(e0), [e1] "l"(e1), [e2] "l"(e2), [e3] "l"(e3)
                     : "cc", "memory");
}
#endif

TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_dot_bytes(const tinyrnn_weight_t *w, const int8_t *v, int32_t n,
                                                         int32_t rows, const int32_t *bias, int32_t *acc)
{
    int32_t a0 = bias[0], a1 = 0, a2 = 0, a3 = 0;
    /* Row pointers only for rows that exist: w + r n past the block would be UB. */
    const tinyrnn_weight_t *w1 = rows > 1 ? w + n : w, *w2 = rows > 2 ? w + 2 * n : w, *w3 = rows > 3 ? w + 3 * n : w;
#if TINYRNN_ASM_V6M
    int32_t sums[4] = {a0, 0, 0, 0};
    if (n > 0) {
        tinyrnn_dot4_v6m(v + n, w + n, w1 + n, w2 + n, w3 + n, n, sums);
    }
    a0 = sums[0];
    a1 = sums[1];
    a2 = sums[2];
    a3 = sums[3];
#else
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
#endif
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

#if TINYRNN_PATH == TINYRNN_PATH_WIDE || TINYRNN_PATH == TINYRNN_PATH_PLAIN
/* The staged vector is the int8 one, zero padded to whole groups of 4. */
TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_dot(const tinyrnn_weight_t *w, const int32_t *staged, int32_t n,
                                                   int32_t rows, const int32_t *bias, int32_t *acc)
{
    return tinyrnn_dot_bytes(w, (const int8_t *)staged, n, rows, bias, acc);
}
#endif

/* Columns tinyrnn_dot_bytes takes at a time where its input is not padded: whole groups of
 * 4 on the DSP and WIDE paths; any count on PLAIN and MVE (predicated tail). */
#if TINYRNN_DSP_FAMILY || TINYRNN_PATH == TINYRNN_PATH_WIDE
#define TINYRNN_DOT_GROUP 4
#else
#define TINYRNN_DOT_GROUP 1
#endif

/* acc[r] = bias[r] + sum_k W[r][k] * x[k] for the rows of one unit over n int8 values read
 * in place (any alignment, nothing past x[n - 1]; a conv's window in its ring): the whole
 * groups straight from x, a last partial group from a zero-padded copy. Weights: the
 * unit's block over n columns in this path's layout (bias may be acc, to chain blocks). */
TINYRNN_INLINE const tinyrnn_weight_t *tinyrnn_dot_span(const tinyrnn_weight_t *w, const int8_t *x, int32_t n,
                                                        int32_t rows, const int32_t *bias, int32_t *acc)
{
    const int32_t whole = n - n % TINYRNN_DOT_GROUP;
    if (whole > 0) {
        w = tinyrnn_dot_bytes(w, x, whole, rows, bias, acc);
        bias = acc;
    }
    if (whole < n) {
        int8_t tail[TINYRNN_DOT_GROUP] = {0};
        for (int32_t k = whole; k < n; ++k) {
            tail[k - whole] = x[k];
        }
        w = tinyrnn_dot_bytes(w, tail, TINYRNN_DOT_GROUP, rows, bias, acc);
    }
    return w;
}

#endif /* TINYRNN_DOT_H */
