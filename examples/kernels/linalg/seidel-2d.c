/* seidel-2d: in-place 9-point Gauss-Seidel sweeps of an N×N double grid
 * (each point reads neighbours already updated in this sweep), N/4 sweeps.
 * medium N=170, large N=400. */
#include "linalg.h"

int main(int argc, char **argv) {
    long n = la_size(argc, argv, 170, 400), steps = n / 4;
    double *a = la_alloc(n * n);
    la_fill(a, n * n, 71);
    for (long t = 0; t < steps; t++)
        for (long i = 1; i < n - 1; i++) {
            double *up = a + (i - 1) * n, *row = a + i * n, *dn = a + (i + 1) * n;
            for (long j = 1; j < n - 1; j++)
                row[j] = (up[j - 1] + up[j] + up[j + 1] + row[j - 1] + row[j] + row[j + 1] + dn[j - 1] + dn[j] + dn[j + 1]) / 9.0;
        }
    printf("seidel-2d n=%ld steps=%ld mid=%.17g checksum=%016llx\n", n, steps, a[n / 2 * n + n / 2], (unsigned long long)la_sum(MIX_INIT, a, n * n));
    return 0;
}
