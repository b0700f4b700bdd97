/* tinyrnn kernel, part of the tinyrnn package; codegen copies it verbatim. Do not edit.
 * int8 GRU time step. Golden twin: tinyrnn/core/golden/gru_s8.py (the spec). */
#include "tinyrnn_gru_s8.h"

#include "tinyrnn_activation_s16.h"
#include "tinyrnn_dot.h"

#define TINYRNN_GRU_ONE_Q15 32768

/* x / 2^e rounded half away from zero (= tinyrnn_rounding_divide_by_pot) for
 * |x| <= 2^30 and a constant e >= 1, where the sum below cannot overflow. */
TINYRNN_INLINE int32_t tinyrnn_gru_round_shift(int32_t x, int32_t e)
{
    return tinyrnn_asr_s32(x + (1 << (e - 1)) - (x < 0 ? 1 : 0), e);
}

/* One matmul requantized to Q3.12 and saturated to int16 (both GRU matmuls are); a
 * layer with a descriptor only the reference handles takes the out-of-line path. */
TINYRNN_INLINE int32_t tinyrnn_gru_rq(const tinyrnn_gru_s8_params *p, int32_t k, int32_t acc)
{
    const tinyrnn_requant_t *q = &p->gate[k];
    const int32_t r = TINYRNN_UNLIKELY(p->reference) ? tinyrnn_requantize_any(acc, q) : tinyrnn_requantize_fast(acc, q);
    return TINYRNN_SSAT(r, 16);
}

/* Gate g's input and recurrent matmul of one unit's accumulators, requantized. */
TINYRNN_INLINE int32_t tinyrnn_gru_from_x(const tinyrnn_gru_s8_params *p, int32_t g, const int32_t *acc)
{
    return tinyrnn_gru_rq(p, TINYRNN_GRU_RQ_X(g), acc[TINYRNN_GRU_ACC_X(g)]);
}

TINYRNN_INLINE int32_t tinyrnn_gru_from_h(const tinyrnn_gru_s8_params *p, int32_t g, const int32_t *acc)
{
    return tinyrnn_gru_rq(p, TINYRNN_GRU_RQ_H(g), acc[TINYRNN_GRU_ACC_H(g)]);
}

/* sigmoid(sat16(from_x + from_h)) of the update or reset gate g: Q0.15 in [0, 32767]. Both
 * accumulators are read before the first requantization: acc escapes to the dot helpers,
 * so the compiler cannot move a read across the out-of-line tinyrnn_requantize_any. */
TINYRNN_INLINE int32_t tinyrnn_gru_sigmoid_gate(const tinyrnn_gru_s8_params *p, int32_t g, const int32_t *acc)
{
    const int32_t acc_x = acc[TINYRNN_GRU_ACC_X(g)], acc_h = acc[TINYRNN_GRU_ACC_H(g)];
    const int32_t from_x = tinyrnn_gru_rq(p, TINYRNN_GRU_RQ_X(g), acc_x);
    const int32_t pre = TINYRNN_SSAT(from_x + tinyrnn_gru_rq(p, TINYRNN_GRU_RQ_H(g), acc_h), 16);
    return tinyrnn_sigmoid_gate(3 * pre, p->sigmoid_lut);
}

/* h~ = tanh(sat16(from_x + gated)), both parts already int16. */
TINYRNN_INLINE int32_t tinyrnn_gru_candidate(const tinyrnn_gru_s8_params *p, int32_t from_x, int32_t gated)
{
    return tinyrnn_tanh_prescaled(3 * TINYRNN_SSAT(from_x + gated, 16), p->sigmoid_lut);
}

/* h = z*h + (1 - z)*h~ in Q0.15. z in [0, 32767], so the two weights sum to 2^15 and
 * |sum| <= 2^15 * 2^15: no int32 overflow. */
TINYRNN_INLINE int16_t tinyrnn_gru_blend(int32_t z, int32_t h16, int32_t cand)
{
    const int32_t sum = z * h16 + (TINYRNN_GRU_ONE_Q15 - z) * cand;
    return tinyrnn_sat_s16(tinyrnn_gru_round_shift(sum, 15));
}

/* reset_after = 1: one fused pass over the staged x and h8 (the matmuls read h8 only,
 * so unit j may overwrite h16[j] at once; h8 is refreshed after the loop). */
static void tinyrnn_gru_step_after(const tinyrnn_gru_s8_params *p, const int32_t *x, const int32_t *h8,
                                   int16_t *h16)
{
    const int32_t n_in = p->input_size;
    const int32_t n_h = p->hidden_size;
    const tinyrnn_weight_t *w_x = p->w_x;
    const tinyrnn_weight_t *w_h = p->w_h;
    const int32_t *bias = p->bias;

    for (int32_t j = 0; j < n_h; ++j, bias += 2 * TINYRNN_GRU_GATES) {
        int32_t acc[2 * TINYRNN_GRU_GATES];
        w_x = tinyrnn_dot(w_x, x, n_in, TINYRNN_GRU_GATES, bias, acc);
        w_h = tinyrnn_dot(w_h, h8, n_h, TINYRNN_GRU_GATES, bias + TINYRNN_GRU_ACC_H(0), acc + TINYRNN_GRU_ACC_H(0));

        const int32_t z = tinyrnn_gru_sigmoid_gate(p, TINYRNN_GRU_UPDATE, acc);
        const int32_t r = tinyrnn_gru_sigmoid_gate(p, TINYRNN_GRU_RESET, acc);
        /* r (Q0.15, >= 0) times an int16: |product| < 2^30. */
        const int32_t from_h = tinyrnn_gru_from_h(p, TINYRNN_GRU_CANDIDATE, acc);
        const int32_t gated = tinyrnn_sat_s16(tinyrnn_gru_round_shift(r * from_h, 15));
        h16[j] = tinyrnn_gru_blend(z, h16[j],
                                   tinyrnn_gru_candidate(p, tinyrnn_gru_from_x(p, TINYRNN_GRU_CANDIDATE, acc), gated));
    }
}

/* reset_after = 0: the candidate's recurrent matmul runs over r*h, which needs every
 * unit's r, so it is a second pass. Pass 1 keeps z and the candidate's input part per
 * unit (scratch16[0..H), [H..2H)) and r*h as int8 (scratch8), then staged where h8s was. */
static void tinyrnn_gru_step_before(const tinyrnn_gru_s8_params *p, const int32_t *x, int32_t *h8s,
                                    int16_t *h16, int16_t *scratch16, int8_t *scratch8)
{
    const int32_t n_in = p->input_size;
    const int32_t n_h = p->hidden_size;
    const tinyrnn_weight_t *w_x = p->w_x;
    const tinyrnn_weight_t *w_h = p->w_h;
    const int32_t *bias = p->bias;
    int16_t *z_keep = scratch16;
    int16_t *xc_keep = scratch16 + n_h;

    for (int32_t j = 0; j < n_h; ++j, bias += 2 * TINYRNN_GRU_GATES) {
        int32_t acc[2 * TINYRNN_GRU_GATES];
        w_x = tinyrnn_dot(w_x, x, n_in, TINYRNN_GRU_GATES, bias, acc);
        /* The rows before the candidate's: update and reset. */
        w_h = tinyrnn_dot(w_h, h8s, n_h, TINYRNN_GRU_CANDIDATE, bias + TINYRNN_GRU_ACC_H(0),
                          acc + TINYRNN_GRU_ACC_H(0));

        z_keep[j] = (int16_t)tinyrnn_gru_sigmoid_gate(p, TINYRNN_GRU_UPDATE, acc);
        const int32_t r = tinyrnn_gru_sigmoid_gate(p, TINYRNN_GRU_RESET, acc);
        xc_keep[j] = (int16_t)tinyrnn_gru_from_x(p, TINYRNN_GRU_CANDIDATE, acc);
        /* r*h16: Q0.30 -> int8 Q0.7, rounding shift by 23. */
        scratch8[j] = tinyrnn_sat_s8(tinyrnn_gru_round_shift(r * h16[j], 23));
    }
    tinyrnn_stage(h8s, scratch8, n_h);
    const tinyrnn_weight_t *w_hc = p->w_hc;
    bias = p->bias + TINYRNN_GRU_ACC_H(TINYRNN_GRU_CANDIDATE); /* the candidate's recurrent bias of unit 0 */
    const int32_t rq_hc = TINYRNN_GRU_RQ_H(TINYRNN_GRU_CANDIDATE);
    for (int32_t j = 0; j < n_h; ++j, bias += 2 * TINYRNN_GRU_GATES) {
        int32_t acc;
        w_hc = tinyrnn_dot(w_hc, h8s, n_h, 1, bias, &acc);
        h16[j] = tinyrnn_gru_blend(z_keep[j], h16[j],
                                   tinyrnn_gru_candidate(p, xc_keep[j], tinyrnn_gru_rq(p, rq_hc, acc)));
    }
}

void tinyrnn_gru_s8_step(const tinyrnn_gru_s8_params *p, const int8_t *x, int16_t *h16, int8_t *h8,
                         int32_t *work, int16_t *scratch16, int8_t *scratch8)
{
    int32_t *x_staged = work;
    int32_t *h_staged = work + TINYRNN_STAGE_WORDS(p->input_size);
    tinyrnn_stage(x_staged, x, p->input_size);
    tinyrnn_stage(h_staged, h8, p->hidden_size);
    if (p->reset_after) {
        tinyrnn_gru_step_after(p, x_staged, h_staged, h16);
    } else {
        tinyrnn_gru_step_before(p, x_staged, h_staged, h16, scratch16, scratch8);
    }
    /* h8 = round(h16 / 256), saturated (32767 / 256 rounds to 128). */
    for (int32_t j = 0; j < p->hidden_size; ++j) {
        h8[j] = tinyrnn_sat_s8(tinyrnn_gru_round_shift(h16[j], 8));
    }
}
