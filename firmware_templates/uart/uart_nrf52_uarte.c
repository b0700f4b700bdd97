/* Nordic nRF52 UARTE (UART with EasyDMA), register level, polled: nRF52840/nRF52833/
 * nRF52832 UARTE0. The legacy non-DMA UART mode of the same block is deprecated in
 * the nRF52840 product specification, so this driver uses EasyDMA for both ways.
 *
 * EasyDMA moves bytes between the pins and RAM only (never flash), so TX copies the
 * byte to a RAM cell first. RX uses two one-byte buffers and the ENDRX_STARTRX short:
 * when a byte lands in one buffer, hardware restarts reception into the other at once
 * (RXD.PTR is double-buffered), so a byte is never missed while software is busy for
 * less than one character time (87 us at 115200 baud).
 * Pins are numbered port * 32 + pin (P0.06 = 6, P1.02 = 34), as PSEL encodes them. */
#include "board_internal.h"
#include "board_config.h"

#define UARTE_REG(off) BOARD_REG(BOARD_UART_BASE + (off))
#define TASKS_STARTRX UARTE_REG(0x000u)
#define TASKS_STARTTX UARTE_REG(0x008u)
#define TASKS_FLUSHRX UARTE_REG(0x02Cu)
#define EVENTS_ENDRX UARTE_REG(0x110u)
#define EVENTS_ENDTX UARTE_REG(0x120u)
#define EVENTS_ERROR UARTE_REG(0x124u)
#define EVENTS_RXTO UARTE_REG(0x144u)
#define EVENTS_RXSTARTED UARTE_REG(0x14Cu)
#define SHORTS UARTE_REG(0x200u)
#define ERRORSRC UARTE_REG(0x480u)
#define ENABLE UARTE_REG(0x500u)
#define PSEL_TXD UARTE_REG(0x50Cu)
#define PSEL_RXD UARTE_REG(0x514u)
#define BAUDRATE UARTE_REG(0x524u)
#define RXD_PTR UARTE_REG(0x534u)
#define RXD_MAXCNT UARTE_REG(0x538u)
#define TXD_PTR UARTE_REG(0x544u)
#define TXD_MAXCNT UARTE_REG(0x548u)
#define CONFIG UARTE_REG(0x56Cu)
#define ENABLE_UARTE 8u
#define SHORT_ENDRX_STARTRX (1u << 5)

/* CLOCK: the UART wants the crystal oscillator (HFXO); the internal RC oscillator
 * that runs by default is only accurate to a few percent. */
#define CLOCK_TASKS_HFCLKSTART BOARD_REG(0x40000000u)
#define CLOCK_EVENTS_HFCLKSTARTED BOARD_REG(0x40000100u)
#define HFXO_WAIT_LOOPS 2000000u /* ~0.1 s at 64 MHz; datasheet start-up is < 1 ms */

/* GPIO ports P0 and P1: OUTSET, DIRSET and PIN_CNF[] registers. */
#define GPIO_PORT(pin) (0x50000000u + ((pin) >> 5) * 0x300u)
#define GPIO_OUTSET(pin) BOARD_REG(GPIO_PORT(pin) + 0x508u)
#define GPIO_PIN_CNF(pin) BOARD_REG(GPIO_PORT(pin) + 0x700u + ((pin) & 31u) * 4u)
#define PIN_OUTPUT_NO_INPUT 3u /* DIR = output, INPUT buffer disconnected */
#define PIN_INPUT_PULLUP 0xCu  /* DIR = input, INPUT connected, PULL = up */

/* BAUDRATE register values from the UARTE chapter (not a divisor). */
#if BOARD_UART_BAUD == 115200
#define BAUDRATE_VALUE 0x01D60000u
#elif BOARD_UART_BAUD == 1000000
#define BAUDRATE_VALUE 0x10000000u
#elif BOARD_UART_BAUD == 9600
#define BAUDRATE_VALUE 0x00275000u
#else
#error "nRF52 UARTE: add the BAUDRATE register value for this baud rate"
#endif

#ifndef BOARD_UART_TX_PIN
#error "nRF52 UARTE: boards.json must give uart.tx_pin and uart.rx_pin"
#endif

static volatile uint8_t rx_buf[2];
static volatile uint8_t tx_cell;
static uint32_t rx_next; /* buffer the next ENDRX fills */

static void start_hfxo(void) {
  uint32_t n = HFXO_WAIT_LOOPS;
  CLOCK_EVENTS_HFCLKSTARTED = 0u;
  CLOCK_TASKS_HFCLKSTART = 1u;
  while (!CLOCK_EVENTS_HFCLKSTARTED && --n) {
  }
}

static void start_rx(void) {
  rx_next = 0u;
  EVENTS_ENDRX = 0u;
  EVENTS_RXTO = 0u;
  EVENTS_RXSTARTED = 0u;
  RXD_PTR = (uint32_t)(uintptr_t)&rx_buf[0];
  RXD_MAXCNT = 1u;
  TASKS_STARTRX = 1u;
  while (!EVENTS_RXSTARTED) {
  }
  EVENTS_RXSTARTED = 0u;
  RXD_PTR = (uint32_t)(uintptr_t)&rx_buf[1]; /* latched by the next (short-triggered) STARTRX */
}

void board_uart_init(void) {
  /* Idempotent: the fault handler calls this again; a running UARTE keeps going. */
  if (ENABLE == ENABLE_UARTE) {
    return;
  }
  start_hfxo();
  GPIO_OUTSET(BOARD_UART_TX_PIN) = 1u << (BOARD_UART_TX_PIN & 31u); /* idle high before it drives */
  GPIO_PIN_CNF(BOARD_UART_TX_PIN) = PIN_OUTPUT_NO_INPUT;
  GPIO_PIN_CNF(BOARD_UART_RX_PIN) = PIN_INPUT_PULLUP;
  PSEL_TXD = BOARD_UART_TX_PIN; /* bit 31 clear: connected */
  PSEL_RXD = BOARD_UART_RX_PIN;
  BAUDRATE = BAUDRATE_VALUE;
  CONFIG = 0u; /* 8N1, no flow control */
  SHORTS = SHORT_ENDRX_STARTRX;
  ENABLE = ENABLE_UARTE;
  start_rx();
}

void board_uart_putc(uint8_t c) {
  tx_cell = c;
  EVENTS_ENDTX = 0u;
  TXD_PTR = (uint32_t)(uintptr_t)&tx_cell;
  TXD_MAXCNT = 1u;
  TASKS_STARTTX = 1u;
  while (!EVENTS_ENDTX) {
  }
}

int board_uart_try_getc(void) {
  if (EVENTS_ERROR) {
    /* Framing/parity/overrun/break: clear and carry on; the protocol's CRC and the
     * host's retries deal with the damaged frame. */
    uint32_t sources = ERRORSRC;
    ERRORSRC = sources; /* write-one-to-clear */
    EVENTS_ERROR = 0u;
  }
  if (EVENTS_ENDRX) {
    uint32_t got = rx_next;
    int c = (int)rx_buf[got];
    EVENTS_ENDRX = 0u;
    rx_next ^= 1u;
    /* The short has already restarted reception into rx_buf[rx_next]; the buffer just
     * read becomes the one after that (written no sooner than two characters from now).
     * ENDRX is a flag, not a count: polling must not pause for more than a character
     * time while bytes arrive, which the request/reply protocol guarantees (the host
     * sends nothing while the device computes or answers). */
    RXD_PTR = (uint32_t)(uintptr_t)&rx_buf[got];
    return c;
  }
  if (EVENTS_RXTO) { /* receiver stopped (it should not): flush and restart */
    TASKS_FLUSHRX = 1u;
    start_rx();
  }
  return -1;
}
