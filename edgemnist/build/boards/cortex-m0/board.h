/* cortex-m0 test board: QEMU microbit (nRF51822: Cortex-M0 at 16 MHz, 256 KB flash, 16 KB RAM). The nRF51's
 * Cortex-M0 is built without SysTick, so instructions are counted with the chip's TIMER0: 32-bit, prescaler 0
 * (16 MHz), read by triggering CAPTURE[0] and reading CC[0]. Under QEMU -icount shift=0 one instruction is 1 ns of
 * virtual time, so one tick is 62.5 instructions. */
#ifndef EDGEMNIST_BOARD_H_
#define EDGEMNIST_BOARD_H_

#include <stdint.h>

#define NRF_TIMER0 0x40008000u
#define TIMER0_REG(off) (*(volatile uint32_t *)(NRF_TIMER0 + (off)))
#define TIMER0_START TIMER0_REG(0x000u)
#define TIMER0_STOP TIMER0_REG(0x004u)
#define TIMER0_CLEAR TIMER0_REG(0x00Cu)
#define TIMER0_CAPTURE0 TIMER0_REG(0x040u)
#define TIMER0_MODE TIMER0_REG(0x504u)
#define TIMER0_BITMODE TIMER0_REG(0x508u)
#define TIMER0_PRESCALER TIMER0_REG(0x510u)
#define TIMER0_CC0 TIMER0_REG(0x540u)

#define BOARD_COUNTER_MASK 0xFFFFFFFFu

static inline void board_init(void) {}

static inline void board_counter_start(void) {
  TIMER0_STOP = 1u;
  TIMER0_MODE = 0u;      /* timer */
  TIMER0_BITMODE = 3u;   /* 32 bit */
  TIMER0_PRESCALER = 0u; /* 16 MHz */
  TIMER0_CLEAR = 1u;
  TIMER0_START = 1u;
}

static inline uint32_t board_counter_read(void) {
  TIMER0_CAPTURE0 = 1u;
  return TIMER0_CC0;
}

/* The counter's control word, reported in the summary (TIMER0 BITMODE). */
static inline uint32_t board_counter_status(void) { return TIMER0_BITMODE; }

#endif
