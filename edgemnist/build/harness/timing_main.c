/* The bare C loop `edgemnist bench` times beside the Predictor: edgemnist_predict on each image, no Python.
 *
 *   timing_main IMAGES WARMUP
 *
 * IMAGES: a file of N x 784 uint8 pixels (N <= MAX_IMAGES). WARMUP untimed calls first (cycling through the
 * images), then each image once, timed alone with clock_gettime(CLOCK_MONOTONIC). Prints one line per image,
 * "<nanoseconds> <label>", and exits 0; on bad arguments or input prints one line on stderr and exits 2. */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "edgemnist_model.h"

#define MAX_IMAGES 10000

static uint8_t pixels[MAX_IMAGES][EDGEMNIST_INPUT_SIZE];
static long long elapsed[MAX_IMAGES];
static int labels[MAX_IMAGES];

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    FILE *f;
    size_t n, i;
    long warmup, w;
    char *end;
    int8_t scores[EDGEMNIST_OUTPUT_SIZE];
    if (argc != 3) {
        fputs("usage: timing_main IMAGES WARMUP\n", stderr);
        return 2;
    }
    warmup = strtol(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || warmup < 0) {
        fputs("error: WARMUP must be a non-negative integer\n", stderr);
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (f == NULL) {
        fputs("error: cannot open the images file\n", stderr);
        return 2;
    }
    n = fread(pixels, EDGEMNIST_INPUT_SIZE, MAX_IMAGES, f);
    fclose(f);
    if (n == 0) {
        fputs("error: the images file holds no whole image\n", stderr);
        return 2;
    }
    for (w = 0; w < warmup; w++) {
        labels[(size_t)w % n] = edgemnist_predict(pixels[(size_t)w % n], scores);
    }
    for (i = 0; i < n; i++) {
        long long t0 = now_ns();
        labels[i] = edgemnist_predict(pixels[i], scores);
        elapsed[i] = now_ns() - t0;
    }
    for (i = 0; i < n; i++) {
        printf("%lld %d\n", elapsed[i], labels[i]);
    }
    return 0;
}
