#include "stub.h"

void tinyrnn_stub_reset(tinyrnn_stub_state_t *st)
{
    st->acc = 0;
}

void tinyrnn_stub_step(tinyrnn_stub_state_t *st, const int8_t *x_t, int8_t *y)
{
    tinyrnn_stub_step_masked(st, x_t, 1, y);
}

void tinyrnn_stub_step_masked(tinyrnn_stub_state_t *st, const int8_t *x_t, int valid, int8_t *y)
{
    int i;
    for (i = 0; valid && i < STUB_IN; i++)
        st->acc += x_t[i];
    for (i = 0; i < STUB_OUT; i++) {
        int32_t v = st->acc + i;
        y[i] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
    }
}

void tinyrnn_stub_run(tinyrnn_stub_state_t *st, const int8_t *x, int T, int8_t *y)
{
    int t;
    tinyrnn_stub_reset(st);
    for (t = 0; t < T; t++)
        tinyrnn_stub_step(st, x + t * STUB_IN, y);
}
