/* Start-up code for the edgemnist test firmware on RV32 (QEMU sifive_e, the SiFive FE310): sets the stack pointer,
 * the trap vector, initialises .data/.bss, paints the stack, and exits through semihosting when main returns or a
 * trap is taken. C99 with GCC's naked functions, no libc. The linker script places .text.start where the mask
 * ROM jumps at reset. */
#include <stdint.h>

#include "board.h"
#include "semihost.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _sstack, _estack;
int main(void);
void _start(void);
void Reset_Handler(void);
void Trap_Handler(void);

#define STACK_PAINT 0xDEADBEEFu

__attribute__((naked, section(".text.start"))) void _start(void) {
  __asm__ volatile(
      "  .option push\n"
      "  .option arch, +zicsr\n" /* the CSR instructions, whatever -march says (GCC 12 splits them out) */
      "  la sp, _estack\n"
      "  la t0, Trap_Handler\n"
      "  csrw mtvec, t0\n"
      "  j Reset_Handler\n"
      "  .option pop\n");
}

__attribute__((noreturn)) void Reset_Handler(void) {
  volatile uint32_t *src = &_sidata, *dst = &_sdata;
  uintptr_t sp;
  while (dst < &_edata) *dst++ = *src++;
  for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
  __asm__ volatile("mv %0, sp" : "=r"(sp));
  for (dst = &_sstack; (uintptr_t)dst < sp - 64;) *dst++ = STACK_PAINT;
  board_init();
  semihost_exit(main() == 0 ? 0 : 1);
}

/* mtvec needs a 4-byte aligned handler (direct mode). */
__attribute__((noreturn, aligned(4))) void Trap_Handler(void) {
  semihost_write0("edgemnist firmware: trap\n");
  semihost_exit(3);
}

/* Bytes of .stack ever used: from its top down to the lowest word that lost its paint. */
uint32_t stack_peak_bytes(void) {
  const volatile uint32_t *p = &_sstack;
  while (p < &_estack && *p == STACK_PAINT) ++p;
  return (uint32_t)((uintptr_t)&_estack - (uintptr_t)p);
}
