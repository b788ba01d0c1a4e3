/* Shared helpers for the benchmark kernels: argument parsing, a portable
 * 64-bit PRNG and a checksum that does not depend on the engine. */
#ifndef KERNEL_COMMON_H
#define KERNEL_COMMON_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline long arg_size(int argc, char **argv, long def) {
    if (argc < 2) return def;
    char *end;
    long v = strtol(argv[1], &end, 10);
    if (*end != 0 || v <= 0) {
        fprintf(stderr, "usage: %s [SIZE]  (SIZE a positive integer, default %ld)\n", argv[0], def);
        exit(64);
    }
    return v;
}

/* SplitMix64 */
static inline uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* FNV-1a over 64-bit words */
static inline uint64_t mix64(uint64_t h, uint64_t v) {
    for (int i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 0x100000001B3ULL;
    }
    return h;
}
#define MIX_INIT 0xCBF29CE484222325ULL

static inline uint64_t dbits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
static inline uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
#endif
