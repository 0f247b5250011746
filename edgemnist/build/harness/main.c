/* edgemnist Cortex-M4 test firmware: streams 784-byte images from the host file images.bin through
 * edgemnist_predict and writes one 16-byte record per image to results.bin:
 *   int8 scores[10], uint8 digit, uint8 0, uint32 SysTick ticks of the call (little-endian).
 * Then summary.bin: uint32 magic 'EMS1', images, firmware peak stack bytes, stack bytes below main's frame,
 * SysTick ticks of an empty measurement, SysTick CSR, SysTick ticks of a calibration loop of
 * CALIBRATION_LOOPS x 2 instructions. Under QEMU -icount shift=0 one instruction is 1 ns of virtual time and
 * SysTick counts the 25 MHz CPU clock: 40 instructions per tick (the calibration loop checks it). */
#include <stdint.h>

#include "edgemnist_model.h"
#include "semihost.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

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

int main(void) {
  static const char in_name[] = "images.bin", out_name[] = "results.bin", sum_name[] = "summary.bin";
  const int32_t in = semihost_open(in_name, sizeof in_name - 1, 1);     /* "rb" */
  const int32_t out = semihost_open(out_name, sizeof out_name - 1, 5);  /* "wb" */
  uint32_t n = 0, t0, t1, overhead, main_sp;
  uint8_t summary[28];
  uint32_t loops = CALIBRATION_LOOPS, calibration;
  int32_t sum;
  if (in < 0 || out < 0) {
    semihost_write0("edgemnist firmware: cannot open images.bin / results.bin\n");
    return 1;
  }
  SYST_RVR = 0x00FFFFFFu;
  SYST_CVR = 0;
  SYST_CSR = 5u; /* enable, processor clock, no interrupt */
  t0 = SYST_CVR;
  t1 = SYST_CVR;
  overhead = (t0 - t1) & 0x00FFFFFFu;
  t0 = SYST_CVR;
  __asm__ volatile("1: subs %0, %0, #1\n  bne 1b" : "+r"(loops) : : "cc");
  t1 = SYST_CVR;
  calibration = (t0 - t1) & 0x00FFFFFFu;
  __asm__ volatile("mov %0, sp" : "=r"(main_sp));
  while (semihost_read(in, pixels, sizeof pixels) == 0) {
    int digit;
    t0 = SYST_CVR;
    digit = edgemnist_predict(pixels, (int8_t *)record);
    t1 = SYST_CVR;
    record[10] = (uint8_t)digit;
    record[11] = 0;
    put32(record + 12, (t0 - t1) & 0x00FFFFFFu);
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
  put32(summary + 20, SYST_CSR);
  put32(summary + 24, calibration);
  semihost_write(sum, summary, sizeof summary);
  semihost_close(sum);
  return 0;
}
