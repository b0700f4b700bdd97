/* Between the board files only; applications use board.h. */
#ifndef TINYRNN_BOARD_INTERNAL_H
#define TINYRNN_BOARD_INTERNAL_H

#include <stdint.h>

/* One uart/uart_<kind>.c implements these three for the kind named in boards.json. */
void board_uart_init(void);            /* idempotent: the fault handler calls it again */
void board_uart_putc(uint8_t c);       /* blocks until the byte is accepted */
int board_uart_try_getc(void);         /* a received byte, or -1 without waiting */

/* Word written over the free stack at reset; board_stack_peak_bytes() looks for it. */
#define BOARD_STACK_PAINT 0xA5A5A5A5 /* no suffix: also used in assembly */

/* Symbols of the generated linker script (linker.ld). */
extern uint32_t __stack_bottom[], __stack_top[];
extern uint32_t __data_start[], __data_end[], __data_load[];
extern uint32_t __bss_start[], __bss_end[];

#define BOARD_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

#endif
