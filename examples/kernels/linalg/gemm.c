/* gemm: C = 1.5·A·B + 1.2·C for N×N doubles (i-k-j order). medium N=160,
 * large N=400. */
#include "linalg.h"

int main(int argc, char **argv) {
    long n = la_size(argc, argv, 160, 400);
    double *a = la_alloc(n * n), *b = la_alloc(n * n), *c = la_alloc(n * n);
    la_fill(a, n * n, 1), la_fill(b, n * n, 2), la_fill(c, n * n, 3);
    for (long i = 0; i < n; i++) {
        double *ci = c + i * n;
        for (long j = 0; j < n; j++) ci[j] *= 1.2;
        for (long k = 0; k < n; k++) {
            double aik = 1.5 * a[i * n + k];
            const double *bk = b + k * n;
            for (long j = 0; j < n; j++) ci[j] += aik * bk[j];
        }
    }
    printf("gemm n=%ld trace=%.17g checksum=%016llx\n", n, la_trace(c, n), (unsigned long long)la_sum(MIX_INIT, c, n * n));
    return 0;
}
