/* edgemnist_preprocess.h -- written by edgemnist (edgemnist.build.preprocess); do not edit.
 *
 * MNIST-style preprocessing of a grayscale camera or touch-screen image in C99, giving the same 28x28 bytes as
 * edgemnist.images.normalize_digit (Python) and EdgeMnist.normalizeDigit (JavaScript): the background plane
 * fitted to the image's border and removed, dark ink inverted (decided from the image's contrast), the digit
 * cropped, scaled into a 20x20 box by exact area averaging and placed in a 28x28 field by its centre of mass.
 * Every double operation is done in the order the Python code does it, so the bytes are identical.
 *
 * Usage: add edgemnist_preprocess.c beside edgemnist_model.c (same folder, both headers on the include path).
 *
 *   uint8_t pixels[EDGEMNIST_PP_OUTPUT_SIZE];
 *   int rc = edgemnist_normalize_digit(width, height, gray, EDGEMNIST_PP_INVERT_AUTO, pixels);
 *   int8_t scores[EDGEMNIST_OUTPUT_SIZE];
 *   int digit = edgemnist_predict_gray(width, height, gray, scores);   // both steps; < 0: an error code
 *
 * Memory: no heap; static buffers (.bss) sized for EDGEMNIST_PP_MAX_WIDTH x EDGEMNIST_PP_MAX_HEIGHT,
 * EDGEMNIST_PP_STATIC_BYTES bytes; the input image itself is only read. A larger maximum (or a smaller one, to
 * save RAM) is chosen by defining the macros when compiling edgemnist_preprocess.c (28 to 4096 each).
 * Arithmetic: IEEE 754 double, hardware or the compiler's soft-float runtime (libgcc's __aeabi_d* on a
 * Cortex-M4); no libc or libm call. It refuses to compile under -ffast-math or with excess precision
 * (FLT_EVAL_METHOD other than 0, e.g. x87), and turns floating-point contraction (fused multiply-add) off.
 * Not reentrant (the static buffers): do not call it from two threads at once, or from an interrupt that can
 * preempt a call. EDGEMNIST_PREPROCESS_ONLY builds it without edgemnist_predict_gray (no model needed).
 */
#ifndef EDGEMNIST_PREPROCESS_H_
#define EDGEMNIST_PREPROCESS_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef EDGEMNIST_PP_MAX_WIDTH
#define EDGEMNIST_PP_MAX_WIDTH 320
#endif
#ifndef EDGEMNIST_PP_MAX_HEIGHT
#define EDGEMNIST_PP_MAX_HEIGHT 320
#endif

/* The output: 28x28 uint8, row-major, white digit on black (the model's input). */
#define EDGEMNIST_PP_SIDE 28
#define EDGEMNIST_PP_OUTPUT_SIZE 784

/* Border frame of the largest image: ~5 % thick (k = max(1, min(w, h) / 20) pixels). */
#define EDGEMNIST_PP_MIN_SIDE_ (EDGEMNIST_PP_MAX_WIDTH < EDGEMNIST_PP_MAX_HEIGHT ? EDGEMNIST_PP_MAX_WIDTH : EDGEMNIST_PP_MAX_HEIGHT)
#define EDGEMNIST_PP_FRAME_K_ (EDGEMNIST_PP_MIN_SIDE_ / 20 > 1 ? EDGEMNIST_PP_MIN_SIDE_ / 20 : 1)
#define EDGEMNIST_PP_MAX_FRAME                                       \
  (EDGEMNIST_PP_MAX_WIDTH * EDGEMNIST_PP_MAX_HEIGHT -                \
   (EDGEMNIST_PP_MAX_WIDTH - 2 * EDGEMNIST_PP_FRAME_K_) * (EDGEMNIST_PP_MAX_HEIGHT - 2 * EDGEMNIST_PP_FRAME_K_))
/* The static buffers: 8 bytes per border pixel of the largest image (the medians) and a bit for each, 4 doubles
 * per row and per column, a double per column (one cropped row), 420 doubles (the 20x20 box and a row of it), and
 * the 784 pixels edgemnist_predict_gray hands to the model. */
#define EDGEMNIST_PP_STATIC_BYTES                                                                 \
  (8 * EDGEMNIST_PP_MAX_FRAME + (EDGEMNIST_PP_MAX_FRAME + 7) / 8 +                                \
   8 * 4 * (EDGEMNIST_PP_MAX_WIDTH + EDGEMNIST_PP_MAX_HEIGHT) + 8 * EDGEMNIST_PP_MAX_WIDTH + 8 * 420 + \
   EDGEMNIST_PP_OUTPUT_SIZE)

/* invert: like normalize_digit's invert=None/True/False. */
#define EDGEMNIST_PP_INVERT_AUTO (-1) /* decide from the image: dark ink on light paper is inverted */
#define EDGEMNIST_PP_INVERT_NEVER 0   /* the digit is lighter than its background */
#define EDGEMNIST_PP_INVERT_ALWAYS 1  /* the digit is darker than its background */

/* Return codes (edgemnist_predict_gray returns the digit 0-9 on success). */
#define EDGEMNIST_PP_OK 0
#define EDGEMNIST_PP_BAD_ARGUMENT (-1) /* a NULL pointer, width or height < 1, invert not one of the above */
#define EDGEMNIST_PP_TOO_LARGE (-2)    /* width > EDGEMNIST_PP_MAX_WIDTH or height > EDGEMNIST_PP_MAX_HEIGHT */
#define EDGEMNIST_PP_BLANK (-3)        /* no digit: nothing stands out from the background (normalize_digit's
                                          "no digit found"); out is left unchanged */

/* gray: width x height bytes, row-major (gray[y * width + x]), 0 = black, 255 = white, either polarity.
 * Writes the 784 bytes of out and returns EDGEMNIST_PP_OK, or one of the error codes above. */
int edgemnist_normalize_digit(int width, int height, const uint8_t *gray, int invert,
                              uint8_t out[EDGEMNIST_PP_OUTPUT_SIZE]);

#ifndef EDGEMNIST_PREPROCESS_ONLY
/* edgemnist_normalize_digit (invert decided from the image) then edgemnist_predict (edgemnist_model.h): writes
 * the 10 int8 scores (EDGEMNIST_OUTPUT_SIZE) and returns the digit, or an error code < 0 (scores unchanged). */
int edgemnist_predict_gray(int width, int height, const uint8_t *gray, int8_t *scores);
#endif

#ifdef __cplusplus
}
#endif

#endif /* EDGEMNIST_PREPROCESS_H_ */
