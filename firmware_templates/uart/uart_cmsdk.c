/* Arm CMSDK APB UART (MPS2/MPS3 FPGA images). */
#include "board_internal.h"
#include "board_config.h"

#define UART_DATA BOARD_REG(BOARD_UART_BASE + 0x00u)
#define UART_STATE BOARD_REG(BOARD_UART_BASE + 0x04u)
#define UART_CTRL BOARD_REG(BOARD_UART_BASE + 0x08u)
#define UART_BAUDDIV BOARD_REG(BOARD_UART_BASE + 0x10u)
#define STATE_TX_FULL (1u << 0)
#define STATE_RX_FULL (1u << 1)
#define CTRL_TX_RX_ENABLE 3u

#if BOARD_UART_CLOCK_HZ / BOARD_UART_BAUD < 16
#error "CMSDK UART needs BAUDDIV >= 16: lower the baud rate in boards.json"
#endif

void board_uart_init(void) {
  UART_BAUDDIV = BOARD_UART_CLOCK_HZ / BOARD_UART_BAUD;
  UART_CTRL = CTRL_TX_RX_ENABLE;
}

void board_uart_putc(uint8_t c) {
  while (UART_STATE & STATE_TX_FULL) {
  }
  UART_DATA = c;
}

int board_uart_try_getc(void) {
  if (UART_STATE & STATE_RX_FULL) {
    return (int)(UART_DATA & 0xFFu);
  }
  return -1;
}
