/* syrk: the lower triangle of C = 0.9·A·Aᵀ + 1.1·C, A N×N, C N×N
 * symmetric. medium N=180, large N=460. */
#include "linalg.h"

int main(int argc, char **argv) {
    long n = la_size(argc, argv, 180, 460);
    double *a = la_alloc(n * n), *c = la_alloc(n * n);
    la_fill(a, n * n, 51), la_fill(c, n * n, 52);
    for (long i = 0; i < n; i++) {
        for (long j = 0; j <= i; j++) c[i * n + j] *= 1.1;
        for (long k = 0; k < n; k++) {
            double aik = 0.9 * a[i * n + k];
            for (long j = 0; j <= i; j++) c[i * n + j] += aik * a[j * n + k];
        }
    }
    uint64_t h = MIX_INIT;
    for (long i = 0; i < n; i++) h = la_sum(h, c + i * n, i + 1);
    printf("syrk n=%ld trace=%.17g checksum=%016llx\n", n, la_trace(c, n), (unsigned long long)h);
    return 0;
}
