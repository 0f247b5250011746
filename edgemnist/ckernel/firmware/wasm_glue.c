/* Test glue for the WebAssembly build of edgemnist_model.c (edgemnist.ckernel.wasm): a batch buffer the host
 * fills and reads back through the module's exported memory. Not part of the generated artifact. */
#include <stdint.h>

#include "edgemnist_model.h"

#define GLUE_BATCH 1000

static uint8_t glue_pixels[GLUE_BATCH * EDGEMNIST_INPUT_SIZE];
static int8_t glue_scores[GLUE_BATCH * EDGEMNIST_OUTPUT_SIZE];
static uint8_t glue_digits[GLUE_BATCH];

uint8_t *glue_pixels_ptr(void) { return glue_pixels; }
int8_t *glue_scores_ptr(void) { return glue_scores; }
uint8_t *glue_digits_ptr(void) { return glue_digits; }
int glue_batch(void) { return GLUE_BATCH; }

int glue_run(int n) {
  int i;
  if (n < 0 || n > GLUE_BATCH) return -1;
  for (i = 0; i < n; ++i) {
    glue_digits[i] = (uint8_t)edgemnist_predict(glue_pixels + i * EDGEMNIST_INPUT_SIZE,
                                                glue_scores + i * EDGEMNIST_OUTPUT_SIZE);
  }
  return n;
}
