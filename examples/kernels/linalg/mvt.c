/* mvt: x1 += A·y1 and x2 += Aᵀ·y2 (a row-wise and a column-wise sweep of
 * the same N×N matrix), repeated 8 times. medium N=600, large N=1600. */
#include "linalg.h"

int main(int argc, char **argv) {
    long n = la_size(argc, argv, 600, 1600);
    double *a = la_alloc(n * n), *x1 = la_alloc(n), *x2 = la_alloc(n), *y1 = la_alloc(n), *y2 = la_alloc(n);
    la_fill(a, n * n, 41), la_fill(x1, n, 42), la_fill(x2, n, 43), la_fill(y1, n, 44), la_fill(y2, n, 45);
    for (int rep = 0; rep < 8; rep++) {
        for (long i = 0; i < n; i++) {
            double s = 0;
            for (long j = 0; j < n; j++) s += a[i * n + j] * y1[j];
            x1[i] += s;
        }
        for (long j = 0; j < n; j++) {
            double s = 0;
            for (long i = 0; i < n; i++) s += a[i * n + j] * y2[i];
            x2[j] += s;
        }
        for (long i = 0; i < n; i++) y1[i] = x2[i] * 0.01, y2[i] = x1[i] * 0.01;
    }
    uint64_t h = la_sum(la_sum(MIX_INIT, x1, n), x2, n);
    printf("mvt n=%ld x1=%.17g x2=%.17g checksum=%016llx\n", n, x1[0], x2[n - 1], (unsigned long long)h);
    return 0;
}
