/* cortex-m55 test board: QEMU mps3-an547 (secure state). Instructions are counted with SysTick
 * (cortex-m/systick.h). The FPU/MVE coprocessors are enabled at reset, since the compiler may vectorise with
 * Helium instructions. */
#ifndef EDGEMNIST_BOARD_H_
#define EDGEMNIST_BOARD_H_

#include "systick.h"

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

static inline void board_init(void) {
  SCB_CPACR |= 0xFu << 20; /* CP10, CP11: full access */
  __asm__ volatile("dsb\n  isb" ::: "memory");
}

#endif
