/* Vector table, reset and fault handlers for every Cortex-M board (v6-M to v8.1-M). */
#include "board.h"
#include "board_internal.h"

#define SCB_VTOR BOARD_REG(0xE000ED08u)
#define SCB_CPACR BOARD_REG(0xE000ED88u)
#define SCB_CFSR BOARD_REG(0xE000ED28u)
#define SCB_HFSR BOARD_REG(0xE000ED2Cu)
#define MPU_TYPE BOARD_REG(0xE000ED90u)
#define MPU_CTRL BOARD_REG(0xE000ED94u)
#define MPU_RNR BOARD_REG(0xE000ED98u)
#define MPU_RBAR BOARD_REG(0xE000ED9Cu)
#define MPU_RASR BOARD_REG(0xE000EDA0u)
#define STACK_GUARD_MAX 65536u
/* External interrupt slots filled with the fault handler: a stray interrupt reports
 * itself instead of jumping through garbage. Enough for every catalogue board. */
#define BOARD_IRQ_VECTORS 32

int main(void);
void Reset_Handler(void);
void Fault_Handler(void);
void SysTick_Handler(void);
void board_fault_report(const uint32_t *frame) __attribute__((noreturn, used));

/* Word 0 is the initial stack pointer, the rest are handlers. */
typedef union {
  void (*handler)(void);
  uint32_t *sp;
} vector_t;

#define F {Fault_Handler}
#define F8 F, F, F, F, F, F, F, F
__attribute__((section(".isr_vector"), used)) const vector_t board_vectors[16 + BOARD_IRQ_VECTORS] = {
    {.sp = __stack_top}, {Reset_Handler}, F /* NMI */, F /* HardFault */,
    F /* MemManage */, F /* BusFault */, F /* UsageFault */, F /* SecureFault */,
    {0}, {0}, {0}, F /* SVCall */, F /* DebugMon */, {0}, F /* PendSV */, {SysTick_Handler},
    F8, F8, F8, F8,
};
#undef F
#undef F8

#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__)
/* v7-M has no stack limit register and QEMU ignores writes to unmapped addresses, so
 * an overflow off the bottom of RAM would go unnoticed: an MPU no-access region right
 * below the stack makes it fault. The region must be aligned to its power-of-2 size. */
static void guard_stack(void) {
  uint32_t bottom = (uint32_t)(uintptr_t)__stack_bottom;
  uint32_t size = STACK_GUARD_MAX;
  if (((MPU_TYPE >> 8) & 0xFFu) == 0u) {
    return; /* no MPU regions implemented */
  }
  while (size > 32u && (bottom & (size - 1u)) != 0u) {
    size >>= 1;
  }
  if ((bottom & (size - 1u)) != 0u || bottom < size) {
    return;
  }
  MPU_RNR = 0u;
  MPU_RBAR = bottom - size;
  /* XN, AP=000 (no access), SIZE = log2(size) - 1, ENABLE */
  MPU_RASR = (1u << 28) | ((uint32_t)(__builtin_ctz(size) - 1) << 1) | 1u;
  MPU_CTRL = (1u << 2) | 1u; /* PRIVDEFENA: default map everywhere else */
  __asm__ volatile("dsb\n\tisb" ::: "memory");
}
#endif

void Reset_Handler(void) {
#if BOARD_ENABLE_FPU
  /* Grant CP10/CP11 (FPU, and MVE on M55) before the compiler may emit FP or vector
   * code, e.g. for the copy loops below. */
  SCB_CPACR |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8M_BASE__) || defined(__ARM_ARCH_8_1M_MAIN__)
  /* v8-M checks the stack limit in hardware: overflow faults instead of corrupting. */
  __asm__ volatile("msr msplim, %0" : : "r"(__stack_bottom));
#elif defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__)
  guard_stack();
#endif
#if !defined(__ARM_ARCH_6M__)
  SCB_VTOR = (uint32_t)(uintptr_t)board_vectors; /* code may sit at an alias of 0 */
#endif
  board_stack_paint();
  for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) {
    *dst++ = *src++;
  }
  for (uint32_t *dst = __bss_start; dst < __bss_end;) {
    *dst++ = 0u;
  }
  (void)main();
  for (;;) {
  }
}

/* Every fault lands here. Restart from the top of the stack before reporting: the
 * fault may be a stack overflow, and the frame pointer is checked before use. */
__attribute__((naked)) void Fault_Handler(void) {
  __asm__ volatile(
      "mrs r0, msp\n\t"
      "ldr r1, =__stack_top\n\t"
      "mov sp, r1\n\t"
      "bl board_fault_report\n\t");
}

static void put_str(const char *s) {
  while (*s) {
    board_uart_putc((uint8_t)*s++);
  }
}

static void put_hex(const char *label, uint32_t v) {
  put_str(label);
  for (int shift = 28; shift >= 0; shift -= 4) {
    board_uart_putc((uint8_t)"0123456789abcdef"[(v >> shift) & 0xFu]);
  }
}

void board_fault_report(const uint32_t *frame) {
  uint32_t pc = 0u, lr = 0u, cfsr = 0u, hfsr = 0u, ipsr;
  __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
  if (frame >= __stack_bottom && frame + 8 <= __stack_top) {
    lr = frame[5]; /* exception frame: r0-r3, r12, lr, pc, xpsr */
    pc = frame[6];
  }
#if !defined(__ARM_ARCH_6M__) /* v6-M has no fault status registers */
  cfsr = SCB_CFSR;
  hfsr = SCB_HFSR;
#endif
  board_uart_init(); /* the fault may predate board_init() */
  put_str("\r\n" BOARD_FAULT_MARKER);
  put_hex(" exc=", ipsr & 0x1FFu);
  put_hex(" pc=", pc);
  put_hex(" lr=", lr);
  put_hex(" cfsr=", cfsr);
  put_hex(" hfsr=", hfsr);
  put_str("\r\n");
  for (;;) {
  }
}
