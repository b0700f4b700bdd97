// A user's own firmware (not tinyrnn's): its own startup, linker script and main, in C++.
// It includes only the generated library's API header and feeds float windows through
// quantize_input + run, printing the int8 inputs, the int8 outputs and the class id as hex
// lines: over semihosting on a Cortex-M, on stdout on a PC. On the Cortex-M it also paints
// the free stack before one _run and prints how much of it the call used.
#include <stdint.h>

#include "har.h"
#include "windows.h"  // written by the test: USER_WINDOWS, USER_STEPS, user_windows[][][]

#if defined(__arm__)
static void semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
}

static void put(const char *s)
{
    semihost(0x04, s);  // SYS_WRITE0
}
#else
#include <stdio.h>
static void put(const char *s)
{
    fputs(s, stdout);
}
#endif

static void put_bytes(const char *tag, const void *data, int n)
{
    static const char digits[] = "0123456789abcdef";
    char line[2 * 64 + 4];
    const uint8_t *v = static_cast<const uint8_t *>(data);
    int k = 0;
    line[k++] = tag[0];
    line[k++] = ' ';
    for (int i = 0; i < n && k < (int)sizeof line - 2; ++i) {
        const uint8_t b = v[i];
        line[k++] = digits[b >> 4];
        line[k++] = digits[b & 15];
    }
    line[k++] = '\n';
    line[k] = '\0';
    put(line);
}

#if defined(__arm__)
// Stack bytes one tinyrnn_har_run call used: the words below the stack pointer are
// painted first, the call runs below it, the lowest overwritten word marks its depth.
static const uint32_t PAINT = 0x5AA5C33Cu;
static const int PAINT_WORDS = 1024;

__attribute__((noinline)) static uint32_t run_stack_bytes(tinyrnn_har_state_t *st, const int8_t *x,
                                                            tinyrnn_har_output_t *y)
{
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (int k = 1; k <= PAINT_WORDS; ++k) {
        sp[-k] = PAINT;
    }
    tinyrnn_har_run(st, x, USER_STEPS, y);
    int depth = PAINT_WORDS;
    while (depth > 0 && sp[-depth] == PAINT) {
        --depth;
    }
    return 4u * static_cast<uint32_t>(depth);
}
#endif

int main()
{
    static tinyrnn_har_state_t state;
    static int8_t q[USER_STEPS][TINYRNN_HAR_INPUT_SIZE];
    tinyrnn_har_output_t y[TINYRNN_HAR_OUTPUT_SIZE]; // int16 logits by default: the header says
    for (int w = 0; w < USER_WINDOWS; ++w) {
        for (int t = 0; t < USER_STEPS; ++t) {
            tinyrnn_har_quantize_input(user_windows[w][t], q[t]);
            put_bytes("q", q[t], TINYRNN_HAR_INPUT_SIZE);
        }
        tinyrnn_har_run(&state, &q[0][0], USER_STEPS, y);
        put_bytes("y", y, static_cast<int>(sizeof y)); // little-endian values
        const int8_t cls = static_cast<int8_t>(tinyrnn_har_argmax(y));
        put_bytes("c", &cls, 1);
    }
#if defined(__arm__)
    const uint32_t used = run_stack_bytes(&state, &q[0][0], y);
    const int8_t bytes[4] = {static_cast<int8_t>(used), static_cast<int8_t>(used >> 8), 0, 0};
    put_bytes("s", bytes, 4);
#endif
    put("done\n");
    return 0;
}
