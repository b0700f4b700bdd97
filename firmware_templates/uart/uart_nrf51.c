/* Nordic nRF51 UART (tasks/events registers, no FIFO status). */
#include "board_internal.h"
#include "board_config.h"

#define UART_STARTRX BOARD_REG(BOARD_UART_BASE + 0x000u)
#define UART_STARTTX BOARD_REG(BOARD_UART_BASE + 0x008u)
#define UART_EVENTS_RXDRDY BOARD_REG(BOARD_UART_BASE + 0x108u)
#define UART_EVENTS_TXDRDY BOARD_REG(BOARD_UART_BASE + 0x11Cu)
#define UART_ENABLE BOARD_REG(BOARD_UART_BASE + 0x500u)
#define UART_PSELTXD BOARD_REG(BOARD_UART_BASE + 0x50Cu)
#define UART_PSELRXD BOARD_REG(BOARD_UART_BASE + 0x514u)
#define UART_RXD BOARD_REG(BOARD_UART_BASE + 0x518u)
#define UART_TXD BOARD_REG(BOARD_UART_BASE + 0x51Cu)
#define UART_BAUDRATE BOARD_REG(BOARD_UART_BASE + 0x524u)
#define ENABLE_UART 4u

/* The BAUDRATE register takes magic values from the reference manual, not a divisor. */
#if BOARD_UART_BAUD == 115200
#define BAUDRATE_VALUE 0x01D7E000u
#elif BOARD_UART_BAUD == 9600
#define BAUDRATE_VALUE 0x00275000u
#else
#error "nRF51 UART: add the BAUDRATE register value for this baud rate"
#endif

void board_uart_init(void) {
#ifdef BOARD_UART_TX_PIN
  UART_PSELTXD = BOARD_UART_TX_PIN;
  UART_PSELRXD = BOARD_UART_RX_PIN;
#endif
  UART_BAUDRATE = BAUDRATE_VALUE;
  UART_ENABLE = ENABLE_UART;
  UART_EVENTS_TXDRDY = 0u;
  UART_STARTTX = 1u;
  UART_STARTRX = 1u;
}

void board_uart_putc(uint8_t c) {
  UART_TXD = c;
  while (!UART_EVENTS_TXDRDY) {
  }
  UART_EVENTS_TXDRDY = 0u;
}

int board_uart_try_getc(void) {
  if (!UART_EVENTS_RXDRDY) {
    return -1;
  }
  /* Clear before reading: reading RXD re-raises the event when more bytes wait. */
  UART_EVENTS_RXDRDY = 0u;
  return (int)(UART_RXD & 0xFFu);
}
