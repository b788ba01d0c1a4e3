//go:build ignore

/* loop: prints "looping" and then spins forever. The loop body makes no
 * calls and touches no memory: a xorshift32 state lives in a local and the
 * volatile store behind "x == 0" never happens (xorshift never reaches 0 from
 * a non-zero seed), but the compiler cannot prove that, so it keeps the loop.
 * Only fuel limits or a timeout end it. */
#include <stdint.h>
#include <stdio.h>

volatile uint32_t seed = 2463534242u;
volatile uint32_t sink;

int main(void) {
    puts("looping");
    fflush(stdout);
    uint32_t x = seed;
    for (;;) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if (x == 0) sink = x;
    }
}
