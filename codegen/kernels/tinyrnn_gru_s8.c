/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * int8 GRU time step. Golden twin: tinyrnn/golden/gru_s8.py (the spec). */
#include "tinyrnn_gru_s8.h"

#include "tinyrnn_activation_s16.h"
#include "tinyrnn_fixedpoint.h"

#define TINYRNN_GRU_ONE_Q15 32768

/* acc[g] += dot(w + g*n, v) for the three gate rows of one unit, in a single pass over v
 * so each input element is loaded once for all three gates. */
static inline void tinyrnn_gru_dot3(const int8_t *w, const int8_t *v, int32_t n, int32_t acc[3])
{
    const int8_t *w0 = w;
    const int8_t *w1 = w + n;
    const int8_t *w2 = w + 2 * n;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2];
    for (int32_t k = 0; k < n; ++k) {
        const int32_t vk = v[k];
        a0 += w0[k] * vk;
        a1 += w1[k] * vk;
        a2 += w2[k] * vk;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
}

/* The same for two rows (update and reset of the reset_after = 0 variant). */
static inline void tinyrnn_gru_dot2(const int8_t *w, const int8_t *v, int32_t n, int32_t acc[2])
{
    const int8_t *w1 = w + n;
    int32_t a0 = acc[0], a1 = acc[1];
    for (int32_t k = 0; k < n; ++k) {
        const int32_t vk = v[k];
        a0 += w[k] * vk;
        a1 += w1[k] * vk;
    }
    acc[0] = a0;
    acc[1] = a1;
}

static inline int32_t tinyrnn_gru_dot1(const int8_t *w, const int8_t *v, int32_t n, int32_t acc)
{
    for (int32_t k = 0; k < n; ++k) {
        acc += w[k] * v[k];
    }
    return acc;
}

/* Each matmul is requantized to Q3.12 and saturated to int16 on its own. */
static inline int16_t tinyrnn_gru_from_x(const tinyrnn_gru_s8_params *p, int32_t g, int32_t acc)
{
    return tinyrnn_sat_s16(tinyrnn_requantize(acc, p->gate_x_multiplier[g], p->gate_x_shift[g]));
}

static inline int16_t tinyrnn_gru_from_h(const tinyrnn_gru_s8_params *p, int32_t g, int32_t acc)
{
    return tinyrnn_sat_s16(tinyrnn_requantize(acc, p->gate_h_multiplier[g], p->gate_h_shift[g]));
}

/* sigmoid(sat16(from_x + from_h)) of the update or reset gate: Q0.15 in [0, 32767]. */
static inline int32_t tinyrnn_gru_sigmoid_gate(const tinyrnn_gru_s8_params *p, int32_t g, int32_t acc_x,
                                               int32_t acc_h)
{
    const int32_t pre = (int32_t)tinyrnn_gru_from_x(p, g, acc_x) + tinyrnn_gru_from_h(p, g, acc_h);
    return tinyrnn_sigmoid_s16_one(tinyrnn_sat_s16(pre), 0, p->sigmoid_lut);
}

/* h~ = tanh(sat16(from_x + gated)), both parts already int16. */
static inline int32_t tinyrnn_gru_candidate(const tinyrnn_gru_s8_params *p, int32_t from_x, int32_t gated)
{
    return tinyrnn_tanh_s16_one(tinyrnn_sat_s16(from_x + gated), 0, p->sigmoid_lut);
}

/* h = z*h + (1 - z)*h~ in Q0.15. z in [0, 32767], so the two weights sum to 2^15 and
 * |sum| <= 2^15 * 2^15: no int32 overflow. */
static inline int16_t tinyrnn_gru_blend(int32_t z, int32_t h16, int32_t cand)
{
    const int32_t sum = z * h16 + (TINYRNN_GRU_ONE_Q15 - z) * cand;
    return tinyrnn_sat_s16(tinyrnn_rounding_divide_by_pot(sum, 15));
}

/* reset_after = 1: one fused pass. The matmuls read h8 only, so unit j may overwrite
 * h16[j] at once; h8 is refreshed after the loop. */
static void tinyrnn_gru_step_after(const tinyrnn_gru_s8_params *p, const int8_t *x, int16_t *h16,
                                   const int8_t *h8)
{
    const int32_t n_in = p->input_size;
    const int32_t n_h = p->hidden_size;
    const int8_t *w_x = p->w_x;
    const int8_t *w_h = p->w_h;
    const int32_t *b_x = p->bias_x;
    const int32_t *b_h = p->bias_h;

    for (int32_t j = 0; j < n_h; ++j) {
        int32_t acc_x[3] = {b_x[0], b_x[1], b_x[2]};
        int32_t acc_h[3] = {b_h[0], b_h[1], b_h[2]};
        tinyrnn_gru_dot3(w_x, x, n_in, acc_x);
        tinyrnn_gru_dot3(w_h, h8, n_h, acc_h);
        w_x += TINYRNN_GRU_GATES * n_in;
        w_h += TINYRNN_GRU_GATES * n_h;
        b_x += TINYRNN_GRU_GATES;
        b_h += TINYRNN_GRU_GATES;

        const int32_t z = tinyrnn_gru_sigmoid_gate(p, 0, acc_x[0], acc_h[0]);
        const int32_t r = tinyrnn_gru_sigmoid_gate(p, 1, acc_x[1], acc_h[1]);
        /* r (Q0.15, >= 0) times an int16: |product| < 2^30. */
        const int32_t rh = r * tinyrnn_gru_from_h(p, 2, acc_h[2]);
        const int32_t gated = tinyrnn_sat_s16(tinyrnn_rounding_divide_by_pot(rh, 15));
        const int32_t cand = tinyrnn_gru_candidate(p, tinyrnn_gru_from_x(p, 2, acc_x[2]), gated);
        h16[j] = tinyrnn_gru_blend(z, h16[j], cand);
    }
}

/* reset_after = 0: the candidate's recurrent matmul runs over r*h, which needs every
 * unit's r, so it is a second pass. Pass 1 keeps z and the candidate's input part per
 * unit (scratch16[0..H), [H..2H)) and r*h as int8 (scratch8). */
static void tinyrnn_gru_step_before(const tinyrnn_gru_s8_params *p, const int8_t *x, int16_t *h16,
                                    const int8_t *h8, int16_t *scratch16, int8_t *scratch8)
{
    const int32_t n_in = p->input_size;
    const int32_t n_h = p->hidden_size;
    const int8_t *w_x = p->w_x;
    const int8_t *w_h = p->w_h;
    const int32_t *b_x = p->bias_x;
    const int32_t *b_h = p->bias_h;
    int16_t *z_keep = scratch16;
    int16_t *xc_keep = scratch16 + n_h;

    for (int32_t j = 0; j < n_h; ++j) {
        int32_t acc_x[3] = {b_x[0], b_x[1], b_x[2]};
        int32_t acc_h[2] = {b_h[0], b_h[1]};
        tinyrnn_gru_dot3(w_x, x, n_in, acc_x);
        tinyrnn_gru_dot2(w_h, h8, n_h, acc_h);
        w_x += TINYRNN_GRU_GATES * n_in;
        w_h += 2 * n_h;
        b_x += TINYRNN_GRU_GATES;
        b_h += TINYRNN_GRU_GATES;

        z_keep[j] = (int16_t)tinyrnn_gru_sigmoid_gate(p, 0, acc_x[0], acc_h[0]);
        const int32_t r = tinyrnn_gru_sigmoid_gate(p, 1, acc_x[1], acc_h[1]);
        xc_keep[j] = tinyrnn_gru_from_x(p, 2, acc_x[2]);
        /* r*h16: Q0.30 -> int8 Q0.7, rounding shift by 23. */
        scratch8[j] = tinyrnn_sat_s8(tinyrnn_rounding_divide_by_pot(r * h16[j], 23));
    }
    /* w_h now points at the candidate rows [H][H]. */
    b_h = p->bias_h;
    for (int32_t j = 0; j < n_h; ++j) {
        const int32_t acc = tinyrnn_gru_dot1(w_h, scratch8, n_h, b_h[TINYRNN_GRU_GATES * j + 2]);
        w_h += n_h;
        const int32_t cand = tinyrnn_gru_candidate(p, xc_keep[j], tinyrnn_gru_from_h(p, 2, acc));
        h16[j] = tinyrnn_gru_blend(z_keep[j], h16[j], cand);
    }
}

void tinyrnn_gru_s8_step(const tinyrnn_gru_s8_params *p, const int8_t *x, int16_t *h16, int8_t *h8,
                         int16_t *scratch16, int8_t *scratch8)
{
    if (p->reset_after) {
        tinyrnn_gru_step_after(p, x, h16, h8);
    } else {
        tinyrnn_gru_step_before(p, x, h16, h8, scratch16, scratch8);
    }
    /* h8 = round(h16 / 256), saturated (32767 / 256 rounds to 128). */
    for (int32_t j = 0; j < p->hidden_size; ++j) {
        h8[j] = tinyrnn_sat_s8(tinyrnn_rounding_divide_by_pot(h16[j], 8));
    }
}
