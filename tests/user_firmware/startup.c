/* The user firmware's own startup for a Cortex-M4F (QEMU mps2-an386): vector table,
 * .data copy, .bss clear, FPU on, main, then a semihosting exit. */
#include <stdint.h>

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[], __stack_top[];
int main(void);
void Reset_Handler(void);
void Default_Handler(void);

__attribute__((section(".vectors"), used)) void (*const user_vectors[16])(void) = {
    (void (*)(void))__stack_top, Reset_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, 0, 0, 0, 0, Default_Handler, Default_Handler, 0, Default_Handler,
    Default_Handler,
};

static void semihost_exit(uint32_t reason)
{
    register uint32_t r0 __asm__("r0") = 0x18; /* SYS_EXIT */
    register uint32_t r1 __asm__("r1") = reason;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) {
    }
}

void Default_Handler(void)
{
    semihost_exit(0x20023u); /* ADP_Stopped_RunTimeErrorUnknown */
}

void Reset_Handler(void)
{
    for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start; dst < __bss_end;) {
        *dst++ = 0;
    }
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* CPACR: CP10, CP11 full access */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    semihost_exit(main() == 0 ? 0x20026u : 0x20023u); /* ADP_Stopped_ApplicationExit */
}
