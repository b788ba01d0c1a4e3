/* bicg: the two products of a BiCG step, s = Aᵀ·r and q = A·p, for an N×N
 * matrix, repeated 8 times feeding s and q back as p and r. medium N=600,
 * large N=1600. */
#include "linalg.h"

int main(int argc, char **argv) {
    long n = la_size(argc, argv, 600, 1600);
    double *a = la_alloc(n * n), *p = la_alloc(n), *r = la_alloc(n), *s = la_alloc(n), *q = la_alloc(n);
    la_fill(a, n * n, 31), la_fill(p, n, 32), la_fill(r, n, 33);
    for (int rep = 0; rep < 8; rep++) {
        for (long j = 0; j < n; j++) s[j] = 0;
        for (long i = 0; i < n; i++) {
            const double *ai = a + i * n;
            double acc = 0, ri = r[i];
            for (long j = 0; j < n; j++) {
                s[j] += ri * ai[j];
                acc += ai[j] * p[j];
            }
            q[i] = acc;
        }
        for (long j = 0; j < n; j++) p[j] = s[j] * 0.03125, r[j] = q[j] * 0.03125;
    }
    uint64_t h = la_sum(la_sum(MIX_INIT, s, n), q, n);
    printf("bicg n=%ld s0=%.17g q0=%.17g checksum=%016llx\n", n, s[0], q[0], (unsigned long long)h);
    return 0;
}
