//go:build ignore

/* echo: prints argv[1..] joined by spaces and a newline, then each
 * environment entry on its own line, then copies stdin to stdout. */
#include <stdio.h>

extern char **environ;

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (i > 1) putchar(' ');
        fputs(argv[i], stdout);
    }
    putchar('\n');
    for (char **e = environ; e && *e; e++) puts(*e);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
    return 0;
}
