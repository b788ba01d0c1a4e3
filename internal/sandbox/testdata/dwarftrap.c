//go:build ignore

/* dwarftrap: a guest that traps, in a module that keeps its DWARF debug
 * information (.debug_info, .debug_line, ... custom sections, wasi-libc's
 * included) and its name section: what a user's `clang -g` build looks like.
 * Prints "about to trap: MODE" to stdout (flushed), then traps. MODE is
 * argv[1]: "div" (integer division by zero, the default) or "unreachable"
 * (__builtin_trap).
 *
 * dwarftrap.wasm is committed (tests need no compiler); build-dwarftrap.sh
 * rebuilds it.
 */
#include <stdio.h>
#include <string.h>

volatile int zero = 0, forty_two = 42;

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "div";
    printf("about to trap: %s\n", mode);
    fflush(stdout);
    int r = 0;
    if (strcmp(mode, "div") == 0) r = forty_two / zero;
    else if (strcmp(mode, "unreachable") == 0) __builtin_trap();
    else { fprintf(stderr, "unknown mode %s\n", mode); return 2; }
    printf("did not trap: %d\n", r);
    return 3;
}
