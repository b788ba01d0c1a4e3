/* jacobi-2d: 5-point Jacobi relaxation on an N×N double grid, N/2 time
 * steps, ping-ponging two arrays. medium N=200, large N=480. */
#include "linalg.h"

int main(int argc, char **argv) {
    long n = la_size(argc, argv, 200, 480), steps = n / 2;
    double *a = la_alloc(n * n), *b = la_alloc(n * n);
    la_fill(a, n * n, 61);
    memcpy(b, a, sizeof(double) * (size_t)(n * n));
    for (long t = 0; t < steps; t++) {
        for (long i = 1; i < n - 1; i++)
            for (long j = 1; j < n - 1; j++)
                b[i * n + j] = 0.2 * (a[i * n + j] + a[i * n + j - 1] + a[i * n + j + 1] + a[(i - 1) * n + j] + a[(i + 1) * n + j]);
        double *tmp = a;
        a = b, b = tmp;
    }
    printf("jacobi-2d n=%ld steps=%ld mid=%.17g checksum=%016llx\n", n, steps, a[n / 2 * n + n / 2], (unsigned long long)la_sum(MIX_INIT, a, n * n));
    return 0;
}
