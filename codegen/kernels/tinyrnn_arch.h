/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 *
 * Which inner-loop path this build uses. The path fixes the weight layout too: codegen
 * emits one path's layout per model library, and its weights header stops any build
 * whose TINYRNN_PATH differs.
 *
 *   TINYRNN_PATH_MVE   3  Helium (Cortex-M55): int8 rows zero padded to 16 columns,
 *                         [unit][row][K16], VMLADAVA (16 MACs per instruction)
 *   TINYRNN_PATH_DSP   2  Cortex-M4/M7/M33: weights pre-widened to int16 pairs in SXTB16
 *                         order [unit][K/4][row][2 words], inputs widened the same way
 *                         once per step, SMLAD (two MACs per instruction)
 *   TINYRNN_PATH_WIDE  1  cores with a 32x32->64 multiply-accumulate (Cortex-M3, hosts):
 *                         two rows packed per 32-bit word, w_a + w_b * 2^23,
 *                         [unit][K4][row pairs], one SMLAL = two MACs
 *   TINYRNN_PATH_PLAIN 0  everything else (Cortex-M0/M0+/M23): int8 rows [unit][row][K]
 *   TINYRNN_PATH_DSP8  4  DSP cores, on request: int8 weights (half the flash of DSP),
 *                         [unit][K/4][row] words of 4 bytes split by SXTB16 in the loop,
 *                         ~1.3 instead of ~0.8 instructions per MAC
 *
 * Build with -DTINYRNN_PATH=n to choose one (the weights file must see the same value;
 * the tests run DSP on a host with the intrinsics emulated in C). TINYRNN_ASM is 1 where
 * the hot loops use GNU inline assembly (optimized Thumb-2 builds; -DTINYRNN_NO_ASM turns
 * it off): compilers split LDM into single loads scheduled apart, ~40% more instructions
 * per MAC, and at -O0 cannot allocate the loop's registers.
 */
#ifndef TINYRNN_ARCH_H
#define TINYRNN_ARCH_H

#include <stdint.h>
#include <string.h>

#define TINYRNN_PATH_PLAIN 0
#define TINYRNN_PATH_WIDE 1
#define TINYRNN_PATH_DSP 2
#define TINYRNN_PATH_MVE 3
#define TINYRNN_PATH_DSP8 4

#ifndef TINYRNN_PATH
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define TINYRNN_PATH TINYRNN_PATH_MVE
#elif defined(__ARM_FEATURE_DSP)
#define TINYRNN_PATH TINYRNN_PATH_DSP
#elif defined(__ARM_ARCH_ISA_THUMB) && __ARM_ARCH_ISA_THUMB == 1
#define TINYRNN_PATH TINYRNN_PATH_PLAIN
#else
#define TINYRNN_PATH TINYRNN_PATH_WIDE
#endif
#endif

#if TINYRNN_PATH == TINYRNN_PATH_MVE && !(defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1))
#error "TINYRNN_PATH_MVE needs a core with integer MVE (Helium)"
#endif

/* Both DSP paths share the staged input format and the SMLAD loop structure. */
#define TINYRNN_DSP_FAMILY (TINYRNN_PATH == TINYRNN_PATH_DSP || TINYRNN_PATH == TINYRNN_PATH_DSP8)

#if !defined(TINYRNN_NO_ASM) && defined(__GNUC__) && defined(__OPTIMIZE__) && defined(__thumb2__) && \
    (TINYRNN_DSP_FAMILY ? defined(__ARM_FEATURE_DSP) : TINYRNN_PATH == TINYRNN_PATH_WIDE)
#define TINYRNN_ASM 1
#else
#define TINYRNN_ASM 0
#endif
/* The plain path's dot loop in Armv6-M/v8-M Baseline assembly (Cortex-M0/M0+/M23). */
#if !defined(TINYRNN_NO_ASM) && defined(__GNUC__) && defined(__OPTIMIZE__) && defined(__thumb__) && \
    !defined(__thumb2__) && TINYRNN_PATH == TINYRNN_PATH_PLAIN
#define TINYRNN_ASM_V6M 1
#else
#define TINYRNN_ASM_V6M 0
#endif

#if defined(__GNUC__)
#define TINYRNN_UNLIKELY(c) __builtin_expect(!!(c), 0)
#else
#define TINYRNN_UNLIKELY(c) (c)
#endif

/* Weight element type: words for the packed layouts (DSP, DSP8, WIDE), bytes otherwise. */
#if TINYRNN_DSP_FAMILY || TINYRNN_PATH == TINYRNN_PATH_WIDE
typedef int32_t tinyrnn_weight_t;
#else
typedef int8_t tinyrnn_weight_t;
#endif

/* Words of work area one staged input vector of n values takes on any path (the kernels
 * stage each step's inputs, see tinyrnn_dot.h): int16 pairs of whole groups of 4 (DSP),
 * at least one whole vector of 16 bytes (MVE). */
#define TINYRNN_STAGE_WORDS(n) ((n) > 4 ? 2 * (((n) + 3) / 4) : 4)

/* uint32 -> int32 two's complement reinterpretation without implementation-defined
 * conversion; compiles to nothing. */
static inline int32_t tinyrnn_s32_from_u32(uint32_t u)
{
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - 0x80000000u) - INT32_MAX - 1;
}

#if TINYRNN_DSP_FAMILY
/* tinyrnn_smlad(a, b, acc) = acc + lo16(a) * lo16(b) + hi16(a) * hi16(b) (tinyrnn_smlald: in 64 bits);
 * tinyrnn_sxtb16(x) = (int16)(int8)byte0 | (int16)(int8)byte2 << 16. */
#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
static inline int32_t tinyrnn_smlad(int32_t a, int32_t b, int32_t acc)
{
    return __smlad(a, b, acc);
}

static inline int32_t tinyrnn_sxtb16(uint32_t x)
{
    return __sxtb16(tinyrnn_s32_from_u32(x));
}

static inline int64_t tinyrnn_smlald(int32_t a, int32_t b, int64_t acc)
{
    return __smlald(a, b, acc);
}

/* ACLE has no PKHBT/PKHTB and GCC spells them as 2 instructions more each. */
static inline int32_t tinyrnn_pack_lo16(uint32_t a, uint32_t b)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline int32_t tinyrnn_pack_hi16(uint32_t a, uint32_t b)
{
    int32_t r;
    __asm__("pkhtb %0, %2, %1, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline uint32_t tinyrnn_ror8(uint32_t x)
{
    return x >> 8 | x << 24;
}
#else
/* C models of the two DSP instructions, for host tests of this path. */
static inline int32_t tinyrnn_lo16(uint32_t a)
{
    return (int32_t)(a & 0xFFFFu) - (int32_t)((a & 0x8000u) << 1);
}

static inline int32_t tinyrnn_smlad(int32_t a, int32_t b, int32_t acc)
{
    const uint32_t ua = (uint32_t)a, ub = (uint32_t)b;
    return acc + tinyrnn_lo16(ua) * tinyrnn_lo16(ub) + tinyrnn_lo16(ua >> 16) * tinyrnn_lo16(ub >> 16);
}

/* tinyrnn_smlald: tinyrnn_smlad with a 64-bit accumulator. */
static inline int64_t tinyrnn_smlald(int32_t a, int32_t b, int64_t acc)
{
    const uint32_t ua = (uint32_t)a, ub = (uint32_t)b;
    return acc + tinyrnn_lo16(ua) * tinyrnn_lo16(ub) + tinyrnn_lo16(ua >> 16) * tinyrnn_lo16(ub >> 16);
}

/* tinyrnn_pack_lo16(a, b) = lo16(a) | lo16(b) << 16, tinyrnn_pack_hi16(a, b) = hi16(a) | hi16(b) << 16. */
static inline int32_t tinyrnn_pack_lo16(uint32_t a, uint32_t b)
{
    return tinyrnn_s32_from_u32((a & 0xFFFFu) | b << 16);
}

static inline int32_t tinyrnn_pack_hi16(uint32_t a, uint32_t b)
{
    return tinyrnn_s32_from_u32(a >> 16 | (b & 0xFFFF0000u));
}

/* Only the low bytes of each half reach tinyrnn_sxtb16, so a shift is as good as a rotate. */
static inline uint32_t tinyrnn_ror8(uint32_t x)
{
    return x >> 8;
}

static inline int32_t tinyrnn_sxtb16(uint32_t x)
{
    const uint32_t lo = (x & 0xFFu) | (0u - ((x >> 7) & 1u)) << 8;
    const uint32_t hi = ((x >> 16) & 0xFFu) | (0u - ((x >> 23) & 1u)) << 8;
    return tinyrnn_s32_from_u32((lo & 0xFFFFu) | (hi & 0xFFFFu) << 16);
}
#endif

/* Four int8 values as one word, from any alignment (one LDR on Cortex-M4 and later;
 * little-endian, as every Cortex-M build of tinyrnn is). */
static inline uint32_t tinyrnn_read_u32(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
#endif /* TINYRNN_DSP_FAMILY */

#endif /* TINYRNN_ARCH_H */
