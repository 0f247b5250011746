/* The instruction counter of the Cortex-M boards with a SysTick clocked by the CPU clock: a 24-bit down-counter
 * read as an up-counter (board_counter_read - earlier read, masked with BOARD_COUNTER_MASK, is the ticks between).
 * Under QEMU -icount shift=0 one instruction is 1 ns of virtual time, so one tick is 1e9 / CPU clock (Hz)
 * instructions. */
#ifndef EDGEMNIST_SYSTICK_H_
#define EDGEMNIST_SYSTICK_H_

#include <stdint.h>

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

#define BOARD_COUNTER_MASK 0x00FFFFFFu

static inline void board_counter_start(void) {
  SYST_RVR = 0x00FFFFFFu;
  SYST_CVR = 0;
  SYST_CSR = 5u; /* enable, processor clock, no interrupt */
}

static inline uint32_t board_counter_read(void) { return ~SYST_CVR; }

/* The counter's control word, reported in the summary (SysTick CSR). */
static inline uint32_t board_counter_status(void) { return SYST_CSR; }

#endif
