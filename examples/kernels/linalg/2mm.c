/* 2mm: two chained products, T = A·B then D = 0.7·T·C + 1.3·D, all N×N
 * doubles (the second in i-j-k order, a dot product per element). medium
 * N=128, large N=320. */
#include "linalg.h"

int main(int argc, char **argv) {
    long n = la_size(argc, argv, 128, 320);
    double *a = la_alloc(n * n), *b = la_alloc(n * n), *c = la_alloc(n * n), *d = la_alloc(n * n), *t = la_alloc(n * n);
    la_fill(a, n * n, 11), la_fill(b, n * n, 12), la_fill(c, n * n, 13), la_fill(d, n * n, 14);
    for (long i = 0; i < n; i++) {
        for (long j = 0; j < n; j++) t[i * n + j] = 0;
        for (long k = 0; k < n; k++)
            for (long j = 0; j < n; j++) t[i * n + j] += a[i * n + k] * b[k * n + j];
    }
    for (long i = 0; i < n; i++)
        for (long j = 0; j < n; j++) {
            double s = 0;
            for (long k = 0; k < n; k++) s += t[i * n + k] * c[k * n + j];
            d[i * n + j] = 0.7 * s + 1.3 * d[i * n + j];
        }
    printf("2mm n=%ld trace=%.17g checksum=%016llx\n", n, la_trace(d, n), (unsigned long long)la_sum(MIX_INIT, d, n * n));
    return 0;
}
