//go:build ignore

/* recurse: unbounded non-tail recursion. Each frame keeps its state in wasm
 * locals (no shadow-stack traffic) and does work after the recursive call, so
 * the call can neither be turned into a loop nor removed. Without arguments it
 * recurses until the engine's (or crowdrun's) call-depth limit stops it.
 * "recurse N" recurses exactly N levels and prints "depth N ok". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

volatile uint32_t sink;
static uint32_t limit = 0; /* 0: no limit */

__attribute__((noinline)) static uint32_t down(uint32_t depth) {
    if (depth == limit) return depth;
    uint32_t r = down(depth + 1);
    sink = r;           /* side effect after the call: not a tail call */
    return r ^ (depth * 2654435761u) ^ (r >> 3);
}

int main(int argc, char **argv) {
    if (argc > 1) limit = (uint32_t)strtoul(argv[1], NULL, 10);
    puts("recursing");
    fflush(stdout);
    uint32_t r = down(1);
    printf("depth %u ok %u\n", limit, r);
    return 0;
}
