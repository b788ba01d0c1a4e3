//go:build ignore

/* wasitest: exercises the WASI host interface, one subcommand per run.
 *
 *   args          each argv element on its own line, argv[0] included
 *   env           each environment entry on its own line, in order
 *   cat [SIZE]    stdin to stdout with read(0, buf, SIZE) (default 7); then
 *                 "reads=N bytes=M" on stderr (N counts reads that returned
 *                 data, not the final 0-byte read)
 *   file PATH     prints the contents of PATH (open O_RDONLY + read)
 *   write PATH    tries open(PATH, O_WRONLY|O_CREAT|O_TRUNC); must fail in
 *                 the sandbox; if it succeeds prints "opened PATH for writing"
 *                 on stdout and exits 0
 *   ls DIR        the entries of DIR except "." and "..", sorted bytewise
 *   clock         "realtime NS" and "monotonic NS" lines, interleaved, 3 each
 *   random N      N bytes from getentropy() (256-byte calls) as lowercase hex
 *   exit CODE     exits with CODE
 *   stderr TEXT   writes TEXT and a newline to stderr
 *   sleep MS      "before NS", nanosleep(MS ms), "after NS" (CLOCK_MONOTONIC)
 *
 * Failures of file/write/ls print "error: <strerror(errno)> errno=<n>" on
 * stderr and exit 2. Usage errors exit 64.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int fail(void) {
    int e = errno;
    fflush(stdout);
    fprintf(stderr, "error: %s errno=%d\n", strerror(e), e);
    return 2;
}

static int usage(void) {
    fprintf(stderr, "usage: wasitest args|env|cat [SIZE]|file PATH|write PATH|ls DIR|clock|"
                    "random N|exit CODE|stderr TEXT|sleep MS\n");
    return 64;
}

static long long ns(clockid_t id) {
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0) return -1;
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmpstr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    if (argc < 2) return usage();
    const char *cmd = argv[1];

    if (strcmp(cmd, "args") == 0) {
        for (int i = 0; i < argc; i++) puts(argv[i]);
        return 0;
    }
    if (strcmp(cmd, "env") == 0) {
        for (char **e = environ; e && *e; e++) puts(*e);
        return 0;
    }
    if (strcmp(cmd, "cat") == 0) {
        long size = argc > 2 ? strtol(argv[2], NULL, 10) : 7;
        if (size <= 0) return usage();
        char *buf = malloc((size_t)size);
        if (!buf) return fail();
        long long reads = 0, bytes = 0;
        for (;;) {
            ssize_t n = read(0, buf, (size_t)size);
            if (n < 0) return fail();
            if (n == 0) break;
            reads++;
            bytes += n;
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(1, buf + off, (size_t)(n - off));
                if (w < 0) return fail();
                off += w;
            }
        }
        fprintf(stderr, "reads=%lld bytes=%lld\n", reads, bytes);
        return 0;
    }
    if (strcmp(cmd, "file") == 0) {
        if (argc < 3) return usage();
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0) return fail();
        char buf[4096];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, (size_t)n, stdout);
        if (n < 0) return fail();
        close(fd);
        return 0;
    }
    if (strcmp(cmd, "write") == 0) {
        if (argc < 3) return usage();
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) return fail();
        printf("opened %s for writing\n", argv[2]);
        close(fd);
        return 0;
    }
    if (strcmp(cmd, "ls") == 0) {
        if (argc < 3) return usage();
        DIR *d = opendir(argv[2]);
        if (!d) return fail();
        size_t n = 0, cap = 16;
        char **names = malloc(cap * sizeof *names);
        struct dirent *de;
        errno = 0;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            if (n == cap) names = realloc(names, (cap *= 2) * sizeof *names);
            names[n++] = strdup(de->d_name);
        }
        if (errno != 0) return fail();
        closedir(d);
        qsort(names, n, sizeof *names, cmpstr);
        for (size_t i = 0; i < n; i++) puts(names[i]);
        return 0;
    }
    if (strcmp(cmd, "clock") == 0) {
        for (int i = 0; i < 3; i++) {
            printf("realtime %lld\n", ns(CLOCK_REALTIME));
            printf("monotonic %lld\n", ns(CLOCK_MONOTONIC));
        }
        return 0;
    }
    if (strcmp(cmd, "random") == 0) {
        if (argc < 3) return usage();
        long n = strtol(argv[2], NULL, 10);
        if (n < 0) return usage();
        unsigned char buf[256];
        while (n > 0) {
            size_t k = n > 256 ? 256 : (size_t)n;
            if (getentropy(buf, k) != 0) return fail();
            for (size_t i = 0; i < k; i++) printf("%02x", buf[i]);
            n -= (long)k;
        }
        putchar('\n');
        return 0;
    }
    if (strcmp(cmd, "exit") == 0) {
        if (argc < 3) return usage();
        exit(atoi(argv[2]));
    }
    if (strcmp(cmd, "stderr") == 0) {
        if (argc < 3) return usage();
        fprintf(stderr, "%s\n", argv[2]);
        return 0;
    }
    if (strcmp(cmd, "sleep") == 0) {
        if (argc < 3) return usage();
        long ms = strtol(argv[2], NULL, 10);
        printf("before %lld\n", ns(CLOCK_MONOTONIC));
        struct timespec req = {ms / 1000, (ms % 1000) * 1000000L};
        if (nanosleep(&req, NULL) != 0) return fail();
        printf("after %lld\n", ns(CLOCK_MONOTONIC));
        return 0;
    }
    return usage();
}
