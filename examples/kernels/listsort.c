/* listsort: pointer chasing. N nodes are allocated, then linked in a
 * pseudo-random order (so consecutive nodes are far apart in memory), and
 * the list is merge-sorted bottom-up by key, twice (by key, then by the key
 * reversed bitwise), relinking pointers only. Prints an FNV checksum of the
 * keys in list order. Default N = 400000. */
#include "common.h"

struct node { struct node *next; uint32_t key, rev; };

static uint32_t rev32(uint32_t x) {
    x = (x >> 16) | (x << 16);
    x = ((x >> 8) & 0x00ff00ff) | ((x & 0x00ff00ff) << 8);
    x = ((x >> 4) & 0x0f0f0f0f) | ((x & 0x0f0f0f0f) << 4);
    x = ((x >> 2) & 0x33333333) | ((x & 0x33333333) << 2);
    return ((x >> 1) & 0x55555555) | ((x & 0x55555555) << 1);
}

static int less(const struct node *a, const struct node *b, int byrev) {
    return byrev ? a->rev < b->rev : a->key < b->key;
}

/* Bottom-up merge sort of a singly linked list: merge runs of width 1, 2,
 * 4, ... by walking the list, until one run remains. */
static struct node *sort(struct node *list, int byrev) {
    for (long width = 1;; width *= 2) {
        struct node *p = list, *head = NULL, **tail = &head;
        long merges = 0;
        while (p) {
            merges++;
            struct node *q = p;
            long psize = 0;
            while (q && psize < width) q = q->next, psize++;
            long qsize = width;
            while (psize > 0 || (qsize > 0 && q)) {
                struct node *e;
                if (psize == 0) e = q, q = q->next, qsize--;
                else if (qsize == 0 || !q || !less(q, p, byrev)) e = p, p = p->next, psize--;
                else e = q, q = q->next, qsize--;
                *tail = e, tail = &e->next;
            }
            p = q;
        }
        *tail = NULL;
        list = head;
        if (merges <= 1) return list;
    }
}

int main(int argc, char **argv) {
    long n = arg_size(argc, argv, 400000);
    struct node *pool = malloc(sizeof(struct node) * (size_t)n);
    uint32_t *perm = malloc(sizeof(uint32_t) * (size_t)n);
    if (!pool || !perm) { fprintf(stderr, "out of memory\n"); return 1; }
    uint64_t s = 99;
    for (long i = 0; i < n; i++) perm[i] = (uint32_t)i;
    for (long i = n - 1; i > 0; i--) { /* Fisher-Yates */
        long j = (long)(rng_next(&s) % (uint64_t)(i + 1));
        uint32_t t = perm[i]; perm[i] = perm[j], perm[j] = t;
    }
    struct node *list = NULL;
    for (long i = 0; i < n; i++) {
        struct node *e = &pool[perm[i]];
        e->key = (uint32_t)rng_next(&s), e->rev = rev32(e->key);
        e->next = list, list = e;
    }
    list = sort(list, 0);
    uint64_t h = MIX_INIT;
    uint32_t first = list->key;
    for (struct node *e = list; e; e = e->next) h = mix64(h, e->key);
    list = sort(list, 1);
    for (struct node *e = list; e; e = e->next) h = mix64(h, e->key);
    printf("listsort n=%ld first=%08x checksum=%016llx\n", n, first, (unsigned long long)h);
    return 0;
}
