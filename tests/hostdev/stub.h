/* A stand-in for a generated model with the same API (docs/design.md), for the host
 * build: state = running sum of every input since reset, y[o] = sat8(sum + o).
 * Sizes come from -DSTUB_IN / -DSTUB_OUT so tests can build several shapes. */
#ifndef TINYRNN_STUB_H
#define TINYRNN_STUB_H

#include <stdint.h>

#ifndef STUB_IN
#define STUB_IN 7
#endif
#ifndef STUB_OUT
#define STUB_OUT 3
#endif

#define TINYRNN_STUB_INPUT_SIZE STUB_IN
#define TINYRNN_STUB_OUTPUT_SIZE STUB_OUT
#define TINYRNN_STUB_HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TINYRNN_STUB_STATE_BYTES ((int)sizeof(tinyrnn_stub_state_t))
#define TINYRNN_KERNEL_ABI_VERSION 7

typedef struct {
    int32_t acc;
} tinyrnn_stub_state_t;

void tinyrnn_stub_reset(tinyrnn_stub_state_t *st);
void tinyrnn_stub_step(tinyrnn_stub_state_t *st, const int8_t *x_t, int8_t *y);
void tinyrnn_stub_step_masked(tinyrnn_stub_state_t *st, const int8_t *x_t, int valid, int8_t *y);
void tinyrnn_stub_run(tinyrnn_stub_state_t *st, const int8_t *x, int T, int8_t *y);

#endif
