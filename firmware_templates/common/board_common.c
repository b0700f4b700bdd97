/* Board layer common to every board: SysTick time base, blocking console I/O with
 * timeout, stack high-water mark. The UART itself lives in uart/uart_<kind>.c. */
#include "board.h"
#include "board_internal.h"

#define SYST_CSR BOARD_REG(0xE000E010u)
#define SYST_RVR BOARD_REG(0xE000E014u)
#define SYST_CVR BOARD_REG(0xE000E018u)
#define SCB_ICSR BOARD_REG(0xE000ED04u)
#define ICSR_PENDSTSET (1u << 26)
/* CSR: ENABLE | TICKINT | CLKSOURCE=processor clock (the reference clock is optional
 * and modelled differently per QEMU machine; the core clock is always there). */
#define SYST_CSR_RUN 7u

#ifndef BOARD_SYSTICK_RELOAD /* tests shrink it to exercise the wrap path quickly */
#define BOARD_SYSTICK_RELOAD 0xFFFFFFu
#endif
#if BOARD_SYSTICK_RELOAD > 0xFFFFFFu || BOARD_SYSTICK_RELOAD < 0xFFu
#error "BOARD_SYSTICK_RELOAD must be 0xFF..0xFFFFFF"
#endif
#define SYSTICK_PERIOD ((uint32_t)BOARD_SYSTICK_RELOAD + 1u)

/* DWT cycle counter (Armv7-M/v8-M Mainline): DEMCR.TRCENA powers the DWT, DWT_CTRL
 * bit 25 (NOCYCCNT) says the counter is absent, bit 0 starts it; Cortex-M7 also wants
 * its CoreSight lock opened (a write other cores ignore). */
#if defined(__ARM_ARCH_ISA_THUMB) && __ARM_ARCH_ISA_THUMB >= 2
#define BOARD_HAS_DWT 1
#define DEMCR BOARD_REG(0xE000EDFCu)
#define DWT_CTRL BOARD_REG(0xE0001000u)
#define DWT_CYCCNT BOARD_REG(0xE0001004u)
#define DWT_LAR BOARD_REG(0xE0001FB0u)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL_NOCYCCNT (1u << 25)
#define DWT_CTRL_CYCCNTENA 1u
#else
#define BOARD_HAS_DWT 0
#endif

static volatile uint32_t systick_wraps;

/* The interrupt fires when the counter reaches 0: one period has passed. */
void SysTick_Handler(void) { systick_wraps = systick_wraps + 1u; }

static void enable_peripheral_clocks(void) {
#if BOARD_CLOCK_ENABLE_COUNT > 0
  static const uint32_t regs[][2] = BOARD_CLOCK_ENABLE_LIST;
  for (uint32_t i = 0; i < BOARD_CLOCK_ENABLE_COUNT; ++i) {
    BOARD_REG(regs[i][0]) |= regs[i][1];
    (void)BOARD_REG(regs[i][0]); /* read back: the clock must run before first access */
  }
#endif
}

void board_init(void) {
  enable_peripheral_clocks();
  board_uart_init();
  SYST_CSR = 0u;
  SYST_RVR = BOARD_SYSTICK_RELOAD;
  SYST_CVR = 0u; /* any write clears the counter: it reloads on the next tick */
  systick_wraps = 0u;
  SYST_CSR = SYST_CSR_RUN;
#if BOARD_HAS_DWT
  DEMCR |= DEMCR_TRCENA;
  DWT_LAR = 0xC5ACCE55u;
  if ((DWT_CTRL & DWT_CTRL_NOCYCCNT) == 0u) {
    DWT_CYCCNT = 0u;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
  }
#endif
  __asm__ volatile("cpsie i" ::: "memory");
}

void board_putc(uint8_t c) { board_uart_putc(c); }

uint64_t board_ticks64(void) {
  uint32_t primask;
  __asm__ volatile("mrs %0, primask" : "=r"(primask));
  __asm__ volatile("cpsid i" ::: "memory");
  uint32_t wraps = systick_wraps;
  uint32_t val = SYST_CVR;
  /* Counter reached 0 but the interrupt has not run yet (masked here, or in its entry
   * latency): count that period and re-read, the first read may predate the wrap. */
  if (SCB_ICSR & ICSR_PENDSTSET) {
    wraps += 1u;
    val = SYST_CVR;
  }
  __asm__ volatile("msr primask, %0" : : "r"(primask) : "memory");
  /* Ticks into the current period: VAL=RELOAD is 1 tick in, VAL=0 is a full period,
   * which the wrap count already holds. */
  uint32_t phase = (val == 0u) ? 0u : SYSTICK_PERIOD - val;
  return (uint64_t)wraps * SYSTICK_PERIOD + phase;
}

uint32_t board_ticks(void) { return (uint32_t)board_ticks64(); }

uint32_t board_cycles(void) {
#if BOARD_HAS_DWT
  return DWT_CYCCNT;
#else
  return 0u;
#endif
}

int board_getc(uint32_t timeout_ticks) {
  uint32_t start = board_ticks();
  for (;;) {
    int c = board_uart_try_getc();
    if (c >= 0) {
      return c;
    }
    if (timeout_ticks != BOARD_WAIT_FOREVER && board_ticks() - start >= timeout_ticks) {
      return -1;
    }
  }
}

#define STR_(x) #x
#define STR(x) STR_(x)

/* Assembly, no frame: a C version reads SP before its own prologue pushes (shrink
 * wrapping) and paints over its saved return address. Uses only r0-r2. */
__attribute__((naked)) void board_stack_paint(void) {
  __asm__ volatile(
      "ldr r0, =__stack_bottom\n\t"
      "ldr r1, =" STR(BOARD_STACK_PAINT) "\n\t"
      "mov r2, sp\n\t"
      "1: cmp r0, r2\n\t"
      "bhs 2f\n\t"
      "str r1, [r0]\n\t"
      "adds r0, r0, #4\n\t"
      "b 1b\n\t"
      "2: bx lr\n\t");
}

uint32_t board_stack_peak_bytes(void) {
  const volatile uint32_t *p = __stack_bottom;
  while (p < __stack_top && *p == BOARD_STACK_PAINT) {
    ++p;
  }
  return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

uint32_t board_stack_size_bytes(void) {
  return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)__stack_bottom);
}
