/* Start-up code for the edgemnist test firmware on every Cortex-M board (ARMv6-M, ARMv7-M, ARMv8-M): the vector
 * table, .data/.bss initialisation, stack painting, the board's own set-up (board_init in board.h) and a
 * semihosting exit when main returns or a fault is taken. C99, no libc. The linker script of the board places
 * .isr_vector where the core fetches its vectors at reset. */
#include <stdint.h>

#include "board.h"
#include "semihost.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _sstack, _estack;
int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

#define STACK_PAINT 0xDEADBEEFu

/* Initial SP, reset, NMI, HardFault, MemManage, BusFault, UsageFault, SecureFault (ARMv8-M), 3 reserved, SVCall,
 * DebugMonitor, reserved, PendSV, SysTick. The faults a core does not have are never taken. */
#define VEC(f) ((uintptr_t)(f))
__attribute__((section(".isr_vector"), used)) static const uintptr_t vectors[16] = {
    (uintptr_t)&_estack, VEC(Reset_Handler), VEC(Fault_Handler), VEC(Fault_Handler), VEC(Fault_Handler),
    VEC(Fault_Handler), VEC(Fault_Handler), VEC(Fault_Handler), 0, 0, 0, VEC(Fault_Handler), VEC(Fault_Handler), 0,
    VEC(Fault_Handler), VEC(Fault_Handler),
};

__attribute__((noreturn)) void Reset_Handler(void) {
  volatile uint32_t *src = &_sidata, *dst = &_sdata;
  uint32_t sp;
  while (dst < &_edata) *dst++ = *src++;
  for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (dst = &_sstack; (uint32_t)dst < sp - 64;) *dst++ = STACK_PAINT;
  board_init();
  semihost_exit(main() == 0 ? 0 : 1);
}

__attribute__((noreturn)) void Fault_Handler(void) {
  semihost_write0("edgemnist firmware: fault\n");
  semihost_exit(3);
}

/* Bytes of .stack ever used: from its top down to the lowest word that lost its paint. */
uint32_t stack_peak_bytes(void) {
  const volatile uint32_t *p = &_sstack;
  while (p < &_estack && *p == STACK_PAINT) ++p;
  return (uint32_t)((uintptr_t)&_estack - (uintptr_t)p);
}
