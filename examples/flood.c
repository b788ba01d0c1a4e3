//go:build ignore

/* flood: writes "flood N" lines to stdout forever (N counts from 0). */
#include <stdio.h>

int main(void) {
    for (unsigned long long n = 0;; n++) printf("flood %llu\n", n);
}
