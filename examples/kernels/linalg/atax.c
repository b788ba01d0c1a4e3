/* atax: y = Aᵀ·(A·x) for an N×N matrix, repeated 8 times with x taken from
 * the previous y (scaled down). medium N=600, large N=1600. */
#include "linalg.h"

int main(int argc, char **argv) {
    long n = la_size(argc, argv, 600, 1600);
    double *a = la_alloc(n * n), *x = la_alloc(n), *y = la_alloc(n), *tmp = la_alloc(n);
    la_fill(a, n * n, 21), la_fill(x, n, 22);
    for (int rep = 0; rep < 8; rep++) {
        for (long j = 0; j < n; j++) y[j] = 0;
        for (long i = 0; i < n; i++) {
            const double *ai = a + i * n;
            double s = 0;
            for (long j = 0; j < n; j++) s += ai[j] * x[j];
            tmp[i] = s;
            for (long j = 0; j < n; j++) y[j] += ai[j] * s;
        }
        double m = 0;
        for (long j = 0; j < n; j++) m = y[j] > m ? y[j] : (-y[j] > m ? -y[j] : m);
        for (long j = 0; j < n; j++) x[j] = y[j] / (m + 1);
    }
    uint64_t h = la_sum(la_sum(MIX_INIT, tmp, n), y, n);
    printf("atax n=%ld y0=%.17g checksum=%016llx\n", n, y[0], (unsigned long long)h);
    return 0;
}
