/* fib: naive doubly recursive Fibonacci of N (calls only, no memory).
 * Prints fib(N) mod 2^64. Default N = 38. */
#include "common.h"

__attribute__((noinline)) static uint64_t fib(uint32_t n) {
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

int main(int argc, char **argv) {
    long n = arg_size(argc, argv, 38);
    printf("fib n=%ld fib=%llu\n", n, (unsigned long long)fib((uint32_t)n));
    return 0;
}
