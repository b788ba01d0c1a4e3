/* sort: qsort of N pseudo-random ints through a comparison function pointer
 * (ascending, then again with a second comparator ordering by the low 16
 * bits), and N calls through a table of 8 function pointers chosen by the
 * data. Prints an FNV checksum of both sorted arrays and the accumulator.
 * Default N = 250000. */
#include "common.h"

static int cmp_asc(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}
static int cmp_low(const void *a, const void *b) {
    unsigned x = *(const unsigned *)a & 0xffff, y = *(const unsigned *)b & 0xffff;
    if (x != y) return (x > y) - (x < y);
    return cmp_asc(a, b);
}

typedef uint32_t (*op_fn)(uint32_t, uint32_t);
static uint32_t op_add(uint32_t a, uint32_t b) { return a + b; }
static uint32_t op_sub(uint32_t a, uint32_t b) { return a - b; }
static uint32_t op_xor(uint32_t a, uint32_t b) { return a ^ b; }
static uint32_t op_mul(uint32_t a, uint32_t b) { return a * (b | 1); }
static uint32_t op_rotl(uint32_t a, uint32_t b) { b &= 31; return (a << b) | (a >> ((32 - b) & 31)); }
static uint32_t op_min(uint32_t a, uint32_t b) { return (a < b ? a : b) + 0x9E3779B9u; }
static uint32_t op_div(uint32_t a, uint32_t b) { return a / ((b & 0xff) + 1) + b; }
static uint32_t op_shr(uint32_t a, uint32_t b) { return (a >> (b & 7)) ^ b; }
static op_fn volatile ops[8] = {op_add, op_sub, op_xor, op_mul, op_rotl, op_min, op_div, op_shr};

int main(int argc, char **argv) {
    long n = arg_size(argc, argv, 250000);
    int *a = malloc(sizeof(int) * n), *b = malloc(sizeof(int) * n);
    if (!a || !b) { fprintf(stderr, "out of memory\n"); return 1; }
    uint64_t s = 42;
    for (long i = 0; i < n; i++) a[i] = b[i] = (int)(uint32_t)rng_next(&s);
    qsort(a, (size_t)n, sizeof(int), cmp_asc);
    qsort(b, (size_t)n, sizeof(int), cmp_low);
    uint32_t acc = 1;
    for (long i = 0; i < n; i++) acc = ops[(uint32_t)a[i] >> 29 ^ (acc & 7)](acc, (uint32_t)b[i]);
    uint64_t h = MIX_INIT;
    for (long i = 0; i < n; i++) h = mix64(h, (uint64_t)(uint32_t)a[i] << 32 | (uint32_t)b[i]);
    printf("sort n=%ld min=%d max=%d acc=%08x checksum=%016llx\n", n, a[0], a[n - 1], acc, (unsigned long long)h);
    return 0;
}
