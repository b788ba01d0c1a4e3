/* lu: in-place LU decomposition (Doolittle, no pivoting) of a diagonally
 * dominant N×N double matrix, then a forward and a back substitution.
 * medium N=200, large N=520. */
#include "linalg.h"

int main(int argc, char **argv) {
    long n = la_size(argc, argv, 200, 520);
    double *a = la_alloc(n * n), *x = la_alloc(n);
    la_fill(a, n * n, 81), la_fill(x, n, 82);
    for (long i = 0; i < n; i++) a[i * n + i] += (double)n;
    for (long k = 0; k < n; k++) {
        double piv = a[k * n + k];
        for (long i = k + 1; i < n; i++) {
            double l = a[i * n + k] / piv;
            a[i * n + k] = l;
            double *ai = a + i * n;
            const double *ak = a + k * n;
            for (long j = k + 1; j < n; j++) ai[j] -= l * ak[j];
        }
    }
    for (long i = 0; i < n; i++) /* L·z = x (unit diagonal) */
        for (long j = 0; j < i; j++) x[i] -= a[i * n + j] * x[j];
    for (long i = n - 1; i >= 0; i--) { /* U·y = z */
        for (long j = i + 1; j < n; j++) x[i] -= a[i * n + j] * x[j];
        x[i] /= a[i * n + i];
    }
    uint64_t h = la_sum(la_sum(MIX_INIT, a, n * n), x, n);
    printf("lu n=%ld trace=%.17g x0=%.17g checksum=%016llx\n", n, la_trace(a, n), x[0], (unsigned long long)h);
    return 0;
}
