/* riscv32 test board: QEMU sifive_e (SiFive FE310: RV32IMAC, 16 KB DTIM RAM, code in the SPI flash at
 * 0x20400000). Instructions are counted with the minstret CSR: under QEMU -icount it counts every retired
 * instruction, one per tick. */
#ifndef EDGEMNIST_BOARD_H_
#define EDGEMNIST_BOARD_H_

#include <stdint.h>

#define BOARD_COUNTER_MASK 0xFFFFFFFFu

static inline void board_init(void) {}

static inline void board_counter_start(void) {}

static inline uint32_t board_counter_read(void) {
  uint32_t v;
  __asm__ volatile(".option push\n  .option arch, +zicsr\n  csrr %0, minstret\n  .option pop" : "=r"(v));
  return v;
}

/* The counter's status word, reported in the summary (misa: the core's extensions). */
static inline uint32_t board_counter_status(void) {
  uint32_t v;
  __asm__ volatile(".option push\n  .option arch, +zicsr\n  csrr %0, misa\n  .option pop" : "=r"(v));
  return v;
}

#endif
