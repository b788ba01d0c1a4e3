/* memops: memset/memcpy/memmove over two N MiB buffers: 16 rounds of
 * fills, block copies of varying sizes and overlapping moves in both
 * directions, then an FNV checksum of both buffers. Built twice:
 * memops.wasm (MVP: libc's loops) and memops-bulk.wasm (-mbulk-memory:
 * memory.copy / memory.fill). Default N = 16. */
#include "common.h"

int main(int argc, char **argv) {
    long mib = arg_size(argc, argv, 16);
    size_t n = (size_t)mib << 20;
    uint8_t *a = malloc(n), *b = malloc(n);
    if (!a || !b) { fprintf(stderr, "out of memory\n"); return 1; }
    uint64_t s = 5;
    memset(a, 0x5a, n);
    for (size_t i = 0; i < n; i += 4096) a[i] = (uint8_t)rng_next(&s);
    memcpy(b, a, n);
    for (int round = 0; round < 16; round++) {
        uint64_t r = rng_next(&s);
        memset(b + (r % (n / 2)), round, (size_t)((r >> 32) % (n / 4)));
        size_t blk = (size_t)16 << (round % 12); /* 16 B .. 32 KiB */
        size_t off = (size_t)((r >> 20) % (n / 2));
        for (size_t p = 0; p + blk <= n / 2; p += blk * 2) memcpy(a + p, b + ((p + off) % (n / 2)), blk);
        size_t shift = 1 + (r >> 40) % 4093;
        memmove(a + shift, a, n - shift);  /* forward overlap */
        memmove(b, b + shift, n - shift);  /* backward overlap */
        memcpy(b + n / 2, a, n / 2);
        a[r % n] ^= (uint8_t)round;
    }
    uint64_t h = MIX_INIT;
    const uint64_t *wa = (const uint64_t *)a, *wb = (const uint64_t *)b;
    for (size_t i = 0; i < n / 8; i += 8) { h = mix64(h, wa[i]); h = mix64(h, wb[i]); }
    printf("memops mib=%ld checksum=%016llx\n", mib, (unsigned long long)h);
    return 0;
}
