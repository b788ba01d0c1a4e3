/* stencil: 2D 5-point Jacobi iteration on an N x N float grid with fixed
 * boundary values, 100 sweeps. Prints the grid sum and an FNV checksum of
 * the final grid's bits. Default N = 768. */
#include "common.h"

#define SWEEPS 100

int main(int argc, char **argv) {
    long n = arg_size(argc, argv, 768);
    if (n < 3) n = 3;
    float *u = malloc(sizeof(float) * n * n), *v = malloc(sizeof(float) * n * n);
    if (!u || !v) { fprintf(stderr, "out of memory\n"); return 1; }
    uint64_t s = 7;
    for (long i = 0; i < n; i++)
        for (long j = 0; j < n; j++) {
            float x;
            if (i == 0) x = 1.0f;
            else if (j == 0) x = 0.5f;
            else if (i == n - 1 || j == n - 1) x = 0.0f;
            else x = (float)(rng_next(&s) >> 40) / 16777216.0f;
            u[i * n + j] = v[i * n + j] = x;
        }
    for (int t = 0; t < SWEEPS; t++) {
        for (long i = 1; i < n - 1; i++)
            for (long j = 1; j < n - 1; j++)
                v[i * n + j] = 0.25f * (u[(i - 1) * n + j] + u[(i + 1) * n + j] + u[i * n + j - 1] + u[i * n + j + 1]);
        float *w = u; u = v; v = w;
    }
    double sum = 0;
    uint64_t h = MIX_INIT;
    for (long i = 0; i < n * n; i++) { sum += u[i]; h = mix64(h, fbits(u[i])); }
    printf("stencil n=%ld sweeps=%d sum=%.17g checksum=%016llx\n", n, SWEEPS, sum, (unsigned long long)h);
    return 0;
}
