/* Frame parser + dispatcher for the tinyrnn serial protocol (see tinyrnn_link.h). */
#include "tinyrnn_link.h"

#include <string.h>

enum {
    ST_SYNC0, /* hunting: everything that is not the first sync byte is dropped */
    ST_SYNC1,
    ST_TYPE,
    ST_SEQ,
    ST_LEN0,
    ST_LEN1,
    ST_PAYLOAD,
    ST_CRC0,
    ST_CRC1
};

#define LINK_WAIT_FOREVER 0xFFFFFFFFu
/* Idle timeout when the board does not know its tick rate: assume 1 MHz. */
#define LINK_IDLE_FALLBACK_TICKS (1000u * TRP_IDLE_TIMEOUT_MS)

uint16_t tinyrnn_crc16(uint16_t crc, const uint8_t *p, uint32_t n)
{
    /* Bitwise on purpose: no 512-byte table in flash, and the UART is the bottleneck. */
    uint32_t c = crc;
    while (n--) {
        int i;
        c ^= (uint32_t)*p++ << 8;
        for (i = 0; i < 8; i++)
            c = (c & 0x8000u) ? (c << 1) ^ TRP_CRC_POLY : c << 1;
        c &= 0xFFFFu;
    }
    return (uint16_t)c;
}

static void put_u16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    put_u16(p, v);
    put_u16(p + 2, v >> 16);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void send_bytes(tinyrnn_link_t *l, const uint8_t *p, uint32_t n, uint16_t *crc)
{
    *crc = tinyrnn_crc16(*crc, p, n);
    while (n--)
        l->board->putc(*p++);
}

static void send_frame(tinyrnn_link_t *l, uint8_t type, uint8_t seq, const uint8_t *payload, uint16_t len)
{
    uint8_t head[4];
    uint16_t crc = TRP_CRC_INIT;
    head[0] = type;
    head[1] = seq;
    put_u16(head + 2, len);
    l->board->putc(TRP_SYNC0);
    l->board->putc(TRP_SYNC1);
    send_bytes(l, head, sizeof head, &crc);
    send_bytes(l, payload, len, &crc);
    l->board->putc((uint8_t)crc);
    l->board->putc((uint8_t)(crc >> 8));
}

static void send_error(tinyrnn_link_t *l, uint8_t seq, uint8_t code, const char *text)
{
    uint8_t e[TRP_ERROR_REPLY_FIXED + TRP_ERROR_TEXT_MAX];
    size_t n = strlen(text);
    if (n > TRP_ERROR_TEXT_MAX)
        n = TRP_ERROR_TEXT_MAX;
    e[TRP_ERROR_REPLY_CODE] = code;
    memcpy(e + TRP_ERROR_REPLY_TEXT, text, n);
    send_frame(l, TRP_T_ERROR, seq, e, (uint16_t)(TRP_ERROR_REPLY_FIXED + n));
}

/* Copies at most max bytes of a C string; returns the count. */
static uint16_t put_name(uint8_t *dst, const char *name, uint32_t max)
{
    uint32_t n = (uint32_t)strlen(name);
    if (n > max)
        n = max;
    memcpy(dst, name, n);
    return (uint16_t)n;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void parse_hash(uint8_t out[32], const char *hex)
{
    int i;
    memset(out, 0, 32);
    /* A malformed hash reads as all zeros, which never matches a real artifact. */
    for (i = 0; hex && i < 32; i++) {
        int hi = hexval(hex[2 * i]), lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            memset(out, 0, 32);
            return;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
}

void tinyrnn_link_init(tinyrnn_link_t *l, const tinyrnn_model_if_t *model, const tinyrnn_board_if_t *board)
{
    uint32_t in = model->input_size * (uint32_t)model->element_size;
    uint32_t out = model->output_size * (uint32_t)model->output_element_size; /* bytes per step in and out */
    memset(l, 0, sizeof *l);
    l->model = model;
    l->board = board;
    parse_hash(l->hash, model->hash_hex);
    model->reset(); /* static zeros are not necessarily the model's reset state */
    /* STEP/BENCH requests and STEP/RUN replies must fit one payload; INFO still works
     * otherwise, so the host can say which size is too big. */
    l->config_ok = in >= 1 && out >= 1 && (model->element_size == 1 || model->element_size == 2) &&
                   (model->output_element_size == 1 || model->output_element_size == 2) &&
                   in + TRP_BENCH_REQUEST_FIXED <= TINYRNN_LINK_MAX_PAYLOAD &&
                   out + TRP_TICKS_REPLY_FIXED <= TINYRNN_LINK_MAX_PAYLOAD;
    l->state = ST_SYNC0;
}

void tinyrnn_link_boot(tinyrnn_link_t *l)
{
    uint8_t *p = l->tx;
    uint16_t n;
    put_u16(p + TRP_BOOT_FRAME_PROTOCOL_VERSION, TRP_PROTOCOL_VERSION);
    n = put_name(p + TRP_BOOT_FRAME_BOARD, l->board->name, TRP_BOARD_NAME_MAX);
    send_frame(l, TRP_T_BOOT, 0, p, (uint16_t)(TRP_BOOT_FRAME_FIXED + n));
}

static int32_t do_info(tinyrnn_link_t *l, const char **why)
{
    uint8_t *p = l->tx;
    const tinyrnn_model_if_t *m = l->model;
    uint16_t n;
    uint32_t room = TINYRNN_LINK_MAX_PAYLOAD - TRP_INFO_REPLY_FIXED;
    if (l->len != 0) {
        *why = "INFO takes no payload";
        return -(int32_t)TRP_E_BAD_LENGTH;
    }
    put_u16(p + TRP_INFO_REPLY_PROTOCOL_VERSION, TRP_PROTOCOL_VERSION);
    put_u16(p + TRP_INFO_REPLY_KERNEL_ABI, m->kernel_abi);
    memcpy(p + TRP_INFO_REPLY_MODEL_HASH, l->hash, 32);
    put_u32(p + TRP_INFO_REPLY_TICK_HZ, l->board->tick_hz);
    put_u16(p + TRP_INFO_REPLY_MAX_PAYLOAD, TINYRNN_LINK_MAX_PAYLOAD);
    put_u16(p + TRP_INFO_REPLY_INPUT_SIZE, m->input_size);
    put_u16(p + TRP_INFO_REPLY_OUTPUT_SIZE, m->output_size);
    put_u16(p + TRP_INFO_REPLY_OUT_STEPS, m->returns_sequences ? 0u : 1u);
    put_u16(p + TRP_INFO_REPLY_ELEMENT_SIZE, m->element_size);
    put_u16(p + TRP_INFO_REPLY_OUTPUT_ELEMENT_SIZE, m->output_element_size);
    n = put_name(p + TRP_INFO_REPLY_BOARD, l->board->name, room < TRP_BOARD_NAME_MAX ? room : TRP_BOARD_NAME_MAX);
    return TRP_INFO_REPLY_FIXED + n;
}

static int32_t do_reset(tinyrnn_link_t *l, const char **why)
{
    if (l->len != 0) {
        *why = "RESET takes no payload";
        return -(int32_t)TRP_E_BAD_LENGTH;
    }
    l->model->reset();
    return 0;
}

static int32_t do_step(tinyrnn_link_t *l, const char **why)
{
    const tinyrnn_model_if_t *m = l->model;
    uint32_t t0;
    if (l->len != m->input_size * (uint32_t)m->element_size) {
        *why = "STEP payload must be input_size values";
        return -(int32_t)TRP_E_BAD_LENGTH;
    }
    t0 = l->board->ticks();
    m->step(l->rx + TRP_STEP_REQUEST_X, l->tx + TRP_TICKS_REPLY_Y);
    put_u32(l->tx + TRP_TICKS_REPLY_TICKS, l->board->ticks() - t0);
    return (int32_t)(TRP_TICKS_REPLY_FIXED + m->output_size * (uint32_t)m->output_element_size);
}

static int32_t do_run(tinyrnn_link_t *l, const char **why)
{
    const tinyrnn_model_if_t *m = l->model;
    uint8_t flags = l->len ? l->rx[TRP_RUN_REQUEST_FLAGS] : 0u;
    uint32_t bytes, n, out, t0;
    int all = m->returns_sequences != 0;
    /* RUN_MASKED: each step also carries a valid flag (n flags, then n steps). */
    uint32_t record = m->input_size * (uint32_t)m->element_size + ((flags & TRP_RUN_MASKED) ? 1u : 0u);
    const uint8_t *valid;
    if (l->len < TRP_RUN_REQUEST_FIXED + 1u || (l->len - TRP_RUN_REQUEST_FIXED) % record != 0) {
        *why = "RUN needs flags + whole time steps";
        return -(int32_t)TRP_E_BAD_LENGTH;
    }
    bytes = l->len - TRP_RUN_REQUEST_FIXED;
    n = bytes / record;
    out = (all ? n * m->output_size : m->output_size) * (uint32_t)m->output_element_size;
    if (TRP_TICKS_REPLY_FIXED + out > TINYRNN_LINK_MAX_PAYLOAD) {
        *why = "RUN chunk outputs exceed max payload";
        return -(int32_t)TRP_E_BAD_LENGTH;
    }
    if (flags & ~(uint32_t)(TRP_RUN_FIRST | TRP_RUN_LAST | TRP_RUN_MASKED)) {
        *why = "RUN flags: unknown bits";
        return -(int32_t)TRP_E_BAD_ARG;
    }
    if (flags & TRP_RUN_FIRST) {
        m->reset();
        l->run_active = 1;
        l->run_ticks = 0;
    } else if (!l->run_active) {
        *why = "RUN chunk without a first chunk";
        return -(int32_t)TRP_E_BAD_STATE;
    }
    valid = (flags & TRP_RUN_MASKED) ? l->rx + TRP_RUN_REQUEST_X : 0;
    t0 = l->board->ticks();
    if (m->run_chunk(l->rx + TRP_RUN_REQUEST_X + (valid ? n : 0u), valid, (uint16_t)n, l->tx + TRP_TICKS_REPLY_Y, all,
                     (flags & TRP_RUN_LAST) != 0) != 0) {
        l->run_active = 0;
        *why = "whole-window model: window too long or masked, or sequence outputs split over chunks";
        return -(int32_t)TRP_E_BAD_ARG;
    }
    l->run_ticks += l->board->ticks() - t0;
    put_u32(l->tx + TRP_TICKS_REPLY_TICKS, l->run_ticks);
    if (flags & TRP_RUN_LAST)
        l->run_active = 0;
    else if (!all)
        out = 0; /* last-only models answer intermediate chunks with ticks alone */
    return (int32_t)(TRP_TICKS_REPLY_FIXED + out);
}

static int32_t do_bench(tinyrnn_link_t *l, const char **why)
{
    const tinyrnn_model_if_t *m = l->model;
    uint8_t *x = l->rx + TRP_BENCH_REQUEST_X;
    uint32_t n, i, t0, c0, ticks, cycles;
    const uint32_t in = m->input_size * (uint32_t)m->element_size;
    if (l->len != TRP_BENCH_REQUEST_FIXED && l->len != TRP_BENCH_REQUEST_FIXED + in) {
        *why = "BENCH needs n + nothing or input_size values";
        return -(int32_t)TRP_E_BAD_LENGTH;
    }
    n = get_u32(l->rx + TRP_BENCH_REQUEST_N);
    if (n == 0) {
        *why = "BENCH n must be >= 1";
        return -(int32_t)TRP_E_BAD_ARG;
    }
    if (l->len == TRP_BENCH_REQUEST_FIXED)
        memset(x, 0, in); /* fits: config_ok checked F + 4 <= max payload */
    m->reset();
    c0 = l->board->cycles ? l->board->cycles() : 0u;
    t0 = l->board->ticks();
    for (i = 0; i < n; i++)
        m->step(x, l->tx); /* tx is scratch until the reply is built */
    ticks = l->board->ticks() - t0;
    cycles = l->board->cycles ? l->board->cycles() - c0 : 0u;
    m->reset(); /* leave no half-run state behind a benchmark */
    put_u32(l->tx + TRP_BENCH_REPLY_N, n);
    put_u32(l->tx + TRP_BENCH_REPLY_TICKS, ticks);
    put_u32(l->tx + TRP_BENCH_REPLY_CYCLES, cycles);
    put_u32(l->tx + TRP_BENCH_REPLY_STACK_PEAK, l->board->stack_peak ? l->board->stack_peak() : TRP_STACK_UNKNOWN);
    return TRP_BENCH_REPLY_FIXED;
}

static void dispatch(tinyrnn_link_t *l)
{
    const char *why = "unknown frame type";
    int32_t r = -(int32_t)TRP_E_UNKNOWN_TYPE;
    uint8_t t = l->type;
    int uses_model = t == TRP_T_RESET || t == TRP_T_RUN || t == TRP_T_STEP || t == TRP_T_BENCH;
    if (t != TRP_T_RUN && uses_model)
        l->run_active = 0; /* anything else touching the state ends a RUN window */
    if (uses_model && !l->config_ok) {
        why = "model sizes exceed max payload";
        r = -(int32_t)TRP_E_CONFIG;
    } else if ((t == TRP_T_STEP || t == TRP_T_BENCH) && !l->model->step) {
        why = "whole-window model: no STEP or BENCH, use RUN";
        r = -(int32_t)TRP_E_CONFIG;
    } else if (t == TRP_T_INFO) {
        r = do_info(l, &why);
    } else if (t == TRP_T_RESET) {
        r = do_reset(l, &why);
    } else if (t == TRP_T_RUN) {
        r = do_run(l, &why);
    } else if (t == TRP_T_STEP) {
        r = do_step(l, &why);
    } else if (t == TRP_T_BENCH) {
        r = do_bench(l, &why);
    } else if (t == TRP_T_ECHO) {
        memcpy(l->tx, l->rx, l->len);
        r = l->len;
    }
    if (r < 0)
        send_error(l, l->seq, (uint8_t)-r, why);
    else
        send_frame(l, (uint8_t)(t | TRP_REPLY_BIT), l->seq, l->tx, (uint16_t)r);
}

static void crc_byte(tinyrnn_link_t *l, uint8_t b)
{
    l->crc = tinyrnn_crc16(l->crc, &b, 1);
}

static void on_length(tinyrnn_link_t *l, uint8_t b)
{
    l->len = (uint16_t)(l->len | (uint16_t)b << 8);
    crc_byte(l, b);
    l->pos = 0;
    if (l->len > TINYRNN_LINK_MAX_PAYLOAD) {
        /* Reject before buffering anything: the buffer can never overflow. */
        send_error(l, l->seq, TRP_E_OVERSIZE, "length exceeds max payload");
        l->state = ST_SYNC0;
    } else {
        l->state = l->len ? ST_PAYLOAD : ST_CRC0;
    }
}

void tinyrnn_link_feed(tinyrnn_link_t *l, int c)
{
    uint8_t b;
    if (c < 0) {
        /* Line idle mid-frame: bytes were lost. Say so once we know whose frame it was. */
        if (l->state >= ST_LEN0)
            send_error(l, l->seq, TRP_E_TRUNCATED, "line idle mid-frame");
        l->state = ST_SYNC0;
        return;
    }
    b = (uint8_t)c;
    switch (l->state) {
    case ST_SYNC0:
        if (b == TRP_SYNC0)
            l->state = ST_SYNC1;
        break;
    case ST_SYNC1:
        if (b == TRP_SYNC1) {
            l->state = ST_TYPE;
            l->crc = TRP_CRC_INIT;
        } else if (b != TRP_SYNC0) {
            l->state = ST_SYNC0;
        }
        break;
    case ST_TYPE:
        l->type = b;
        crc_byte(l, b);
        l->state = ST_SEQ;
        break;
    case ST_SEQ:
        l->seq = b;
        crc_byte(l, b);
        l->state = ST_LEN0;
        break;
    case ST_LEN0:
        l->len = b;
        crc_byte(l, b);
        l->state = ST_LEN1;
        break;
    case ST_LEN1:
        on_length(l, b);
        break;
    case ST_PAYLOAD:
        l->rx[l->pos++] = b;
        crc_byte(l, b);
        if (l->pos >= l->len)
            l->state = ST_CRC0;
        break;
    case ST_CRC0:
        l->crc_rx = b;
        l->state = ST_CRC1;
        break;
    default: /* ST_CRC1 */
        l->crc_rx = (uint16_t)(l->crc_rx | (uint16_t)b << 8);
        l->state = ST_SYNC0;
        if (l->crc_rx != l->crc)
            send_error(l, l->seq, TRP_E_BAD_CRC, "crc mismatch");
        else
            dispatch(l);
        break;
    }
}

uint32_t tinyrnn_link_wait_ticks(const tinyrnn_link_t *l)
{
    uint32_t hz = l->board->tick_hz;
    if (l->state == ST_SYNC0)
        return LINK_WAIT_FOREVER;
    if (hz == 0)
        return LINK_IDLE_FALLBACK_TICKS;
    return hz >= 1000u ? hz / 1000u * TRP_IDLE_TIMEOUT_MS : 1u;
}
