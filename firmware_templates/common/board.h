/* Board layer API (docs/design.md): the only thing an application may use of the board.
 * Implemented by common/board_common.c + one uart/uart_<kind>.c per board. */
#ifndef TINYRNN_BOARD_H
#define TINYRNN_BOARD_H

#include <stdint.h>

#include "board_config.h" /* generated from boards.json: BOARD_NAME, addresses, clocks */

/* Pass to board_getc() to wait without a time limit. */
#define BOARD_WAIT_FOREVER 0xFFFFFFFFu

/* Printed (after a CR/LF) by every fault handler so the host sees a crash instead of
 * a silent hang; followed by " exc=X pc=X lr=X cfsr=X hfsr=X" (X: 8 hex digits) and CR LF. */
#define BOARD_FAULT_MARKER "!!TINYRNN-FAULT"

/* UART and SysTick up; must be called first by the application. */
void board_init(void);

/* Blocking write of one byte to the board's console UART. */
void board_putc(uint8_t c);

/* Next received byte (0..255), or -1 when none arrived within timeout_ticks SysTick
 * ticks. timeout_ticks == 0 polls once; BOARD_WAIT_FOREVER never times out. */
int board_getc(uint32_t timeout_ticks);

/* Monotonic SysTick count since board_init(), extended past 24 bits by the SysTick
 * interrupt; wraps modulo 2^32. board_ticks64() never wraps in practice. The tick
 * rate is BOARD_SYSTICK_HZ (boards.json: systick.clock_hz). */
uint32_t board_ticks(void);
uint64_t board_ticks64(void);

/* Core clock cycles since board_init() from the DWT cycle counter (CYCCNT), wrapping
 * modulo 2^32; 0 on every call where the core has none (Armv6-M/v8-M Baseline, a DWT
 * without CYCCNT, QEMU's models: its DWT reads as zero). */
uint32_t board_cycles(void);

/* Deepest stack use in bytes since reset or the last board_stack_paint(): the free
 * stack is painted with a pattern and this scans for the lowest overwritten word
 * (exception frames included). To measure one call: paint, call, read the peak. */
uint32_t board_stack_peak_bytes(void);
void board_stack_paint(void);

/* Size of the stack region reserved by the linker script. */
uint32_t board_stack_size_bytes(void);

#endif
