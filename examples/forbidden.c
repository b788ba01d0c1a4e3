//go:build ignore

/* forbidden: imports env.socket_connect, which no sandbox offers, and calls
 * it. A correct host refuses the module before it runs (forbidden_import);
 * if it ever runs, it prints what the import returned. */
#include <stdio.h>

__attribute__((import_module("env"), import_name("socket_connect")))
int socket_connect(const char *host, int port);

int main(void) {
    puts("calling env.socket_connect");
    fflush(stdout);
    int r = socket_connect("example.com", 80);
    printf("socket_connect returned %d\n", r);
    return 0;
}
