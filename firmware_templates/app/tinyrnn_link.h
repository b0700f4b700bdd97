/* Device side of the tinyrnn serial protocol: a byte-at-a-time frame parser and the
 * request dispatcher. Frame format and payload offsets: tinyrnn_protocol.h (generated
 * from tinyrnn/harness/protocol.py, the one spec).
 *
 * The dispatcher reaches the model only through tinyrnn_model_if_t, so this file
 * never depends on the model's name; model_glue.c (rendered from model_glue.c.j2)
 * fills the table for one generated model. No malloc, no board calls except through
 * the putc/ticks pointers given to tinyrnn_link_init(), so it builds on any host. */
#ifndef TINYRNN_LINK_H
#define TINYRNN_LINK_H

#include <stdint.h>

#include "tinyrnn_protocol.h"

/* Largest payload accepted and sent; reported in INFO so the host chunks RUN windows
 * to fit. Two buffers of this size live in tinyrnn_link_t. */
#ifndef TINYRNN_LINK_MAX_PAYLOAD
#define TINYRNN_LINK_MAX_PAYLOAD 256u
#endif
#if TINYRNN_LINK_MAX_PAYLOAD < TRP_MIN_MAX_PAYLOAD || TINYRNN_LINK_MAX_PAYLOAD > 0xFFFFu
#error "TINYRNN_LINK_MAX_PAYLOAD must be in [TRP_MIN_MAX_PAYLOAD, 65535]"
#endif

/* What the dispatcher needs from a model (provided by model_glue.c). */
/* Inputs and outputs travel as their wire bytes: element_size bytes per input value and
 * output_element_size per output value (1: int8, 2: int16 little-endian, at any alignment;
 * the glue converts). */
typedef struct tinyrnn_model_if {
    uint16_t input_size;       /* F: values per time step */
    uint16_t output_size;      /* O: values per output */
    uint8_t returns_sequences; /* 1: one output per step, 0: last step only */
    uint16_t kernel_abi;       /* kernel ABI version the model was generated for */
    const char *hash_hex;      /* 64 hex chars: SHA-256 of the IR artifact */
    void (*reset)(void);
    void (*step)(const uint8_t *x_t, uint8_t *y); /* NULL: a whole-window model (STEP, BENCH refused) */
    /* Feed n steps continuing the current state. all_outputs: write n*O values (one
     * output per step), else write only the last step's O values. valid: NULL, or n
     * flags (0 = a masked step: state kept, output repeated). last: the window's last
     * chunk (a whole-window model computes then). Returns 0, or nonzero if refused
     * (a whole-window model: window too long, or sequence outputs over several chunks). */
    int (*run_chunk)(const uint8_t *x, const uint8_t *valid, uint16_t n, uint8_t *y, int all_outputs, int last);
    uint8_t element_size;        /* bytes per input value: 1 (int8) or 2 (int16, a 16x8 model) */
    uint8_t output_element_size; /* bytes per output value: 1, or 2 (a 16x8 model, or int16 logits) */
} tinyrnn_model_if_t;

/* The one model this firmware serves (defined by model_glue.c). */
extern const tinyrnn_model_if_t tinyrnn_app_model;

/* The board facts the INFO/BENCH replies report (pointers so the link stays testable). */
typedef struct tinyrnn_board_if {
    const char *name;
    uint32_t tick_hz;
    void (*putc)(uint8_t c);
    uint32_t (*ticks)(void);
    uint32_t (*stack_peak)(void); /* NULL: unknown */
    uint32_t (*cycles)(void);     /* core clock cycles (wrapping); NULL, or always 0: no counter */
} tinyrnn_board_if_t;

typedef struct tinyrnn_link {
    const tinyrnn_model_if_t *model;
    const tinyrnn_board_if_t *board;
    uint8_t hash[32];
    uint8_t config_ok; /* model sizes fit the payload buffers */
    /* parser */
    uint8_t state;
    uint8_t type;
    uint8_t seq;
    uint16_t len;
    uint16_t pos;
    uint16_t crc;
    uint16_t crc_rx;
    /* RUN window in progress */
    uint8_t run_active;
    uint32_t run_ticks;
    uint8_t rx[TINYRNN_LINK_MAX_PAYLOAD];
    uint8_t tx[TINYRNN_LINK_MAX_PAYLOAD];
} tinyrnn_link_t;

void tinyrnn_link_init(tinyrnn_link_t *l, const tinyrnn_model_if_t *model, const tinyrnn_board_if_t *board);

/* Announce a (re)boot: one BOOT frame, so the host can tell a reset from silence. */
void tinyrnn_link_boot(tinyrnn_link_t *l);

/* Feed one received byte (0..255), or a negative value when the line was idle for
 * tinyrnn_link_wait_ticks(): a half-received frame is then dropped with a TRUNCATED
 * ERROR. Complete frames are dispatched and answered from inside this call. */
void tinyrnn_link_feed(tinyrnn_link_t *l, int c);

/* How long the caller may wait for the next byte before calling feed(-1). */
uint32_t tinyrnn_link_wait_ticks(const tinyrnn_link_t *l);

/* CRC-16/CCITT-FALSE, continued from crc (start with TRP_CRC_INIT). */
uint16_t tinyrnn_crc16(uint16_t crc, const uint8_t *p, uint32_t n);

#endif
