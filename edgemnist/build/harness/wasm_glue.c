/* WebAssembly glue for the edgemnist C kernel: static input and output buffers that JavaScript fills and reads
 * through the module's exported memory, and one call. No libc, no imports; built by edgemnist.build (target wasm32).
 *
 *   em_input()   -> address of uint8_t[EDGEMNIST_INPUT_SIZE]  (28x28 row-major pixels, white digit on black)
 *   em_scores()  -> address of int8_t[EDGEMNIST_OUTPUT_SIZE]  (the model's int8 output scores)
 *   em_predict() -> the digit, computed from em_input() into em_scores()
 *   em_path()    -> address of the NUL-terminated name of the kernel's compute path ("wasm-simd128", "portable")
 *
 * and the model's facts as the kernel's header states them (read from the .tflite it was generated from), so a
 * runtime takes them from the module it runs, never from its own constants:
 *
 *   em_input_size(), em_output_size()               -> EDGEMNIST_INPUT_SIZE, EDGEMNIST_OUTPUT_SIZE
 *   em_input_scale(), em_input_zero_point()         -> the int8 input tensor's quantization (q = p + zero point)
 *   em_output_scale(), em_output_zero_point()       -> the int8 output tensor's quantization
 */
#include <stdint.h>

#include "edgemnist_model.h"

static uint8_t em_input_buffer[EDGEMNIST_INPUT_SIZE];
static int8_t em_scores_buffer[EDGEMNIST_OUTPUT_SIZE];

uint8_t *em_input(void) { return em_input_buffer; }

int8_t *em_scores(void) { return em_scores_buffer; }

int em_predict(void) { return edgemnist_predict(em_input_buffer, em_scores_buffer); }

const char *em_path(void) { return edgemnist_path(); }

#define EM_EXPORT(name) __attribute__((export_name(#name)))

EM_EXPORT(em_input_size) int em_input_size(void) { return EDGEMNIST_INPUT_SIZE; }

EM_EXPORT(em_output_size) int em_output_size(void) { return EDGEMNIST_OUTPUT_SIZE; }

EM_EXPORT(em_input_scale) float em_input_scale(void) { return EDGEMNIST_INPUT_SCALE; }

EM_EXPORT(em_input_zero_point) int em_input_zero_point(void) { return EDGEMNIST_INPUT_ZERO_POINT; }

EM_EXPORT(em_output_scale) float em_output_scale(void) { return EDGEMNIST_OUTPUT_SCALE; }

EM_EXPORT(em_output_zero_point) int em_output_zero_point(void) { return EDGEMNIST_OUTPUT_ZERO_POINT; }
