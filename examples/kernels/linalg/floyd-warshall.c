/* floyd-warshall: all-pairs shortest paths on a random directed graph of N
 * nodes (int32 weights 1..1000 on about half the edges, the rest absent).
 * medium N=180, large N=420. */
#include "linalg.h"

#define INF 0x3fffffff

int main(int argc, char **argv) {
    long n = la_size(argc, argv, 180, 420);
    int32_t *d = malloc(sizeof(int32_t) * (size_t)(n * n));
    if (!d) { fprintf(stderr, "out of memory\n"); return 1; }
    uint64_t s = 101;
    for (long i = 0; i < n; i++)
        for (long j = 0; j < n; j++) {
            uint64_t r = rng_next(&s);
            d[i * n + j] = i == j ? 0 : (r & 1) ? (int32_t)(r >> 33) % 1000 + 1 : INF;
        }
    for (long k = 0; k < n; k++) {
        const int32_t *dk = d + k * n;
        for (long i = 0; i < n; i++) {
            int32_t *di = d + i * n, dik = di[k];
            if (dik == INF) continue;
            for (long j = 0; j < n; j++) {
                int32_t v = dik + dk[j];
                if (v < di[j]) di[j] = v;
            }
        }
    }
    uint64_t h = MIX_INIT, total = 0;
    for (long i = 0; i < n * n; i++) h = mix64(h, (uint64_t)(uint32_t)d[i]), total += (uint64_t)d[i];
    printf("floyd-warshall n=%ld total=%llu checksum=%016llx\n", n, (unsigned long long)total, (unsigned long long)h);
    return 0;
}
