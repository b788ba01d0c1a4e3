/* matmul: C = A x B for N x N double matrices (i-k-j loop order), entries
 * generated from a fixed PRNG. Prints the trace, the sum of C and an FNV
 * checksum of every element's bits. Default N = 500. */
#include "common.h"

int main(int argc, char **argv) {
    long n = arg_size(argc, argv, 500);
    double *a = malloc(sizeof(double) * n * n), *b = malloc(sizeof(double) * n * n),
           *c = calloc((size_t)(n * n), sizeof(double));
    if (!a || !b || !c) { fprintf(stderr, "out of memory\n"); return 1; }
    uint64_t s = 1;
    for (long i = 0; i < n * n; i++) a[i] = (double)(rng_next(&s) >> 11) / 9007199254740992.0 - 0.5;
    for (long i = 0; i < n * n; i++) b[i] = (double)(rng_next(&s) >> 11) / 9007199254740992.0 - 0.5;
    for (long i = 0; i < n; i++)
        for (long k = 0; k < n; k++) {
            double aik = a[i * n + k];
            for (long j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
        }
    double trace = 0, sum = 0;
    uint64_t h = MIX_INIT;
    for (long i = 0; i < n; i++) trace += c[i * n + i];
    for (long i = 0; i < n * n; i++) { sum += c[i]; h = mix64(h, dbits(c[i])); }
    printf("matmul n=%ld trace=%.17g sum=%.17g checksum=%016llx\n", n, trace, sum, (unsigned long long)h);
    return 0;
}
