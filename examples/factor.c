//go:build ignore

/* factor: prime factorisation by trial division, crowdrun's demo job.
 *
 * Reads whitespace-separated unsigned decimal integers (0 .. 2^63) from stdin
 * and prints one line per number: "N: p1 p2 ..." (prime factors ascending,
 * with repetition; "0:" and "1:" have none). Trial division by 2, 3, then
 * 6k-1 and 6k+1. A token that is not a number goes to stderr as
 * "error: not a number: TOKEN", one above 2^63 as "error: too large: TOKEN";
 * the run continues and exits with 1 at the end. Empty input: no output, 0.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAXTOK 64 /* longer tokens are shown truncated, followed by "..." */

static void factor(uint64_t n) {
    printf("%llu:", (unsigned long long)n);
    if (n >= 2) {
        while (n % 2 == 0) { printf(" 2"); n /= 2; }
        while (n % 3 == 0) { printf(" 3"); n /= 3; }
        for (uint64_t i = 5; i <= n / i; i += 6) {
            while (n % i == 0) { printf(" %llu", (unsigned long long)i); n /= i; }
            uint64_t j = i + 2;
            while (n % j == 0) { printf(" %llu", (unsigned long long)j); n /= j; }
        }
        if (n > 1) printf(" %llu", (unsigned long long)n);
    }
    printf("\n");
}

int main(void) {
    char tok[MAXTOK + 1];
    int status = 0;
    int c = getchar();
    for (;;) {
        while (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') c = getchar();
        if (c == EOF) break;
        size_t len = 0, total = 0;
        int digits = 1, overflow = 0;
        uint64_t v = 0;
        while (c != EOF && !(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')) {
            if (len < MAXTOK) tok[len++] = (char)c;
            total++;
            if (c >= '0' && c <= '9') {
                uint64_t d = (uint64_t)(c - '0');
                if (v > (UINT64_C(1) << 63) / 10 || v * 10 + d > (UINT64_C(1) << 63)) overflow = 1;
                else v = v * 10 + d;
            } else {
                digits = 0;
            }
            c = getchar();
        }
        tok[len] = 0;
        const char *more = total > len ? "..." : "";
        if (!digits) {
            fflush(stdout);
            fprintf(stderr, "error: not a number: %s%s\n", tok, more);
            status = 1;
        } else if (overflow) {
            fflush(stdout);
            fprintf(stderr, "error: too large: %s%s\n", tok, more);
            status = 1;
        } else {
            factor(v);
        }
    }
    fflush(stdout);
    return status;
}
