/* heat-3d: explicit 7-point heat equation on an N×N×N double grid, N/2 time
 * steps between two arrays. medium N=48, large N=96. */
#include "linalg.h"

int main(int argc, char **argv) {
    long n = la_size(argc, argv, 48, 96), steps = n / 2, nn = n * n;
    double *a = la_alloc(nn * n), *b = la_alloc(nn * n);
    la_fill(a, nn * n, 111);
    memcpy(b, a, sizeof(double) * (size_t)(nn * n));
    for (long t = 0; t < steps; t++) {
        for (long i = 1; i < n - 1; i++)
            for (long j = 1; j < n - 1; j++)
                for (long k = 1; k < n - 1; k++) {
                    long p = i * nn + j * n + k;
                    b[p] = a[p] + 0.125 * (a[p - nn] + a[p + nn] + a[p - n] + a[p + n] + a[p - 1] + a[p + 1] - 6.0 * a[p]);
                }
        double *tmp = a;
        a = b, b = tmp;
    }
    long mid = n / 2 * nn + n / 2 * n + n / 2;
    printf("heat-3d n=%ld steps=%ld mid=%.17g checksum=%016llx\n", n, steps, a[mid], (unsigned long long)la_sum(MIX_INIT, a, nn * n));
    return 0;
}
