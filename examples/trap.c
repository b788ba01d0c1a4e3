//go:build ignore

/* trap: prints "about to trap: MODE" to stdout (flushed), then traps.
 * MODE is argv[1]: "div" (integer division by zero, the default),
 * "overflow" (INT_MIN / -1), "unreachable" (__builtin_trap) or "oob"
 * (a load far outside linear memory). */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

volatile int zero = 0, minus_one = -1, int_min = INT_MIN, forty_two = 42;
volatile uintptr_t far_away = 0xFFFFFFF0u;

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "div";
    printf("about to trap: %s\n", mode);
    fflush(stdout);
    int r;
    if (strcmp(mode, "div") == 0) r = forty_two / zero;
    else if (strcmp(mode, "overflow") == 0) r = int_min / minus_one;
    else if (strcmp(mode, "unreachable") == 0) __builtin_trap();
    else if (strcmp(mode, "oob") == 0) r = *(volatile int *)far_away;
    else { fprintf(stderr, "unknown mode %s\n", mode); return 2; }
    printf("did not trap: %d\n", r);
    return 3;
}
