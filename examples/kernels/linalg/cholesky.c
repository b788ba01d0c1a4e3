/* cholesky: the lower factor L of A = L·Lᵀ for a symmetric, diagonally
 * dominant (so positive definite) N×N double matrix, in place, row by row;
 * sqrt per diagonal element. medium N=240, large N=640. */
#include <math.h>
#include "linalg.h"

int main(int argc, char **argv) {
    long n = la_size(argc, argv, 240, 640);
    double *a = la_alloc(n * n);
    uint64_t s = 91;
    for (long i = 0; i < n; i++)
        for (long j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = la_rand(&s);
    for (long i = 0; i < n; i++) a[i * n + i] += (double)n;
    for (long i = 0; i < n; i++) {
        double *ai = a + i * n;
        for (long j = 0; j < i; j++) {
            const double *aj = a + j * n;
            double v = ai[j];
            for (long k = 0; k < j; k++) v -= ai[k] * aj[k];
            ai[j] = v / aj[j];
        }
        double d = ai[i];
        for (long k = 0; k < i; k++) d -= ai[k] * ai[k];
        ai[i] = sqrt(d);
    }
    uint64_t h = MIX_INIT;
    for (long i = 0; i < n; i++) h = la_sum(h, a + i * n, i + 1);
    printf("cholesky n=%ld trace=%.17g checksum=%016llx\n", n, la_trace(a, n), (unsigned long long)h);
    return 0;
}
