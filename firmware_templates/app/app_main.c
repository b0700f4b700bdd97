/* Device main loop: bring the board up, announce the boot, then serve protocol
 * frames forever. Model-independent: the model arrives through tinyrnn_app_model
 * (model_glue.c, rendered from model_glue.c.j2). */
#include "board.h"
#include "tinyrnn_link.h"

/* board_config.h (generated from boards.json) names the board and its tick rate;
 * the fallbacks only keep a half-configured board compiling, INFO then says so. */
#ifndef BOARD_NAME
#define BOARD_NAME "unknown"
#endif
#ifndef BOARD_SYSTICK_HZ
#define BOARD_SYSTICK_HZ 0u
#endif

/* Static, not on the stack: two payload buffers would dominate the stack peak. */
static tinyrnn_link_t g_link;

static const tinyrnn_board_if_t g_board = {
    BOARD_NAME, BOARD_SYSTICK_HZ, board_putc, board_ticks, board_stack_peak_bytes, board_cycles,
};

int main(void)
{
    board_init();
    tinyrnn_link_init(&g_link, &tinyrnn_app_model, &g_board);
    tinyrnn_link_boot(&g_link);
    for (;;)
        tinyrnn_link_feed(&g_link, board_getc(tinyrnn_link_wait_ticks(&g_link)));
}
