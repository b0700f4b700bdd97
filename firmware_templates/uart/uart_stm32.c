/* STM32F2/F4/F7 USART (SR/DR/BRR/CR1 layout). The bus clocks (USART and, on real
 * silicon, the GPIO port) are switched on by the catalogue's clock_enable list in
 * board_init(). With tx_pin/rx_pin in the catalogue the pins are routed to the USART
 * here; without them (QEMU netduinoplus2 models no GPIO) the pins are left alone. */
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

#ifdef BOARD_UART_TX_PIN
/* Pins are numbered port * 16 + pin: PA2 = 2, PA9 = 9, PB6 = 22, PC6 = 38. On F2/F4/F7
 * the GPIO ports sit 0x400 apart from GPIOA on AHB1. */
#define GPIO_BASE(pin) (0x40020000u + ((pin) >> 4) * 0x400u)
#define GPIO_MODER(pin) BOARD_REG(GPIO_BASE(pin) + 0x00u)
#define GPIO_PUPDR(pin) BOARD_REG(GPIO_BASE(pin) + 0x0Cu)
#define GPIO_AFR(pin) BOARD_REG(GPIO_BASE(pin) + 0x20u + (((pin) & 15u) >> 3) * 4u)
#define MODE_AF 2u
#define PULL_UP 1u

/* Alternate function numbers from the F4 datasheets' AF tables: USART1..3 are AF7
 * on every pin they can use, UART4/UART5/USART6 are AF8. */
#ifndef BOARD_UART_AF
#if BOARD_UART_BASE == 0x40004C00u || BOARD_UART_BASE == 0x40005000u || BOARD_UART_BASE == 0x40011400u
#define BOARD_UART_AF 8u
#else
#define BOARD_UART_AF 7u
#endif
#endif

static void route_pin(uint32_t pin, uint32_t pull) {
  uint32_t n = pin & 15u;
  uint32_t af_shift = (n & 7u) * 4u;
  /* AF number before the mode switch: the pin never drives another function. */
  GPIO_AFR(pin) = (GPIO_AFR(pin) & ~(15u << af_shift)) | (BOARD_UART_AF << af_shift);
  GPIO_PUPDR(pin) = (GPIO_PUPDR(pin) & ~(3u << (2u * n))) | (pull << (2u * n));
  GPIO_MODER(pin) = (GPIO_MODER(pin) & ~(3u << (2u * n))) | (MODE_AF << (2u * n));
}
#endif

void board_uart_init(void) {
#ifdef BOARD_UART_TX_PIN
  route_pin(BOARD_UART_TX_PIN, 0u);
  /* Pull-up on RX: an unconnected line idles high instead of reading as noise. */
  route_pin(BOARD_UART_RX_PIN, PULL_UP);
#endif
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
