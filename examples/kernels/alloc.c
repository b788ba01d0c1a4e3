/* alloc: allocator churn. N rounds over a pool of 4096 slots: each round
 * frees a pseudo-random slot and mallocs a block of 8 B to 4 KiB (skewed
 * towards small) in its place, writes it, and every 64th round reallocs one
 * to twice its size; then a linked list of N/4 nodes is built and freed.
 * Prints an FNV checksum of what was read back. Default N = 2000000. */
#include "common.h"

#define SLOTS 4096

struct node { struct node *next; uint64_t v; };

int main(int argc, char **argv) {
    long n = arg_size(argc, argv, 2000000);
    static uint8_t *slot[SLOTS];
    static size_t len[SLOTS];
    uint64_t s = 7, h = MIX_INIT;
    for (long r = 0; r < n; r++) {
        uint64_t x = rng_next(&s);
        int k = (int)(x % SLOTS);
        if (slot[k]) {
            h = mix64(h, slot[k][len[k] - 1] ^ (uint64_t)len[k]);
            free(slot[k]);
        }
        size_t sz = (size_t)8 << ((x >> 16) % 10); /* 8 B .. 4 KiB */
        sz += (x >> 32) % sz;                      /* not only powers of two */
        uint8_t *p = malloc(sz);
        if (!p) { fprintf(stderr, "out of memory\n"); return 1; }
        p[0] = (uint8_t)x, p[sz / 2] = (uint8_t)(x >> 8), p[sz - 1] = (uint8_t)(x >> 24);
        slot[k] = p, len[k] = sz;
        if ((r & 63) == 63) {
            int j = (int)((x >> 40) % SLOTS);
            if (slot[j]) {
                uint8_t *q = realloc(slot[j], len[j] * 2);
                if (!q) { fprintf(stderr, "out of memory\n"); return 1; }
                q[len[j] * 2 - 1] = q[len[j] - 1];
                slot[j] = q, len[j] *= 2;
            }
        }
    }
    struct node *head = NULL;
    for (long i = 0; i < n / 4; i++) {
        struct node *e = malloc(sizeof *e);
        if (!e) { fprintf(stderr, "out of memory\n"); return 1; }
        e->v = rng_next(&s), e->next = head, head = e;
    }
    long nodes = 0;
    while (head) {
        struct node *next = head->next;
        h = mix64(h, head->v), nodes++;
        free(head);
        head = next;
    }
    size_t live = 0;
    for (int k = 0; k < SLOTS; k++)
        if (slot[k]) live += len[k], h = mix64(h, slot[k][0]), free(slot[k]);
    printf("alloc n=%ld nodes=%ld live=%zu checksum=%016llx\n", n, nodes, live, (unsigned long long)h);
    return 0;
}
