/* edgemnist test firmware: streams EDGEMNIST_INPUT_SIZE-byte images from the host file images.bin through
 * edgemnist_predict and writes one 16-byte record per image to results.bin:
 *   int8 scores[10], uint8 digit, uint8 0, uint32 counter ticks of the call (little-endian).
 * Then summary.bin: uint32 magic 'EMS1', images, firmware peak stack bytes, stack bytes below main's frame,
 * counter ticks of an empty measurement, the counter's status word, counter ticks of a calibration loop of
 * CALIBRATION_LOOPS x 2 instructions. The counter is the board's (board.h: board_counter_read); the host turns
 * ticks into instructions with the board's instructions per tick, which the calibration loop checks. */
#include <stdint.h>

#include "board.h"
#include "edgemnist_model.h"
#include "semihost.h"

uint32_t stack_peak_bytes(void);
extern uint32_t _estack;

#define CALIBRATION_LOOPS 100000u

static uint8_t pixels[EDGEMNIST_INPUT_SIZE];
static uint8_t record[16];

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

/* A loop of exactly 2 instructions per iteration. */
static inline void calibration_loop(uint32_t loops) {
#if defined(__riscv)
  __asm__ volatile("1: addi %0, %0, -1\n  bnez %0, 1b" : "+r"(loops));
#elif defined(__thumb2__)
  __asm__ volatile("1: subs %0, %0, #1\n  bne 1b" : "+r"(loops) : : "cc");
#else /* Thumb-1 (ARMv6-M): GCC assembles inline asm in divided syntax, where this SUB sets the flags */
  __asm__ volatile("1: sub %0, #1\n  bne 1b" : "+l"(loops) : : "cc");
#endif
}

static inline uintptr_t stack_pointer(void) {
  uintptr_t sp;
#if defined(__riscv)
  __asm__ volatile("mv %0, sp" : "=r"(sp));
#else
  __asm__ volatile("mov %0, sp" : "=r"(sp));
#endif
  return sp;
}

int main(void) {
  static const char in_name[] = "images.bin", out_name[] = "results.bin", sum_name[] = "summary.bin";
  const int32_t in = semihost_open(in_name, sizeof in_name - 1, 1);     /* "rb" */
  const int32_t out = semihost_open(out_name, sizeof out_name - 1, 5);  /* "wb" */
  uint32_t n = 0, t0, t1, overhead, calibration;
  uintptr_t main_sp;
  uint8_t summary[28];
  int32_t sum;
  if (in < 0 || out < 0) {
    semihost_write0("edgemnist firmware: cannot open images.bin / results.bin\n");
    return 1;
  }
  board_counter_start();
  t0 = board_counter_read();
  t1 = board_counter_read();
  overhead = (t1 - t0) & BOARD_COUNTER_MASK;
  t0 = board_counter_read();
  calibration_loop(CALIBRATION_LOOPS);
  t1 = board_counter_read();
  calibration = (t1 - t0) & BOARD_COUNTER_MASK;
  main_sp = stack_pointer();
  while (semihost_read(in, pixels, sizeof pixels) == 0) {
    int digit;
    t0 = board_counter_read();
    digit = edgemnist_predict(pixels, (int8_t *)record);
    t1 = board_counter_read();
    record[10] = (uint8_t)digit;
    record[11] = 0;
    put32(record + 12, (t1 - t0) & BOARD_COUNTER_MASK);
    if (semihost_write(out, record, sizeof record) != 0) return 1;
    ++n;
  }
  semihost_close(in);
  semihost_close(out);
  sum = semihost_open(sum_name, sizeof sum_name - 1, 5);
  if (sum < 0) return 1;
  put32(summary, 0x31534D45u);
  put32(summary + 4, n);
  put32(summary + 8, stack_peak_bytes());
  put32(summary + 12, (uint32_t)((uintptr_t)&_estack - main_sp));
  put32(summary + 16, overhead);
  put32(summary + 20, board_counter_status());
  put32(summary + 24, calibration);
  semihost_write(sum, summary, sizeof summary);
  semihost_close(sum);
  return 0;
}
