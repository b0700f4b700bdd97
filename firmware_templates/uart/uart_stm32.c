/* STM32F1/F2/F4 USART (SR/DR/BRR/CR1 layout). The bus clock is switched on by the
 * catalogue's clock_enable list in board_init(); pin muxing is the board's job. */
#include "board_internal.h"
#include "board_config.h"

#define USART_SR BOARD_REG(BOARD_UART_BASE + 0x00u)
#define USART_DR BOARD_REG(BOARD_UART_BASE + 0x04u)
#define USART_BRR BOARD_REG(BOARD_UART_BASE + 0x08u)
#define USART_CR1 BOARD_REG(BOARD_UART_BASE + 0x0Cu)
#define SR_RXNE (1u << 5)
#define SR_TXE (1u << 7)
#define CR1_UE (1u << 13)
#define CR1_TE (1u << 3)
#define CR1_RE (1u << 2)

void board_uart_init(void) {
  /* 16x oversampling: BRR is clock/baud in 12.4 fixed point, rounded. */
  USART_BRR = (BOARD_UART_CLOCK_HZ + BOARD_UART_BAUD / 2u) / BOARD_UART_BAUD;
  USART_CR1 = CR1_UE | CR1_TE | CR1_RE;
}

void board_uart_putc(uint8_t c) {
  while (!(USART_SR & SR_TXE)) {
  }
  USART_DR = c;
}

int board_uart_try_getc(void) {
  /* Reading SR then DR also clears an overrun flag that would block RXNE. */
  if (USART_SR & SR_RXNE) {
    return (int)(USART_DR & 0xFFu);
  }
  return -1;
}
