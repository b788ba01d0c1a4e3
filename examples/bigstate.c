//go:build ignore

// bigstate: a guest with a large heap that changes a little at a time, for
// measuring checkpoints: it fills SIZE MiB, then for ROUNDS rounds writes to
// TOUCH pages (64 KiB) spread over the heap, with some arithmetic between.
//
//   bigstate [SIZE_MIB [ROUNDS [TOUCH]]]   (defaults 64 100 16)
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 64;
    long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 100;
    long touch = argc > 3 ? strtol(argv[3], NULL, 10) : 16;
    if (mib <= 0 || mib > 3000 || rounds < 0 || touch < 0) {
        fprintf(stderr, "usage: bigstate [SIZE_MIB [ROUNDS [TOUCH]]]\n");
        return 64;
    }
    size_t n = (size_t)mib << 20;
    size_t pages = n >> 16;
    uint32_t *heap = malloc(n);
    if (!heap) {
        fprintf(stderr, "bigstate: out of memory\n");
        return 1;
    }
    uint64_t x = 88172645463325252ull;
    // One word in 16: every page different and non-zero, cheaply.
    for (size_t i = 0; i < n / 4; i += 16) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        heap[i] = (uint32_t)x;
    }
    uint64_t sum = 0;
    for (long r = 0; r < rounds; r++) {
        for (long t = 0; t < touch && pages > 0; t++) {
            size_t page = (size_t)(r * 7919 + t * (long)(pages / (touch ? touch : 1) + 1)) % pages;
            uint32_t *p = heap + page * 16384;
            for (int k = 0; k < 64; k++) p[k * 256] += (uint32_t)(r + k);
        }
        for (int k = 0; k < 20000; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            sum += x % 1000003;
        }
    }
    for (size_t i = 0; i < n / 4; i += 1024) sum += heap[i];
    printf("bigstate %ld MiB, %ld rounds, %ld pages each: %016llx\n", mib, rounds, touch, (unsigned long long)sum);
    return 0;
}
