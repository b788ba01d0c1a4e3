//go:build ignore

/* membomb: mallocs 1 MiB chunks forever and writes to every 4 KiB of each,
 * printing "allocated N MiB" to stderr every 16 MiB. When malloc returns NULL
 * it prints "malloc failed at N MiB" to stderr and calls abort() (a trap). */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    for (unsigned long mib = 0;; mib++) {
        volatile char *p = malloc(1 << 20);
        if (p == NULL) {
            fprintf(stderr, "malloc failed at %lu MiB\n", mib);
            abort();
        }
        for (int i = 0; i < (1 << 20); i += 4096) p[i] = (char)(mib + i);
        if ((mib + 1) % 16 == 0) fprintf(stderr, "allocated %lu MiB\n", mib + 1);
    }
}
