/* Start-up code for the edgemnist Cortex-M4 test firmware (QEMU mps2-an386): the vector table, .data/.bss
 * initialisation, stack painting, and semihosting exit on return or fault. C99, no libc. */
#include <stdint.h>

#include "semihost.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _sstack, _estack;
int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

#define STACK_PAINT 0xDEADBEEFu

#define VEC(f) ((uintptr_t)(f))
__attribute__((section(".isr_vector"), used)) static const uintptr_t vectors[16] = {
    (uintptr_t)&_estack, VEC(Reset_Handler), VEC(Fault_Handler), VEC(Fault_Handler), VEC(Fault_Handler),
    VEC(Fault_Handler), VEC(Fault_Handler), 0, 0, 0, 0, VEC(Fault_Handler), VEC(Fault_Handler), 0,
    VEC(Fault_Handler), VEC(Fault_Handler),
};

__attribute__((noreturn)) void Reset_Handler(void) {
  volatile uint32_t *src = &_sidata, *dst = &_sdata;
  uint32_t sp;
  while (dst < &_edata) *dst++ = *src++;
  for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (dst = &_sstack; (uint32_t)dst < sp - 64;) *dst++ = STACK_PAINT;
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
