/* WebAssembly glue for the edgemnist C kernel: static input and output buffers that JavaScript fills and reads
 * through the module's exported memory, and one call. No libc, no imports; built by edgemnist/web/build.py.
 *
 *   em_input()   -> address of uint8_t[EDGEMNIST_INPUT_SIZE]  (28x28 row-major pixels, white digit on black)
 *   em_scores()  -> address of int8_t[EDGEMNIST_OUTPUT_SIZE]  (the model's int8 output scores)
 *   em_predict() -> the digit, computed from em_input() into em_scores()
 *   em_path()    -> address of the NUL-terminated name of the kernel's compute path ("wasm-simd128", "portable")
 */
#include <stdint.h>

#include "edgemnist_model.h"

static uint8_t em_input_buffer[EDGEMNIST_INPUT_SIZE];
static int8_t em_scores_buffer[EDGEMNIST_OUTPUT_SIZE];

uint8_t *em_input(void) { return em_input_buffer; }

int8_t *em_scores(void) { return em_scores_buffer; }

int em_predict(void) { return edgemnist_predict(em_input_buffer, em_scores_buffer); }

const char *em_path(void) { return edgemnist_path(); }
