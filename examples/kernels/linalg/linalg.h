/* Shared helpers for the dense linear-algebra and stencil kernels of
 * kernels/linalg/ (in the manner of PolyBench/C; written for crowdrun, not
 * derived from its code). Each kernel takes its size as argv[1]: "medium"
 * (the default), "large", or a positive integer N; the kernel's own comment
 * says what N is. Every kernel prints one line ending in an FNV-1a checksum
 * of the bits of its result, the same on every engine (-ffp-contract=off:
 * no fused multiply-add). */
#ifndef LINALG_H
#define LINALG_H
#include "../common.h"

static inline long la_size(int argc, char **argv, long medium, long large) {
    if (argc < 2 || strcmp(argv[1], "medium") == 0) return medium;
    if (strcmp(argv[1], "large") == 0) return large;
    return arg_size(argc, argv, medium);
}

/* A uniform double in [-0.5, 0.5). */
static inline double la_rand(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1p-53 - 0.5; }

static inline double *la_alloc(long n) {
    double *p = malloc(sizeof(double) * (size_t)n);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    return p;
}

static inline void la_fill(double *a, long n, uint64_t seed) {
    for (long i = 0; i < n; i++) a[i] = la_rand(&seed);
}

static inline uint64_t la_sum(uint64_t h, const double *a, long n) {
    for (long i = 0; i < n; i++) h = mix64(h, dbits(a[i]));
    return h;
}

static inline double la_trace(const double *a, long n) {
    double t = 0;
    for (long i = 0; i < n; i++) t += a[i * n + i];
    return t;
}
#endif
