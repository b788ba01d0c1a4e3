/* sieve: sieve of Eratosthenes over the odd numbers below N (one byte per
 * odd number), then a second, segmented pass (64 KiB segments) that must
 * find the same primes. Prints the prime count, the largest prime and an
 * FNV checksum of the gaps between primes. Default N = 20000000. */
#include "common.h"

int main(int argc, char **argv) {
    long n = arg_size(argc, argv, 20000000);
    if (n < 3) n = 3;
    long half = n / 2; /* index i stands for 2i+1 */
    uint8_t *comp = calloc((size_t)half + 1, 1);
    if (!comp) { fprintf(stderr, "out of memory\n"); return 1; }
    for (long i = 1; (2 * i + 1) * (2 * i + 1) < n; i++)
        if (!comp[i])
            for (long j = (2 * i + 1) * (2 * i + 1) / 2; j < half; j += 2 * i + 1) comp[j] = 1;
    long count = 1, last = 2; /* 2 */
    uint64_t h = MIX_INIT;
    for (long i = 1; i < half; i++)
        if (!comp[i]) {
            long p = 2 * i + 1;
            h = mix64(h, (uint64_t)(p - last));
            last = p, count++;
        }
    /* Segmented: base primes up to sqrt(n), then 64 KiB windows. */
    enum { SEG = 65536 };
    static uint8_t seg[SEG];
    long count2 = 1, root = 1;
    while ((root + 1) * (root + 1) < n) root++;
    for (long lo = 3; lo < n; lo += 2 * SEG) {
        memset(seg, 0, SEG); /* seg[k] stands for lo + 2k */
        for (long p = 3; p <= root; p += 2) {
            if (comp[p / 2]) continue;
            long start = p * p;
            if (start < lo) start = lo + ((p - (lo % p)) % p);
            if ((start & 1) == 0) start += p;
            for (long m = start; m < lo + 2 * SEG && m < n; m += 2 * p) seg[(m - lo) / 2] = 1;
        }
        for (long k = 0; k < SEG && lo + 2 * k < n; k++) count2 += !seg[k];
    }
    printf("sieve n=%ld primes=%ld segmented=%ld last=%ld checksum=%016llx\n", n, count, count2, last, (unsigned long long)h);
    return count == count2 ? 0 : 1;
}
