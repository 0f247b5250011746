/* edgemnist Cortex-M4 preprocessing firmware: reads one grayscale image from the host file gray.bin
 * (uint32 width, uint32 height, then width x height bytes, row-major), runs edgemnist_normalize_digit and then
 * edgemnist_predict_gray on it, and writes pp.bin:
 *   uint32 magic 'EMP1', int32 normalize return code, int32 predict_gray result (digit or error code),
 *   uint32 SysTick ticks of normalize, of predict_gray, of an empty measurement, of a calibration loop of
 *   CALIBRATION_LOOPS x 2 instructions, stack bytes below main's frame, firmware peak stack after normalize,
 *   after predict_gray; then the 784 output bytes and the 10 int8 scores.
 * Instructions are SysTick ticks x 40 under QEMU -icount shift=0 (edgemnist/build/emulate.py). */
#include <stdint.h>

#include "edgemnist_model.h"
#include "edgemnist_preprocess.h"
#include "semihost.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define CALIBRATION_LOOPS 100000u
#define HEAD 40

uint32_t stack_peak_bytes(void);
extern uint32_t _estack;

static uint8_t gray[EDGEMNIST_PP_MAX_WIDTH * EDGEMNIST_PP_MAX_HEIGHT];
static uint8_t result[HEAD + EDGEMNIST_PP_OUTPUT_SIZE + EDGEMNIST_OUTPUT_SIZE];

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int main(void) {
  static const char in_name[] = "gray.bin", out_name[] = "pp.bin";
  const int32_t in = semihost_open(in_name, sizeof in_name - 1, 1); /* "rb" */
  uint8_t size[8];
  uint32_t w, h, t0, t1, overhead, calibration, normalize_ticks, predict_ticks, main_sp, loops = CALIBRATION_LOOPS;
  int32_t out, rc, digit;
  if (in < 0 || semihost_read(in, size, sizeof size) != 0) return 1;
  w = get32(size);
  h = get32(size + 4);
  if (w * h > sizeof gray || semihost_read(in, gray, w * h) != 0) return 1;
  semihost_close(in);
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
  t0 = SYST_CVR;
  rc = edgemnist_normalize_digit((int)w, (int)h, gray, EDGEMNIST_PP_INVERT_AUTO, result + HEAD);
  t1 = SYST_CVR;
  normalize_ticks = (t0 - t1) & 0x00FFFFFFu;
  put32(result + 32, stack_peak_bytes());
  t0 = SYST_CVR;
  digit = edgemnist_predict_gray((int)w, (int)h, gray, (int8_t *)(result + HEAD + EDGEMNIST_PP_OUTPUT_SIZE));
  t1 = SYST_CVR;
  predict_ticks = (t0 - t1) & 0x00FFFFFFu;
  put32(result + 36, stack_peak_bytes());
  put32(result, 0x31504D45u);
  put32(result + 4, (uint32_t)rc);
  put32(result + 8, (uint32_t)digit);
  put32(result + 12, normalize_ticks);
  put32(result + 16, predict_ticks);
  put32(result + 20, overhead);
  put32(result + 24, calibration);
  put32(result + 28, (uint32_t)((uintptr_t)&_estack - main_sp));
  out = semihost_open(out_name, sizeof out_name - 1, 5); /* "wb" */
  if (out < 0 || semihost_write(out, result, sizeof result) != 0) return 1;
  semihost_close(out);
  return 0;
}
